"""The progress shown while ``inboxbot ingest`` reads and then registers a mailbox."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from inboxbot.entrypoints.mail_cmd import _Reporter
from inboxbot.service.ports import FetchedMessage


def test_on_a_terminal_a_bar_for_reading_then_one_for_registering() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with _Reporter(3, console) as reporter:
        for n in range(3):
            reporter(FetchedMessage(key=str(n), raw=b""), True)
        reporter.registered(1, 3)
        assert reporter.progress is not None
        tasks = {task.description: (task.completed, task.total) for task in reporter.progress.tasks}
    assert tasks == {"ingesting": (3, 3), "registering": (1, 3)}


def test_elsewhere_a_line_every_500_messages_read_and_registered(caplog: pytest.LogCaptureFixture) -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    with caplog.at_level(logging.WARNING), _Reporter(1000, console) as reporter:
        for n in range(1000):
            reporter(FetchedMessage(key=str(n), raw=b""), n % 2 == 0)
        for done in range(1, 1001):
            reporter.registered(done, 1000)
    lines = [record.getMessage().split(",")[0] for record in caplog.records]
    assert lines == [
        "ingest: 500/1000 messages read",
        "ingest: 1000/1000 messages read",
        "register: 500/1000 messages registered",
        "register: 1000/1000 messages registered",
    ]
