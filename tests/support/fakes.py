"""Fakes for the service layer's ports (the real adapters are tested against real servers)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from inboxbot.service.ports import FetchedMessage


@dataclass
class FakeMailbox:
    """A mail server in memory: ordered keys, resume points, moves that can fail, push of new mail."""

    messages: list[tuple[str, bytes]]
    name: str = "fake://mailbox/INBOX"
    moved: dict[str, str] = field(default_factory=dict)
    fail_moves: set[str] = field(default_factory=set)
    asked_after: list[str | None] = field(default_factory=list)
    fail_fetches: int = 0  # the next this many fetches raise, like a dropped connection
    arrived: threading.Event = field(default_factory=threading.Event)

    def count(self) -> int:
        return len(self.messages)

    def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
        self.asked_after.append(after)
        if self.fail_fetches:
            self.fail_fetches -= 1
            raise ConnectionResetError("connection reset by peer")
        for key, raw in list(self.messages):
            if after is None or key > after:
                yield FetchedMessage(key=key, raw=raw, position=key, label=key)

    def move(self, key: str, folder: str) -> None:
        if key in self.fail_moves:
            raise OSError("server said NO")
        self.moved[key] = folder

    def deliver(self, key: str, raw: bytes) -> None:
        """New mail arrives; a waiting watcher wakes."""
        self.messages.append((key, raw))
        self.arrived.set()

    def wait_for_new(self, timeout: float) -> bool:
        woke = self.arrived.wait(timeout)
        self.arrived.clear()
        return woke
