"""The watcher: new mail is taken in within seconds, and a dropped connection is survived."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from inboxbot.adapters.db.models import SourcePosition, StoredMessage
from inboxbot.service.intake import IntakeResult, watch
from inboxbot.service.unit_of_work import UnitOfWork
from tests.support.fakes import FakeMailbox
from tests.support.judgement import judgement

CORPUS = Path(__file__).parents[1] / "corpus"


def clock() -> datetime:
    return datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def stored(uow: UnitOfWork) -> int:
    with uow:
        return uow.session.scalar(select(func.count()).select_from(StoredMessage)) or 0


def wait_until(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_new_mail_wakes_the_watcher_and_a_dropped_connection_is_survived(uow: UnitOfWork) -> None:
    mailbox = FakeMailbox([("0001", (CORPUS / "lgsco-notification-01.eml").read_bytes())], fail_fetches=1)
    rounds: list[IntakeResult] = []
    stop = threading.Event()
    worker = threading.Thread(
        target=watch,
        args=(lambda: mailbox, uow, judgement(), clock, stop),
        kwargs={"poll_seconds": 30.0, "max_backoff": 0.05, "on_round": rounds.append},
        daemon=True,
    )
    worker.start()
    try:
        assert wait_until(lambda: stored(uow) == 1), "the first message was not taken in"
        with uow:
            # The dropped connection was recorded, then cleared by the next good round.
            assert uow.session.get(SourcePosition, mailbox.name).last_error is None  # type: ignore[union-attr]
        mailbox.deliver("0002", (CORPUS / "hos-notification-01.eml").read_bytes())
        assert wait_until(lambda: stored(uow) == 2, seconds=5), "new mail did not wake the watcher"
    finally:
        stop.set()
        mailbox.arrived.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert mailbox.asked_after[:3] == [None, None, "0001"]
