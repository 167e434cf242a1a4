"""The ports the service layer needs from the outside world.

Adapters implement these; unit tests use fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class FetchedMessage:
    """One message as a mail source hands it over."""

    key: str  # where it sits in the source, stable across runs (Maildir name, UIDVALIDITY:UID, ...)
    raw: bytes
    received_at: datetime | None = None  # the server's arrival time when it knows one
    label: str = ""  # something a person recognises: a file name, a folder and UID


class MailSource(Protocol):
    """Somewhere messages come from: a Maildir, a folder of .eml files, a mailbox server."""

    @property
    def name(self) -> str:
        """A stable name for the source, safe to log (no secrets)."""
        ...

    def count(self) -> int | None:
        """How many messages the source holds, when that is cheap to know."""
        ...

    def fetch(self) -> Iterator[FetchedMessage]:
        """Every message in the source, oldest first."""
        ...
