"""One message's headers, read once.

``email.message.Message.get`` walks every header and lower-cases every name on
each call, and the email package's parameter parsing is a general-purpose
tokenizer; the classifier asks dozens of such questions of every message. This
module answers them from one table per message part, built on first use and
forgotten with the message, and reads the common shapes of Content-Type and
Content-Disposition directly. Anything unusual (non-ASCII header text, RFC 2231
encoded parameters) is left to the email package, so the answers are always
the ones it would give.
"""

from __future__ import annotations

import contextlib
import re
from email.message import Message

Table = dict[str, list[str]]

# The table is kept on the message object itself: a plain attribute lookup, where a weak-keyed
# cache costs microseconds per question and the classifier asks about thirty per message.
_ATTRIBUTE = "_inboxbot_header_table"
_UNREAD = object()


def table(message: Message) -> Table | None:
    """Lower-case header name to its raw values in order; None when the headers can't be read."""
    cached = getattr(message, _ATTRIBUTE, _UNREAD)
    if cached is not _UNREAD:
        return cached  # type: ignore[return-value]
    found: Table | None
    try:
        found = {}
        for key, value in message.raw_items():
            if isinstance(key, str):
                text = value if isinstance(value, str) else str(value)
                found.setdefault(key.strip().lower(), []).append(text)
    except Exception:  # a broken message object must not take the decision down with it
        found = None
    keep_table(message, found)
    return found


def keep_table(message: Message, found: Table | None) -> None:
    """Keep ``found`` as the table of ``message`` (a parse that reads the headers anyway gives it)."""
    with contextlib.suppress(AttributeError):  # an object that takes no attributes: just don't keep it
        setattr(message, _ATTRIBUTE, found)


def raw_values(message: Message, name: str) -> list[str] | None:
    """Every value of header ``name`` (lower case) as it arrived; None when unreadable."""
    headers = table(message)
    if headers is None:
        return None
    return headers.get(name, [])


def first(message: Message, name: str) -> str | None:
    """The first value of header ``name`` (lower case) as the email package renders it, or None.

    Plain ASCII values come straight from the table; anything else goes through
    ``Message.get``, which turns undecodable bytes into an unknown-8bit header.
    """
    values = raw_values(message, name)
    if values is not None:
        if not values:
            return None
        if values[0].isascii():
            return values[0]
    try:
        value = message.get(name)
    except Exception:  # the header registry raises on some malformed values
        return None
    if value is None:
        return None
    try:
        return str(value)
    except Exception:
        return None


def collapsed(message: Message, name: str) -> str:
    """The first value of header ``name`` with its folding and runs of whitespace made single
    spaces, or "" when it is missing or unreadable."""
    value = first(message, name.lower())
    return " ".join(value.split()) if value else ""


def content_type(part: Message) -> str:
    """``part.get_content_type()``, read from the table."""
    value = first(part, "content-type")
    if value is None:
        return part.get_default_type()
    ctype = value.partition(";")[0].strip().lower()
    return ctype if ctype.count("/") == 1 else "text/plain"


_CHARSET = re.compile(r';\s*charset\s*=\s*"?([A-Za-z0-9_.:+\-]+)"?\s*(?:;|$)', re.IGNORECASE)


def content_charset(part: Message) -> str | None:
    """``part.get_content_charset()``: the common ``charset=name`` read directly, the rest by the
    email package."""
    value = first(part, "content-type")
    if value is None:
        return None
    if "charset" not in value.lower():
        return None
    match = _CHARSET.search(value) if "*" not in value and "(" not in value else None
    # Quotes elsewhere could hide ";charset=" inside another parameter's value.
    if match is None or value.count('"') != match.group(0).count('"'):
        return part.get_content_charset()
    return match.group(1).lower()


def flowed(part: Message) -> bool | None:
    """For a format=flowed part (RFC 3676), whether delsp=yes; None for any other part. The email
    package's parameter parser runs only when the header names "flowed" at all."""
    if "flowed" not in (first(part, "content-type") or "").lower():
        return None
    try:
        if str(part.get_param("format", "")).lower() != "flowed":
            return None
        return str(part.get_param("delsp", "")).lower() == "yes"
    except Exception:  # a parameter the email package cannot read: take the lines as they are
        return None


def filename(part: Message) -> str | None:
    """``part.get_filename()``, skipping the email package's parameter parser when neither header
    can name a file."""
    disposition = first(part, "content-disposition") or ""
    ctype = first(part, "content-type") or ""
    if "name" not in disposition.lower() and "name" not in ctype.lower():
        return None
    return part.get_filename()
