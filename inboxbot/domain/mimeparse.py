"""Raw bytes into the email package's ``Message``, without reading a single-part body line by line.

The email package's parser reads a whole message one line at a time in Python, and
for a message that is neither multipart nor ``message/*`` it then joins every body
line back into the payload: the rest of the text after the header block, unchanged.
On a long plain or HTML message that loop is most of the parse.

Here the text up to the first blank line, which holds the whole header section, goes
through the email package on its own. When the message turns out to be single-part,
its payload is whatever of that text the parser put in the body, then the rest of the
text as one slice. Anything else (multipart, ``message/*``, no blank line) is parsed by
the email package in full. Either way the result is the
``Message`` that ``email.message_from_bytes`` builds, defects included; the tests
hold the two to that over the corpus and over generated malformed mail.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import BytesParser, Parser
from email.policy import compat32

_READ_IN_FULL = frozenset({"multipart", "message"})


def message_from_bytes(raw: bytes) -> Message:
    """What ``email.message_from_bytes(raw)`` gives (compat32 policy), built faster."""
    # Decoding keeps one character per byte, so offsets in ``raw`` are offsets in ``text``.
    text = raw.decode("ascii", errors="surrogateescape")
    head_end = after_blank_line(raw)
    if head_end is None:  # no blank line: the header parse would read the whole text anyway
        return _parse_in_full(text)
    head_text = text[:head_end]
    lowered = head_text.lower()
    if "multipart/" in lowered or "message/" in lowered:
        # Likely multipart or message/*: read it in full at once rather than twice. This only
        # saves time; the type the header parse finds, below, is what counts.
        return _parse_in_full(text)
    message = header_message(raw[:head_end])
    if message.get_content_maintype() in _READ_IN_FULL:
        return _parse_in_full(text)
    # For any other type the parser makes the payload of every line after the header section,
    # joined as they were: what the head's parse left as its body, then the rest of the text.
    body = text[head_end:]
    # Read as stored: get_payload() would turn undecodable bytes into replacement characters.
    in_head: str = getattr(message, "_payload", "") or ""
    message.set_payload(f"{in_head}{body}" if in_head else body)
    return message


# A line the email package reads as a header line (or the continuation of one).
_HEADER_LINE = re.compile(r"[\041-\071\073-\176]+:|[\t ]")
# Characters str.splitlines breaks lines at and the email package does not.
_ODD_BREAKS = re.compile(r"[\x0b\x0c\x1c-\x1e]")


def header_message(head: bytes) -> Message:
    """The headers of ``head`` (a header block) as the email package parses them (compat32).

    The package reads the block a line at a time through a general-purpose buffer;
    ordinary headers (ASCII, every line a header or a continuation, nothing before the
    first header) are split here directly and given to the message as the package would
    give them. Anything else is parsed by it.
    """
    text = head.decode("ascii", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    if lines and lines[-1].strip("\r\n") == "":
        lines.pop()  # the blank line that ends the block
    if not head.isascii() or _ODD_BREAKS.search(text) or not lines or lines[0][0] in " \t":
        return BytesParser(policy=compat32).parsebytes(head, headersonly=True)
    message = Message(policy=compat32)
    field: list[str] = []
    for line in lines:
        if _HEADER_LINE.match(line) is None:  # a defect: the body starts early, or "From ", or ":x"
            return BytesParser(policy=compat32).parsebytes(head, headersonly=True)
        if line[0] in " \t":
            field.append(line)
            continue
        if field:
            message.set_raw(*compat32.header_source_parse(field))
        field = [line]
    message.set_raw(*compat32.header_source_parse(field))
    return message


def after_blank_line(raw: bytes) -> int | None:
    """Where the first blank line written as \\n\\n or \\r\\n\\r\\n ends, if there is one.

    The parser's header section ends at the first line that is not a header line, and a
    blank line is never one; so every header line, and the blank line that may close the
    section, lie before this point, and it falls between two lines (the parser splits on
    \\r\\n, \\r and \\n). Lines written otherwise are rare enough to leave to the parser.
    """
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n", 0, crlf + 2) if crlf != -1 else raw.find(b"\n\n")
    if lf != -1:
        return lf + 2
    return crlf + 4 if crlf != -1 else None


def _parse_in_full(text: str) -> Message:
    return Parser(policy=compat32).parsestr(text)
