"""The few facts every stored message needs, read from its headers.

Pure and forgiving: a broken header gives None, never an exception, because
these run on mail that has not been checked yet.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.utils
import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import Message

from inboxbot.domain import headers
from inboxbot.domain.mimeparse import after_blank_line, header_message


@dataclass(frozen=True)
class Envelope:
    """Message-ID, subject, sender and the time the council received the message."""

    message_id: str | None
    subject: str | None
    sender: str | None
    received_at: datetime | None  # aware; None when no header gives a usable time


def _header(message: Message, name: str) -> str | None:
    return headers.collapsed(message, name) or None


# The date as mail software writes it ("Mon, 2 Mar 2026 09:05:00 +0000 (GMT)"), read directly;
# anything else goes to the email package, which gives the same answer for these, only slower.
_RFC5322_DATE = re.compile(
    r"(?:[A-Za-z]{3},\s*)?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
    r"(?: \([A-Za-z]*\))?"
)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}


def parse_time(value: str | None) -> datetime | None:
    """An RFC 5322 date as an aware datetime; None when it has no zone ("-0000") or can't be read."""
    if not value:
        return None
    try:
        quick = _RFC5322_DATE.fullmatch(value)
        month = _MONTHS.get(quick.group(2).lower()) if quick else None
        if quick is None or month is None:
            parsed = email.utils.parsedate_to_datetime(value)
        elif quick.group(7) == "-" and quick.group(8) == quick.group(9) == "00":
            return None  # "-0000": the zone is unknown
        else:
            day, _, year, hour, minute, second, sign, zone_hours, zone_minutes = quick.groups()
            zone = _zone(sign, zone_hours, zone_minutes)
            parsed = datetime(int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=zone)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" means unknown zone; RFC 5322 says treat as UTC
        return None
    return parsed


@functools.lru_cache(maxsize=64)
def _zone(sign: str, hours: str, minutes: str) -> timezone:
    """The fixed offset "+0100" names (mail comes in a handful of them: worth keeping)."""
    offset = int(hours) * 3600 + int(minutes) * 60
    return timezone(timedelta(seconds=-offset if sign == "-" else offset))


def received_time(message: Message) -> datetime | None:
    """When the council's server took the message: the topmost Received header's
    date, or the Date header when there is no usable Received header."""
    topmost = headers.first(message, "received")
    if topmost is not None:
        parsed = parse_time(topmost.rpartition(";")[2].strip())
        if parsed is not None:
            return parsed
    return parse_time(_header(message, "Date"))


def read_envelope(raw: bytes) -> Envelope:
    """The envelope facts of ``raw``; fields that cannot be read are None."""
    try:
        # Headers only: the body can be megabytes and nothing here needs it.
        head = header_block(raw)
        message = header_message(head)
    except Exception:
        return Envelope(None, None, None, None)
    subject = decode_words(_raw_header(message, "Subject"))
    sender = decode_words(_raw_header(message, "From"))
    message_id = _header(message, "Message-ID")
    return Envelope(message_id=message_id, subject=subject, sender=sender, received_at=received_time(message))


def header_block(raw: bytes) -> bytes:
    """The bytes up to and including the first blank line (all of ``raw`` when there is none)."""
    end = after_blank_line(raw)
    return raw if end is None else raw[:end]


def thread_ids(raw: bytes) -> list[str]:
    """The Message-IDs this message replies to (In-Reply-To and References), newest first."""
    head = header_block(raw)
    lowered = head.lower()
    if b"in-reply-to" not in lowered and b"references" not in lowered:
        return []  # most mail replies to nothing: spare parsing its header
    try:
        headers = header_message(head)
        found = " ".join(str(headers.get(name, "")) for name in ("In-Reply-To", "References"))
    except Exception:  # a broken header only means no thread to follow
        return []
    ids = [part for part in found.replace(">", "> ").split() if part.startswith("<") and part.endswith(">")]
    return list(dict.fromkeys(reversed(ids)))


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
    if "=?" not in value:  # no encoded words: what decode_header would give back unchanged
        text = " ".join(value.split())
        return text or None
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
