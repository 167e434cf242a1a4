"""The ports the service layer needs from the outside world.

Adapters implement these; unit tests use fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class FetchedMessage:
    """One message as a mail source hands it over."""

    key: str  # where it sits in the source, stable across runs (Maildir name, UIDVALIDITY:UID, ...)
    raw: bytes
    received_at: datetime | None = None  # the server's arrival time when it knows one
    label: str = ""  # something a person recognises: a file name, a folder and UID
    position: str | None = None  # where to resume after this message, for sources that can


class MailSource(Protocol):
    """Somewhere messages come from: a Maildir, a folder of .eml files, a mailbox server."""

    @property
    def name(self) -> str:
        """A stable name for the source, safe to log (no secrets)."""
        ...

    def count(self) -> int | None:
        """How many messages the source holds, when that is cheap to know."""
        ...

    def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
        """Messages oldest first; after a stored position only the newer ones, where the source can."""
        ...


@runtime_checkable
class FilingSource(Protocol):
    """A source that can file a message into another folder (never delete it)."""

    def move(self, key: str, folder: str) -> None:
        """Move the message at ``key`` into ``folder``, creating the folder when needed."""
        ...


@runtime_checkable
class WatchableSource(Protocol):
    """A source that can wait for new mail (IMAP IDLE, or polling)."""

    def wait_for_new(self, timeout: float) -> bool:
        """Block until new mail arrives (True) or ``timeout`` seconds pass (False)."""
        ...


@runtime_checkable
class ClosableSource(Protocol):
    """A source holding a connection to close."""

    def close(self) -> None:
        """Let go of the connection."""
        ...


@runtime_checkable
class ResumableSource(Protocol):
    """A source whose resume point is only known once a whole fetch is done (Graph delta links)."""

    @property
    def position(self) -> str | None:
        """The resume point after the last complete fetch."""
        ...
