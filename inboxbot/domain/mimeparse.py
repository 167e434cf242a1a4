"""Raw bytes into the email package's ``Message``, without reading every body line in Python.

The email package's parser reads a whole message one line at a time in Python. For a
message that is neither multipart nor ``message/*`` it then joins every body line back
into the payload: the rest of the text after the header block, unchanged. For a
multipart message it looks for boundary lines, line by line, through a base64
attachment of thousands of lines. On long mail those loops are most of the parse.

Here the header section is split directly when it is ordinary (see header_message),
and a single-part payload is the rest of the text as one slice. A multipart message is
cut at its boundary lines, found with ``str.find``, and each part is read the same way
(a nested multipart, a ``message/*`` part holding a forwarded message or a read
receipt, a delivery status's blocks of fields, in turn); the preamble, epilogue and
line breaks around the boundaries are trimmed as the package trims them. Anything
unusual (a missing boundary, doubled boundary lines) is parsed by the email package in
full. Either way the result is the ``Message`` that ``email.message_from_bytes``
builds, defects included; the tests hold the two to that over the corpus and over
generated malformed mail.
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import Parser
from email.policy import compat32
from itertools import pairwise

from inboxbot.domain import headers


def message_from_bytes(raw: bytes) -> Message:
    """What ``email.message_from_bytes(raw)`` gives (compat32 policy), built faster."""
    # Decoding keeps one character per byte, so offsets in ``raw`` are offsets in ``text``.
    text = raw.decode("ascii", errors="surrogateescape")
    return _message(text) or _parse_in_full(text)


def _message(text: str) -> Message | None:
    """``text`` parsed as a message, or as one part of a multipart, or as the message a
    ``message/*`` part holds: the package parses all three alike. None when anything about
    it is unusual enough to leave the whole message to the package."""
    head_end = after_blank_line(text)
    if head_end is None:
        # No blank line: the header parse reads every line, and any that is not a header
        # starts the body (a part with nothing after its headers has an empty body).
        head, body = text, ""
    else:
        head, body = text[:head_end], text[head_end:]
    message = _headers(head)
    # What the header parse took for the start of the body: it came upon a line that is not
    # a header before the blank line.
    in_head: str = getattr(message, "_payload", "") or ""
    ctype = headers.content_type(message)
    maintype = ctype.partition("/")[0]
    if maintype == "multipart":
        return None if head_end is None else _multipart(message, text, head_end)
    if maintype == "message":
        # The body is another message (a delivery status: blocks of fields), from the line
        # where the header parse stopped.
        rest = f"{in_head}{body}" if in_head else body
        if ctype == "message/delivery-status":
            inner = _field_blocks(rest)
        else:
            one = _message(rest)
            inner = None if one is None else [one]
        if inner is None:
            return None
        # In place of any text the header parse left as the body: it starts the inner message.
        message.set_payload(inner)
        return message
    # For any other type the parser makes the payload of every line after the header section,
    # joined as they were: what the head's parse left as its body, then the rest of the text.
    # Read as stored: get_payload() would turn undecodable bytes into replacement characters.
    message.set_payload(f"{in_head}{body}" if in_head else body)
    return message


# A line break that a blank line follows (the first break whole: \r\n is one break).
_BEFORE_BLANK_LINE = re.compile(r"(?>\r\n|\r|\n)(?=[\r\n])")


def _field_blocks(text: str) -> list[Message | str] | None:
    """The body of a ``message/delivery-status`` part as the package reads it: a message for
    each block of lines up to a blank line (fields, then any other lines as its body), one
    more for each further blank line. None for a block that says it is multipart or
    ``message/*``."""
    blocks: list[Message | str] = []
    at = 0
    while True:
        if text.startswith(("\r", "\n"), at):
            blank: int | None = at
        else:
            found = _BEFORE_BLANK_LINE.search(text, at)
            blank = None if found is None else found.end()
        block = _headers(text[at:blank])
        if headers.content_type(block).partition("/")[0] in ("multipart", "message"):
            return None
        block.set_payload(getattr(block, "_payload", "") or "")
        blocks.append(block)
        if blank is None:
            return blocks
        at = blank + (2 if text.startswith("\r\n", blank) else 1)  # past the blank line
        if at == len(text):
            return blocks


# The email package's own pattern (email.feedparser) for the rest of a boundary line.
_BOUNDARY_END = re.compile(r"(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$")


def _without_last_line_break(text: str) -> str:
    """``text`` less one line break at its end, as the package's ``(\\r\\n|\\r|\\n)\\Z`` removes it
    (that regex is tried at every character of a long attachment)."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\r", "\n")) else text


def _multipart(message: Message, text: str, head_end: int) -> Message | None:
    """The multipart ``message`` with its parts read from ``text``; None when anything about it
    is unusual enough to leave to the email package."""
    if message.defects or getattr(message, "_payload", None):
        return None  # the header section did not end at the blank line
    boundary = message.get_boundary()
    if not boundary or "\r" in boundary or "\n" in boundary:
        return None
    if headers.content_type(message) == "multipart/digest":
        return None  # a digest's parts default to message/rfc822
    encoding = headers.first(message, "content-transfer-encoding")
    if ("8bit" if encoding is None else encoding).lower() not in ("7bit", "8bit", "binary"):
        return None  # a defect the package notes
    body = text[head_end:]
    lines = _boundary_lines(body, "--" + boundary)
    # Every boundary but the last must open a part, and the last must close the message.
    if len(lines) < 2 or not lines[-1][2]:
        return None  # no part, or no closing boundary: defects the package notes
    if any(end == start for (_, end, _), (start, _, _) in pairwise(lines)):
        return None  # doubled boundary lines: the package skips them
    preamble = body[: lines[0][0]]
    if preamble:  # the line break before a boundary belongs to the boundary
        message.preamble = _without_last_line_break(preamble)
    for (_, part_start, _), (part_end, _, _) in pairwise(lines):
        # No line in a part is a boundary line of this multipart (they were all found), so a
        # part's own parts end where its text does, as they end at the boundary in the package.
        part = _message(body[part_start:part_end])
        if part is None:
            return None
        _line_break_to_boundary(part)
        message.attach(part)
    message.epilogue = body[lines[-1][1] :]
    return message


def _line_break_to_boundary(part: Message) -> None:
    """Take off the line break before the boundary that ends ``part``: it belongs to the
    boundary (RFC 2046). The package takes it off the last message it made within the part,
    from its payload, or from its epilogue when that message is a multipart."""
    last = part
    while (maintype := headers.content_type(last).partition("/")[0]) == "message":
        inner = getattr(last, "_payload", None)
        if not isinstance(inner, list) or not inner:
            break
        last = inner[-1]
    if maintype == "multipart":
        epilogue = last.epilogue
        if epilogue is not None:
            last.epilogue = _without_last_line_break(epilogue) if epilogue else None
        return
    payload = getattr(last, "_payload", None)
    if isinstance(payload, str):
        last.set_payload(_without_last_line_break(payload))


def _boundary_lines(body: str, separator: str) -> list[tuple[int, int, bool]]:
    """(start, end, closes) of each line the email package takes for a boundary, up to and
    including the first closing one."""
    found: list[tuple[int, int, bool]] = []
    at = body.find(separator)
    while at != -1:
        if at == 0 or body[at - 1] in "\r\n":  # a boundary is a whole line: \r\n, \r or \n end one
            newline = body.find("\n", at)
            carriage = body.find("\r", at, newline if newline != -1 else len(body))
            if carriage != -1:
                end = carriage + 2 if body.startswith("\r\n", carriage) else carriage + 1
            else:
                end = newline + 1 if newline != -1 else len(body)
            match = _BOUNDARY_END.match(body[at:end], len(separator))
            if match is not None:
                closes = bool(match.group("end"))
                found.append((at, end, closes))
                if closes:
                    return found
            at = end
        else:
            at += 1
        at = body.find(separator, at)
    return found


# One header field as the email package's compat32 policy stores it: the name, and the value
# from after the colon and its blanks to the end of the field's last line, continuation lines
# (those starting with a space or a tab) and the line breaks between them included.
_FIELD = re.compile(
    r"([\041-\071\073-\176]+):[ \t]*([^\r\n]*(?:(?:\r\n|\r|\n)[ \t][^\r\n]*)*)(?:\r\n|\r|\n|\Z)"
)
# Characters str.splitlines breaks lines at and the email package does not.
_ODD_BREAKS = re.compile(r"[\x0b\x0c\x1c-\x1e]")
# What may follow the last field: the blank line that ends the block, or nothing.
_BLOCK_ENDS = frozenset({"", "\n", "\r", "\r\n"})


def header_message(head: bytes) -> Message:
    """The headers of ``head`` (a header block) as the email package parses them (compat32).

    The package reads the block a line at a time through a general-purpose buffer;
    ordinary headers (ASCII, every line a header or a continuation, nothing before the
    first header) are split here directly and given to the message as the package would
    give them. Anything else is parsed by it.
    """
    return _headers(head.decode("ascii", errors="surrogateescape"))


def _headers(text: str) -> Message:
    """The header block ``text`` as a message with no payload. The header table
    (:func:`headers.table`) is filled in on the way, as every question about the
    message reads it."""
    if not text.isascii() or _ODD_BREAKS.search(text):
        return _parse_headers(text)
    message = Message(policy=compat32)
    found: headers.Table = {}
    at = 0
    for field in _FIELD.finditer(text):
        if field.start() != at:  # a line that is neither a field nor a continuation: a defect
            return _parse_headers(text)
        name, value = field.groups()
        message.set_raw(name, value)
        found.setdefault(name.lower(), []).append(value)
        at = field.end()
    if at == 0 or text[at:] not in _BLOCK_ENDS:  # no field, or a line after the fields
        return _parse_headers(text)
    headers.keep_table(message, found)
    return message


def _parse_headers(text: str) -> Message:
    return Parser(policy=compat32).parsestr(text, headersonly=True)


def after_blank_line(raw: bytes | str) -> int | None:
    """Where the first blank line written as \\n\\n or \\r\\n\\r\\n ends, if there is one.

    The parser's header section ends at the first line that is not a header line, and a
    blank line is never one; so every header line, and the blank line that may close the
    section, lie before this point, and it falls between two lines (the parser splits on
    \\r\\n, \\r and \\n). Lines written otherwise are rare enough to leave to the parser.
    """
    if isinstance(raw, str):
        crlf = raw.find("\r\n\r\n")
        lf = raw.find("\n\n", 0, crlf + 2) if crlf != -1 else raw.find("\n\n")
    else:
        crlf = raw.find(b"\r\n\r\n")
        lf = raw.find(b"\n\n", 0, crlf + 2) if crlf != -1 else raw.find(b"\n\n")
    if lf != -1:
        return lf + 2
    return crlf + 4 if crlf != -1 else None


def _parse_in_full(text: str) -> Message:
    return Parser(policy=compat32).parsestr(text)
