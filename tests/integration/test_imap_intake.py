"""The whole intake against a real Dovecot and a real database (SQLite and PostgreSQL):
backfill, re-run, a server killed half-way, UIDVALIDITY reset, filing, and live watching."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from inboxbot.adapters.db.models import StoredMessage
from inboxbot.domain.kinds import MessageState
from inboxbot.service.ingest import ingest
from inboxbot.service.intake import Filing, take_in, watch
from inboxbot.service.ports import FetchedMessage
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_imap import crlf, messages, source_for
from tests.support.dovecot import DovecotServer
from tests.support.judgement import judgement

CORPUS = Path(__file__).parents[1] / "corpus"


def clock() -> datetime:
    return datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def stored(uow: UnitOfWork, state: MessageState | None = None) -> int:
    with uow:
        query = select(func.count()).select_from(StoredMessage)
        if state is not None:
            query = query.where(StoredMessage.state == state.value)
        return uow.session.scalar(query) or 0


def test_backfill_then_rerun_stores_each_message_once(dovecot: DovecotServer, uow: UnitOfWork) -> None:
    dovecot.append_many(messages(12))
    source = source_for(dovecot, batch_size=5)
    first = ingest(source, uow, clock)
    second = ingest(source, uow, clock)
    assert (len(first.stored), len(second.stored)) == (12, 0)
    assert stored(uow) == 12


def test_server_killed_half_way_loses_and_duplicates_nothing(dovecot: DovecotServer, uow: UnitOfWork) -> None:
    sent = messages(30)
    dovecot.append_many(sent)
    source = source_for(dovecot, batch_size=5)
    seen = 0

    class Killer:
        """Kills Dovecot after 12 messages, and brings it back."""

        name = source.name

        def count(self) -> int | None:
            return source.count()

        def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
            nonlocal seen
            for fetched in source.fetch(after):
                seen += 1
                if seen == 12:
                    dovecot.kill()
                    dovecot.start()
                yield fetched

    result = ingest(Killer(), uow, clock)
    assert len(result.stored) == 30
    with uow:
        bodies = uow.session.scalars(
            select(StoredMessage.raw).select_from(StoredMessage).order_by(StoredMessage.id)
        ).all()
    assert sorted(bodies) == sorted(sent)


def test_a_uidvalidity_reset_stores_nothing_twice(dovecot: DovecotServer, uow: UnitOfWork) -> None:
    dovecot.append_many(messages(4))
    ingest(source_for(dovecot), uow, clock)
    dovecot.reset_uidvalidity()
    dovecot.append_many(messages(1, prefix="Later"))
    again = ingest(source_for(dovecot), uow, clock)
    assert len(again.stored) == 1
    assert again.duplicates == 4
    assert stored(uow) == 5


def test_filing_and_malformed_mail(dovecot: DovecotServer, uow: UnitOfWork) -> None:
    good = crlf((CORPUS / "lgsco-notification-01.eml").read_bytes())
    unknown = crlf((CORPUS / "unknown-call-me-01.eml").read_bytes())
    dovecot.append_many([good, unknown, b"\x00\x01\x02 this is not mail\r\n"])
    filing = Filing(processed_folder="Processed", triage_folder="Needs-triage")
    result = take_in(source_for(dovecot), uow, judgement(), clock, filing=filing)
    assert (len(result.processed.classified), len(result.processed.quarantined), result.filed) == (2, 1, 3)
    assert len(dovecot.uids("Processed")) == 1
    assert len(dovecot.uids("Needs-triage")) == 2
    assert dovecot.uids("INBOX") == []
    assert stored(uow, MessageState.QUARANTINED) == 1


def test_the_watcher_takes_new_mail_within_seconds(dovecot: DovecotServer, uow: UnitOfWork) -> None:
    stop = threading.Event()
    worker = threading.Thread(
        target=watch,
        args=(lambda: source_for(dovecot), uow, judgement(), clock, stop),
        kwargs={"poll_seconds": 30.0, "max_backoff": 0.1},
        daemon=True,
    )
    worker.start()
    try:
        time.sleep(0.5)  # the watcher is idling on an empty INBOX
        dovecot.append(crlf((CORPUS / "hos-notification-01.eml").read_bytes()))
        started = time.monotonic()
        while stored(uow, MessageState.PROCESSED) < 1 and time.monotonic() - started < 10:
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        assert stored(uow, MessageState.PROCESSED) == 1, "the new message was not taken in"
        assert elapsed < 10
    finally:
        stop.set()
        dovecot.append(b"Subject: wake up\r\n\r\nso the IDLE returns\r\n")
        worker.join(timeout=40)
    assert not worker.is_alive()
