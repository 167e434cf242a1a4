"""Building small test messages and mail folders."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path


def make_message(
    subject: str,
    body: str,
    *,
    sender: str = "Intake Team <intake@lgo.org.uk>",
    to: str = "ombudsman@northmere.gov.uk",
    date: datetime,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """An RFC 5322 message as bytes."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id or make_msgid(domain="lgo.org.uk")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


def write_maildir(path: Path, messages: list[bytes]) -> Path:
    """A Maildir holding ``messages`` in cur/, in order."""
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    for index, raw in enumerate(messages):
        (path / "cur" / f"{1_700_000_000 + index}.M{index}P1.test:2,S").write_bytes(raw)
    return path
