"""Turning a raw email into the text a person would read.

Pure and forgiving: any charset, HTML-only bodies, forwarded messages (inline
and as message/rfc822 attachments), attachment names and the text of PDF
attachments. The body is split into the newest part (what this email says),
forwarded parts (what the forwarder passed on, which is what the email is
about) and the quoted history, which is never classified because older
messages in a thread are often of another kind. Signatures and legal
disclaimers are cut off the newest part: they are full of phone numbers,
"confidential" and "decision" that mislead.
"""

from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.utils import parseaddr

from inboxbot.domain import headers
from inboxbot.domain.caseless import Caseless
from inboxbot.domain.envelope import decode_words, parse_time, received_time
from inboxbot.domain.mimeparse import message_from_bytes

MAX_PDF_BYTES = 5_000_000
MAX_PDF_PAGES = 6
MAX_TEXT_CHARS = 200_000  # a runaway body is cut, not parsed for minutes


@dataclass(frozen=True)
class ForwardedPart:
    """A message passed on inside another: inline or as an attached message."""

    sender: str
    subject: str
    date: datetime | None
    text: str  # its newest part


@dataclass(frozen=True)
class MailText:
    """What a message says, ready for the rules and the extractors."""

    message: Message
    subject: str  # decoded, with Re:/Fw: prefixes removed
    subject_prefix: str  # "re", "fw" or ""
    sender_address: str
    sender_name: str
    date: datetime | None
    received: datetime | None
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    newest: str  # the newest part of the body, without signature or disclaimer
    forwarded: tuple[ForwardedPart, ...] = ()
    quoted: str = ""  # earlier messages quoted below (not classified)
    signature: str = ""
    attachment_names: tuple[str, ...] = ()
    attachment_text: str = ""  # text of PDF attachments
    defects: tuple[str, ...] = field(default=())

    @property
    def body(self) -> str:
        """The newest part followed by any forwarded parts: what the message is about."""
        parts = [self.newest, *(f.text for f in self.forwarded)]
        return "\n\n".join(p for p in parts if p)

    def unreadable_reason(self) -> str | None:
        """Why this cannot be treated as an email at all, or None when it can."""
        try:
            names = {name.lower() for name in self.message.keys()}  # noqa: SIM118 - Message is not a dict
        except Exception:
            names = set()
        if not names & {"from", "subject", "date", "message-id", "to"}:
            return "not an email message: none of From, To, Subject, Date or Message-ID"
        if not self.sender_address and not self.subject and not self.body.strip():
            return "not an email message: no sender, subject or text"
        return None

    @property
    def sender_domain(self) -> str:
        """The domain of the From address, lowercased."""
        return self.sender_address.rpartition("@")[2].lower()


# --- headers -----------------------------------------------------------------


def decoded_header(message: Message, name: str) -> str:
    """A header with RFC 2047 encoded words decoded, or "" when missing or unreadable."""
    return decode_words(headers.collapsed(message, name)) or ""


_SIMPLE_ADDRESS = re.compile(
    r'^\s*(?:"?(?P<name>[^"<>]*?)"?\s*)?<(?P<angle>[^<>\s@]+@[^<>\s@]+)>\s*$|^\s*(?P<bare>[^<>\s@"]+@[^<>\s@"]+)\s*$'
)


def split_address(value: str) -> tuple[str, str]:
    """(display name, address) of a From header.

    The common shapes are read with one regular expression; anything unusual
    goes to the email package's full parser, which is correct but slow.
    """
    match = _SIMPLE_ADDRESS.match(value)
    if match:
        if match.group("bare"):
            return "", match.group("bare")
        return (match.group("name") or "").strip(), match.group("angle")
    return parseaddr(value)


