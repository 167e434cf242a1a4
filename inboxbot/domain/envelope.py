"""The few facts every stored message needs, read from its headers.

Pure and forgiving: a broken header gives None, never an exception, because
these run on mail that has not been checked yet.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.parser
import email.policy
import email.utils
from dataclasses import dataclass
from datetime import datetime
from email.message import Message


@dataclass(frozen=True)
class Envelope:
    """Message-ID, subject, sender and the time the council received the message."""

    message_id: str | None
    subject: str | None
    sender: str | None
    received_at: datetime | None  # aware; None when no header gives a usable time


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a malformed header can raise from the parser's lazy decoding
        return None
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" means unknown zone; RFC 5322 says treat as UTC
        return None
    return parsed


def received_time(message: Message) -> datetime | None:
    """When the council's server took the message: the topmost Received header's
    date, or the Date header when there is no usable Received header."""
    try:
        received = message.get_all("Received") or []
    except Exception:
        received = []
    for header in received[:1]:
        _, _, when = str(header).rpartition(";")
        parsed = _parse_time(when.strip())
        if parsed is not None:
            return parsed
    return _parse_time(_header(message, "Date"))


def read_envelope(raw: bytes) -> Envelope:
    """The envelope facts of ``raw``; fields that cannot be read are None."""
    try:
        # Headers only: the body can be megabytes and nothing here needs it.
        head = _header_block(raw)
        message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head, headersonly=True)
    except Exception:
        return Envelope(None, None, None, None)
    subject = decode_words(_raw_header(message, "Subject"))
    sender = decode_words(_raw_header(message, "From"))
    message_id = _header(message, "Message-ID")
    return Envelope(message_id=message_id, subject=subject, sender=sender, received_at=received_time(message))


def _header_block(raw: bytes) -> bytes:
    """The bytes up to the first blank line (all of ``raw`` when there is none)."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i != -1]
    return raw[: min(ends) + 2] if ends else raw


def _raw_header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:
        return None
    return None if value is None else str(value)


def decode_words(value: str | None) -> str | None:
    """Decode RFC 2047 words, tolerating unknown charsets."""
    if value is None:
        return None
    try:
        parts = email.header.decode_header(value)
        text = "".join(
            part.decode(charset or "ascii", errors="replace") if isinstance(part, bytes) else part
            for part, charset in parts
        )
    except (LookupError, ValueError, email.errors.HeaderParseError):
        text = value
    text = " ".join(text.split())
    return text or None
