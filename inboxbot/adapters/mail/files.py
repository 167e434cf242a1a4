"""Mail sources on the local disk: a Maildir, and a folder of .eml files.

Both only read; nothing is ever moved or deleted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from inboxbot.service.ports import FetchedMessage


class SourceError(Exception):
    """A mail source cannot be opened or read."""


class SourceConfigError(SourceError):
    """A mail source is named or configured wrongly (bad usage, not a fault of the server)."""


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() or (path / "new").is_dir()


class MaildirSource:
    """Reads ``cur/`` and ``new/`` of a Maildir; ``tmp/`` is never read (half-delivered mail)."""

    def __init__(self, path: Path) -> None:
        if not path.is_dir() or not _is_maildir(path):
            raise SourceError(f"{path} is not a Maildir (it needs a cur/ or new/ folder)")
        self.path = path

    @property
    def name(self) -> str:
        """``maildir:`` and the absolute path."""
        return f"maildir:{self.path.resolve()}"

    def _files(self) -> list[Path]:
        files: list[Path] = []
        for sub in ("new", "cur"):
            folder = self.path / sub
            if folder.is_dir():
                files.extend(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file())
        # Maildir names start with the delivery time, so sorting by name is oldest first.
        return sorted(files, key=lambda p: p.name)

    def count(self) -> int:
        """Number of messages in cur/ and new/."""
        return len(self._files())

    def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
        """Each message with its unique Maildir name (flags stripped) as the key.

        ``after`` is ignored: a folder on disk is cheap to read again and ingest
        skips what it already holds.
        """
        for file in self._files():
            key = file.name.split(":", 1)[0]
            yield FetchedMessage(key=key, raw=file.read_bytes(), label=file.name)


class EmlFolderSource:
    """Reads every ``*.eml`` file under a folder (recursively), in name order."""

    def __init__(self, path: Path) -> None:
        if not path.is_dir():
            raise SourceError(f"{path} is not a folder")
        self.path = path

    @property
    def name(self) -> str:
        """``dir:`` and the absolute path."""
        return f"dir:{self.path.resolve()}"

    def _files(self) -> list[Path]:
        return sorted(p for p in self.path.rglob("*.eml") if p.is_file())

    def count(self) -> int:
        """Number of .eml files."""
        return len(self._files())

    def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
        """Each file, keyed by its path relative to the folder (``after`` is ignored)."""
        for file in self._files():
            key = os.fspath(file.relative_to(self.path))
            yield FetchedMessage(key=key, raw=file.read_bytes(), label=key)