_PREFIX = re.compile(r"^\s*((?:re|aw|fw|fwd|wg|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def split_subject(subject: str) -> tuple[str, str]:
    """(prefix kind, subject without Re:/Fw: prefixes); the kind is of the outermost prefix."""
    match = _PREFIX.match(subject)
    if not match:
        return "", subject.strip()
    first = match.group(0).lstrip().lower()
    kind = "fw" if first.startswith(("fw", "wg", "tr")) else "re"
    return kind, subject[match.end() :].strip()


# --- decoding ----------------------------------------------------------------

# Mail that says iso-8859-1 or ascii is very often really windows-1252 (curly
# quotes, pound signs from Outlook); windows-1252 is a superset for text.
_CHARSET_ALIASES = {"iso-8859-1": "windows-1252", "latin-1": "windows-1252", "us-ascii": "windows-1252"}


def decode_bytes(payload: bytes, charset: str | None) -> str:
    """Bytes to text in the declared charset, falling back rather than failing."""
    name = (charset or "us-ascii").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        return payload.decode(name, errors="replace")
    except LookupError:
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.decode("windows-1252", errors="replace")


# Transfer encodings Message.get_payload(decode=True) decodes; it hands back any other payload's
# bytes as they are.
_DECODED = frozenset({"quoted-printable", "base64", "x-uuencode", "uuencode", "uue", "x-uue"})


def _part_bytes(part: Message) -> bytes:
    payload: object
    try:
        payload = _as_sent(part)
        if payload is None:
            payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("utf-8", "replace") if isinstance(raw, str) else b""


def _as_sent(part: Message) -> bytes | None:
    """What ``part.get_payload(decode=True)`` gives for a single part in 7bit, 8bit or binary (its
    text's bytes, read from the header table); None for anything it decodes or converts."""
    payload = getattr(part, "_payload", None)
    if not isinstance(payload, str):
        return None
    encoding = headers.first(part, "content-transfer-encoding")
    if encoding is not None and encoding.lower() in _DECODED:
        return None
    try:  # undecodable bytes are kept as surrogates, which turn back into those bytes
        return payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:  # text that was never bytes: the package's own conversion
        return None


def _part_text(part: Message) -> str:
    try:
        charset = headers.content_charset(part)
    except Exception:
        charset = None
    return decode_bytes(_part_bytes(part), charset)[:MAX_TEXT_CHARS]


_DROP_BLOCKS = re.compile(r"<(script|style|head|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENTS = re.compile(r"<!--.*?-->", re.DOTALL)
_BREAKS = re.compile(
    r"<\s*(br|/p|/div|/tr|/h\d|/li|/table|/blockquote|hr|p|div|tr|li|h\d|table|blockquote)\b[^>]*>",
    re.IGNORECASE,
)
_CELLS = re.compile(r"<\s*/?t[dh]\b[^>]*>", re.IGNORECASE)
# A line break in the source and the indent after it. The blanks before it are left for
# _one_space: a pattern that can start with a blank is tried at every space of the text.
_SOURCE_BREAKS = re.compile(r"\n[ \t]*")
_PRE = re.compile(r"<pre\b", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]{0,2000}>")
_BLANKS = re.compile(r"\n\s*\n\s*(\n\s*)+")


def html_to_text(markup: str) -> str:
    """Readable text from HTML: block elements become line breaks, entities are decoded.

    Written with regular expressions rather than an HTML parser because it runs
    on every HTML-only message and must stay cheap; mail HTML needs no more.
    """
    text = _COMMENTS.sub("", markup)
    text = _DROP_BLOCKS.sub("", text)
    if not _PRE.search(text):
        # A line break in HTML source is a space on the screen: "our reference 26 019" and
        # "604" on the next source line are one reference. Block elements make the lines.
        text = _SOURCE_BREAKS.sub(" ", text.replace("\r\n", "\n"))
    text = _BREAKS.sub("\n", text)
    text = _CELLS.sub(" ", text)
    text = _TAGS.sub("", text)
    text = html.unescape(text)
    text = _one_space(text)
    lines = [line.strip() for line in text.splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _one_space(text: str) -> str:
    """Each run of blanks (spaces, tabs, no-break spaces) in ``text`` as one space.

    With ``str.replace`` rather than a pattern: a pattern for a run of blanks is tried at
    every one of a text's hundreds of single spaces, which cost a third of reading the HTML.
    """
    text = text.replace("\t", " ").replace("\u00a0", " ")
    while "  " in text:  # each pass halves every run
        text = text.replace("  ", " ")
    return text


def pdf_text(payload: bytes) -> str:
    """The text layer of a PDF, or "" when there is none or it cannot be read.

    PDFium (through pypdfium2) reads a letter several times faster than a pure
    Python reader; it is not thread-safe, so one message's PDF is read at a time.
    """
    if not payload.startswith(b"%PDF") or len(payload) > MAX_PDF_BYTES:
        return ""
    try:
        import pypdfium2

        with _PDFIUM:
            document = pypdfium2.PdfDocument(payload)
            try:
                pages = []
                for number in range(min(len(document), MAX_PDF_PAGES)):
                    page = document[number]
                    textpage = page.get_textpage()
                    pages.append(textpage.get_text_bounded())
                    textpage.close()
                    page.close()
            finally:
                document.close()
    except Exception:  # a broken PDF is common and must never stop classification
        return ""
    return "\n".join(pages).replace("\r\n", "\n")[:MAX_TEXT_CHARS]


_PDFIUM = threading.Lock()


# --- splitting the body ------------------------------------------------------

_FORWARD_MARKER = Caseless(
    r"^[ \t>]*(?:-{2,}\s*(?:Forwarded message|Original Message|Forwarded by)[^\n]*-*"
    r"|Begin forwarded message:?)[ \t]*$",
    re.MULTILINE,
)
_ORIGINAL_MARKER = re.compile(r"^[ \t]*-{3,}\s*Original Message\s*-{3,}[ \t]*$", re.IGNORECASE | re.MULTILINE)
_HEADER_BLOCK = Caseless(
    r"^[ \t*]*From:[ \t*]*(?P<sender>[^\n]*)\n"
    r"(?P<rest>(?:[ \t*]*(?:Sent|Date|To|Cc|Subject|Importance)[ \t*]*:[^\n]*\n?){2,6})",
    re.MULTILINE,
)
_WROTE = Caseless(r"^[ \t]*On\b[^\n]{0,200}?(?:\n[^\n]{0,200}?)?\bwrote:[ \t]*$", re.MULTILINE)
_UNDERLINE = re.compile(r"^[ \t]*_{8,}[ \t]*$", re.MULTILINE)


def _first_quoted_line(text: str) -> int:
    """Where the first line starting with ">" begins, or -1. (A regex ``^>`` tries every
    position of a long body; ``str.find`` looks for the two characters at C speed.)"""
    if text.startswith(">"):
        return 0
    found = text.find("\n>")
    return found + 1 if found != -1 else -1


@dataclass(frozen=True)
class _Cut:
    start: int  # where the marker begins
    body_start: int  # where the earlier message's text begins
    forward: bool
    sender: str = ""
    subject: str = ""
    date: datetime | None = None


def _header_fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.splitlines():
        name, sep, value = line.strip(" \t*").partition(":")
        if sep:
            fields.setdefault(name.strip().lower(), value.strip(" \t*"))
    return fields


def _first_cut(text: str, is_forward: bool) -> _Cut | None:
    """The first place where an earlier message starts, and whether it was forwarded."""
    candidates: list[_Cut] = []
    lowered = text.lower()
    marker = _FORWARD_MARKER.search(text, lowered=lowered)
    if marker:
        forward = _ORIGINAL_MARKER.match(marker.group(0)) is None or is_forward
        after = marker.end()
        block = _HEADER_BLOCK.match(text, after + 1) if after < len(text) else None
        if block is None:
            block = _HEADER_BLOCK.search(text, after, min(len(text), after + 400), lowered)
        if block:
            fields = _header_fields(block.group(0))
            candidates.append(
                _Cut(
                    marker.start(),
                    block.end(),
                    forward,
                    fields.get("from", ""),
                    fields.get("subject", ""),
                    parse_time(fields.get("sent", "") or fields.get("date", "")),
                )
            )
        else:
            candidates.append(_Cut(marker.start(), marker.end(), forward))
    block = _HEADER_BLOCK.search(text, lowered=lowered)
    if block:
        fields = _header_fields(block.group(0))
        start = block.start()
        underline = _UNDERLINE.search(text, max(0, start - 200), start)
        candidates.append(
            _Cut(
                underline.start() if underline else start,
                block.end(),
                is_forward,
                fields.get("from", ""),
                fields.get("subject", ""),
                parse_time(fields.get("sent", "") or fields.get("date", "")),
            )
        )
    wrote = _WROTE.search(text, lowered=lowered)
    if wrote:
        candidates.append(_Cut(wrote.start(), wrote.end(), False))
    quoted = _first_quoted_line(text)
    if quoted != -1:
        candidates.append(_Cut(quoted, quoted, False))
    if not candidates:
        return None
    return min(candidates, key=lambda c: c.start)


_SIGNOFF = Caseless(
    r"^[ \t]*(?:--[ \t]*$|(?:kind|best|warm|many)?[ \t]*regards\b[^\n]{0,20}$"
    r"|(?:best|kind|warm)[ \t]+wishes,?[ \t]*$"
    r"|yours[ \t]+(?:sincerely|faithfully)\b"
    r"|thanks(?: and regards)?,?[ \t]*$|thank you,?[ \t]*$|sent from my \w+)",
    re.MULTILINE,
)
# Only where a match starts is used, and whether a match starts at a place does not depend on
# which way a repeat is tried: the lazy ones keep a long "This email and any files ... are
# confidential ..." line from costing a scan of the rest of the line for every "are" in it.
_DISCLAIMER = Caseless(
    r"^[ \t]*(?:this (?:e-?mail|message|communication)(?: and any (?:files|attachments)[^\n]*?)?"
    r" (?:is|are|may be|and any)\b[^\n]*?(?:confidential|intended|privileged)"
    r"|the information (?:in|contained in) this (?:e-?mail|message)"
    r"|(?:email )?disclaimer\b|confidentiality notice|please consider the environment"
    r"|if you (?:are not|have received this)[^\n]*(?:intended recipient|in error)"
    # Data and privacy notices, and the like, at the foot of the Ombudsmen's mail: their periods
    # ("we respond to subject access requests within one calendar month") are not the council's.
    r"|how we (?:handle|use|look after|process|protect) (?:your )?(?:personal )?(?:data|information)"
    r"|(?:privacy|data protection) (?:notice|statement)|about (?:the|our) [\w ]{0,30}portal[ \t]*$"
    r"|nothing in this (?:e-?mail|message) should|please read: intended recipients)",
    re.MULTILINE,
)


def strip_signature(text: str) -> tuple[str, str]:
    """(text before the sign-off or disclaimer, the rest).

    A letter may go on below the signature: the Ombudsmen send a short covering note, signed,
    with the decision itself under it ("Please find below the Ombudsman's final decision").
    When the note says so ("below", "follows") and a letter of some length follows the
    name-and-contact block, it is the message's own and is kept, its own signature taken off in
    turn (up to _LETTERS_BELOW times). Without such a note, what follows is a footer, a data
    notice or older mail, and stays out of the newest part."""
    kept: list[str] = []
    signatures: list[str] = []
    for _ in range(_LETTERS_BELOW + 1):
        cut, is_signoff = _signature_start(text)
        if cut is None:
            kept.append(text.strip())
            break
        below = None
        # Most signatures are short: only with a letter's length after it is the note read for "below".
        if is_signoff and len(kept) < _LETTERS_BELOW and len(text) - cut > _LETTER_BELOW_CHARS:
            below = _letter_below(text, cut) if _SAYS_BELOW.search(text, 0, cut) else None
        kept.append(text[:cut].strip())
        if below is None:
            signatures.append(text[cut:].strip())
            break
        signatures.append(text[cut:below].strip())
        text = text[below:]
    return "\n\n".join(part for part in kept if part), "\n\n".join(part for part in signatures if part)


def _signature_start(text: str) -> tuple[int | None, bool]:
    """Where the sign-off or disclaimer starts, and whether it is a sign-off; (None, False) when
    there is none. A sign-off in the first line is a greeting-only message, kept whole."""
    lowered = text.lower()
    cuts = []
    for pattern in (_SIGNOFF, _DISCLAIMER):
        found = pattern.search(text, lowered=lowered)
        if found is not None and text[: found.start()].strip():
            cuts.append((found.start(), pattern is _SIGNOFF))
    if not cuts:
        return None, False
    cut, is_signoff = min(cuts)
    return cut, is_signoff


# What follows a sign-off before a letter below it may start: the sign-off line, blank lines, the
# name-and-contact block (at most eight lines), then blank lines and separator lines ("-----").
_SIGNATURE_BLOCK = re.compile(
    r"[^\n]*\n(?:[ \t]*\n)*(?:[ \t]*\S[^\n]*\n){0,8}(?:[ \t]*(?:[-_=*\u2014\u2013][ \t]*){5,}\n|[ \t]*\n)+"
)
_LETTER_BELOW_CHARS = 400
_LETTER_BELOW_PARAGRAPHS = 2
# The covering note's words for the letter under it: "see our letter below", "I enclose the report".
_SAYS_BELOW = re.compile(r"\b(?:below|beneath|underneath|follows|enclosed?)\b", re.IGNORECASE)
_LETTERS_BELOW = 3  # a covering note, the letter, perhaps an annex: more is not mail but an attack


def _letter_below(text: str, signoff: int) -> int | None:
    """Where a letter below the signature starting at ``signoff`` begins, or None when what
    follows the signature is only more signature, a disclaimer or a short note."""
    block = _SIGNATURE_BLOCK.match(text, signoff)
    if block is None:
        return None
    start = block.end()
    if len(text) - start < _LETTER_BELOW_CHARS or text.count("\n\n", start) < _LETTER_BELOW_PARAGRAPHS:
        return None
    if _DISCLAIMER.match(text[start : start + 400].lower()):
        return None
    return start


def _inline_answers(history: str) -> str:
    """The sender's own lines among the ">" quoted lines of ``history``: a reply that answers
    each point of the quoted message under it ("> 1. Can we send it by 22 October?" / "Yes,
    please send it by 22 October.") says its newest things there, not above the quote."""
    first = _first_quoted_line(history)
    after = history.find("\n", first) if first != -1 else -1
    if after == -1:  # no ">" quoting (Outlook's header blocks), or nothing after it: most mail
        return ""
    paragraphs: list[str] = []
    end = -1
    for line in _UNQUOTED_LINE.finditer(history, after):
        if paragraphs and history.count("\n", end, line.start()) == 1:
            paragraphs[-1] += "\n" + line.group().strip()  # the next line of the same answer
        else:
            paragraphs.append(line.group().strip())
        end = line.end()
    own, _ = strip_signature("\n\n".join(paragraphs))
    return own


# A line with something on it that is not ">" quoting.
_UNQUOTED_LINE = re.compile(r"^[ \t]*[^>\s][^\n]*", re.MULTILINE)


def split_body(text: str, is_forward: bool) -> tuple[str, list[ForwardedPart], str, str]:
    """(newest part, forwarded parts, quoted history, signature) of a plain-text body."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    cut = _first_cut(text, is_forward)
    if cut is None:
        newest, signature = strip_signature(text)
        return newest, [], "", signature
    newest, signature = strip_signature(text[: cut.start])
    if not cut.forward:
        # From the marker on: the quoted message's own header lines are history too, and its
        # Subject line may hold the only council reference ("Subject: ... - CAS-241556").
        history = text[cut.start :]
        answers = _inline_answers(history)
        if answers:
            newest = f"{newest}\n\n{answers}" if newest else answers
        return newest, [], history.strip(), signature
    # The forwarded message may itself quote older history: keep only its newest part. When it was
    # itself a forward ("FW: Final decision ..." passed from officer to officer), what it forwarded is
    # forwarded content too.
    inner_is_forward = split_subject(cut.subject)[0] == "fw"
    inner_newest, inner_forwards, inner_quoted, _ = split_body(
        text[cut.body_start :], is_forward=inner_is_forward
    )
    part = ForwardedPart(sender=cut.sender, subject=cut.subject, date=cut.date, text=inner_newest)
    return newest, [part, *inner_forwards], inner_quoted, signature


# --- the whole message -------------------------------------------------------


def _filename(part: Message) -> str:
    try:
        name = headers.filename(part)
    except Exception:
        name = None
    return " ".join((decode_words(str(name)) or "").split()) if name else ""


@dataclass
class _Walk:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)  # as sent: made text only when there is no plain text
    attached_messages: list[Message] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    pdf: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)  # headers a bounce sends back


def _walk(message: Message, found: _Walk) -> None:
    content_type = headers.content_type(message)
    if content_type == "message/rfc822":
        # An attached message is multipart to the email package; it is a forwarded part to us.
        inner = message.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            found.attached_messages.append(inner[0])
        return
    if message.is_multipart():
        payload = message.get_payload()
        for part in payload if isinstance(payload, list) else []:
            if isinstance(part, Message):
                _walk(part, found)
        return
    name = _filename(message)
    disposition = headers.collapsed(message, "Content-Disposition").lower()
    if name or disposition.startswith("attachment"):
        found.names.append(name or "(unnamed attachment)")
        if content_type == "application/pdf" or name.lower().endswith(".pdf"):
            found.pdf.append(pdf_text(_part_bytes(message)))
        elif name.lower().endswith(".eml"):
            found.attached_messages.append(message_from_bytes(_part_bytes(message)))
        return
    if content_type == "text/plain":
        text = _part_text(message)
        flowed = headers.flowed(message)
        found.plain.append(text if flowed is None else unflow(text, delsp=flowed))
    elif content_type == "text/html":
        found.html.append(_part_text(message))
    elif content_type in ("text/rfc822-headers", "message/rfc822-headers"):
        # A bounce returns the headers of the message it could not deliver: history, not content.
        found.returned.append(_part_text(message))


def unflow(text: str, *, delsp: bool) -> str:
    """Plain text sent as format=flowed (RFC 3676) with its soft line breaks joined.

    A line that ends in a space goes on in the next line of the same quote depth (with
    ``delsp`` the space was only the break's and goes too); a leading space is stuffing,
    and the "-- " before a signature is not a soft break. Apple Mail and Thunderbird send
    this: "our reference 26 014 " and "227" on the next line are one reference.
    """
    lines: list[str] = []
    held: tuple[int, str] | None = None  # a soft-broken line's quote depth and text so far
    for raw in text.split("\n"):
        raw = raw.removesuffix("\r")
        depth = len(raw) - len(raw.lstrip(">"))
        content = raw[depth:].removeprefix(" ")
        if held is not None:
            if held[0] == depth:
                content = held[1] + content
            else:
                lines.append(_quoted_line(*held))
            held = None
        if content.endswith(" ") and content != "-- ":
            held = (depth, content[:-1] if delsp else content)
        else:
            lines.append(_quoted_line(depth, content))
    if held is not None:
        lines.append(_quoted_line(*held))
    return "\n".join(lines)


def _quoted_line(depth: int, content: str) -> str:
    return f"{'>' * depth} {content}" if depth else content


def _attached_part(inner: Message) -> ForwardedPart:
    text = read_text(inner)
    return ForwardedPart(
        sender=decoded_header(inner, "From"),
        subject=text.subject,
        date=text.date,
        text="\n\n".join(p for p in (text.newest, *(f.text for f in text.forwarded)) if p),
    )


def read_text(message: Message) -> MailText:
    """Everything the rules and extractors need from a parsed message."""
    subject_kind, subject = split_subject(decoded_header(message, "Subject"))
    name, address = split_address(decoded_header(message, "From"))
    found = _Walk()
    defects: list[str] = []
    try:
        _walk(message, found)
    except Exception as exc:  # a broken MIME tree still has headers worth classifying
        defects.append(f"MIME structure could not be read: {type(exc).__name__}")
    # The plain text when there is any: an HTML alternative says the same and costs more to read.
    body = "\n\n".join(t for t in found.plain if t.strip()) or "\n\n".join(
        t for t in map(html_to_text, found.html) if t.strip()
    )
    newest, forwarded, quoted, signature = split_body(body, is_forward=subject_kind == "fw")
    attached = []
    for inner in found.attached_messages:
        try:
            attached.append(_attached_part(inner))
        except Exception as exc:
            defects.append(f"attached message could not be read: {type(exc).__name__}")
    return MailText(
        message=message,
        subject=subject,
        subject_prefix=subject_kind,
        sender_address=address.lower(),
        sender_name=name,
        date=parse_time(headers.collapsed(message, "Date")),
        received=received_time(message),
        message_id=headers.collapsed(message, "Message-ID") or None,
        in_reply_to=headers.collapsed(message, "In-Reply-To") or None,
        references=tuple(headers.collapsed(message, "References").split()),
        newest=newest,
        forwarded=(*forwarded, *attached),
        quoted="\n\n".join(t for t in (quoted, *found.returned) if t),
        signature=signature,
        attachment_names=tuple(found.names),
        attachment_text="\n".join(t for t in found.pdf if t),
        defects=tuple(defects),
    )


def parse(raw: bytes) -> MailText:
    """Parse raw bytes (never raises for malformed mail).

    The compat32 policy is used on purpose: it leaves headers as text, which is
    several times cheaper than the modern header registry and is what the trust
    checks want anyway (they must see headers exactly as they arrived).
    """
    return read_text(message_from_bytes(raw))
