"""Storing messages from local mail folders, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from inboxbot.adapters.db.models import Event, StoredMessage
from inboxbot.adapters.mail.files import EmlFolderSource, MaildirSource, SourceError
from inboxbot.domain.kinds import MessageState
from inboxbot.service import ingest as ingest_module
from inboxbot.service.ingest import ingest
from inboxbot.service.unit_of_work import UnitOfWork
from tests.support.mail import make_message, write_maildir

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SENT = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def three_messages() -> list[bytes]:
    return [make_message(f"Complaint 25 004 21{i}", f"Body {i}", date=SENT) for i in range(3)]


def count(uow: UnitOfWork) -> int:
    with uow:
        return uow.session.scalar(select(func.count()).select_from(StoredMessage)) or 0


def test_maildir_is_stored_once(uow: UnitOfWork, tmp_path: Path) -> None:
    messages = three_messages()
    source = MaildirSource(write_maildir(tmp_path / "Maildir", messages))
    first = ingest(source, uow, clock)
    second = ingest(source, uow, clock)
    assert (len(first.stored), first.duplicates) == (3, 0)
    assert (len(second.stored), second.duplicates) == (0, 3)
    assert count(uow) == 3
    with uow:
        stored = uow.session.scalars(select(StoredMessage).order_by(StoredMessage.id)).all()
        assert [m.subject for m in stored] == [
            "Complaint 25 004 210",
            "Complaint 25 004 211",
            "Complaint 25 004 212",
        ]
        assert all(m.state == MessageState.STORED for m in stored)
        assert all(m.received_at == SENT for m in stored)
        assert [m.raw for m in stored] == messages
        events = uow.session.scalar(
            select(func.count()).select_from(Event).where(Event.action == "message stored")
        )
        assert events == 3


def test_each_row_of_a_batch_gets_its_own_bytes_and_key(uow: UnitOfWork, tmp_path: Path) -> None:
    # A batch's rows come back from the database in no promised order: each must still be
    # joined to its own bytes, key and audit event. Past one batch, so two are written.
    messages = [make_message(f"Complaint 25 004 {i:03d}", f"Body {i}", date=SENT) for i in range(130)]
    source = MaildirSource(write_maildir(tmp_path / "Maildir", messages))
    assert len(ingest(source, uow, clock).stored) == 130
    with uow:
        rows = uow.session.execute(
            select(StoredMessage.id, StoredMessage.source_key, StoredMessage.sha256, StoredMessage.subject)
        ).all()
        raw_of = dict(
            uow.session.execute(select(StoredMessage.id, StoredMessage.raw).select_from(StoredMessage))
            .tuples()
            .all()
        )
        stored_events = uow.session.execute(
            select(Event.message_id, Event.detail).where(Event.action == "message stored")
        ).all()
    assert len(rows) == 130
    for message_id, key, sha, subject in rows:
        raw = raw_of[message_id]
        assert hashlib.sha256(raw).hexdigest() == sha
        assert f"Subject: {subject}".encode() in raw
        index = int(key.split(".")[0]) - 1_700_000_000  # write_maildir names files by position
        assert raw == messages[index]
    key_of = {message_id: key for message_id, key, _, _ in rows}
    assert sorted(detail["key"] for _, detail in stored_events) == sorted(key_of.values())
    assert all(detail["key"] == key_of[message_id] for message_id, detail in stored_events)


def test_the_same_message_in_two_folders_is_stored_once(uow: UnitOfWork, tmp_path: Path) -> None:
    raw = make_message("Final decision 25 004 217", "We have completed our investigation.", date=SENT)
    # A second delivery differs only in a trace header added on top.
    redelivered = (
        b"Received: from relay.example by mx.northmere.gov.uk; Mon, 2 Mar 2026 08:16:00 +0000\r\n" + raw
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.eml").write_bytes(raw)
    maildir = write_maildir(tmp_path / "Maildir", [redelivered])
    ingest(EmlFolderSource(tmp_path / "a"), uow, clock)
    result = ingest(MaildirSource(maildir), uow, clock)
    assert result.duplicates == 1
    assert count(uow) == 1


def test_received_time_comes_from_the_topmost_received_header(uow: UnitOfWork, tmp_path: Path) -> None:
    raw = b"Received: from a by mx.northmere.gov.uk; Sat, 28 Mar 2026 23:59:00 +0000\r\n" + make_message(
        "x", "y", date=SENT
    )
    ingest(MaildirSource(write_maildir(tmp_path / "M", [raw])), uow, clock)
    with uow:
        assert uow.session.scalars(select(StoredMessage.received_at)).one() == datetime(
            2026, 3, 28, 23, 59, tzinfo=UTC
        )


def test_unparseable_bytes_are_still_stored(uow: UnitOfWork, tmp_path: Path) -> None:
    junk = b"\x00\xff\xfe not an email at all \r\n\r\n\x80\x81"
    result = ingest(MaildirSource(write_maildir(tmp_path / "M", [junk])), uow, clock)
    assert len(result.stored) == 1
    with uow:
        stored = uow.session.scalars(select(StoredMessage)).one()
        assert stored.raw == junk
        assert stored.received_at == NOW  # no header gives a time, so the ingest time stands


def test_dry_run_writes_nothing(uow: UnitOfWork, tmp_path: Path) -> None:
    source = MaildirSource(write_maildir(tmp_path / "Maildir", three_messages()))
    result = ingest(source, uow, clock, dry_run=True)
    assert len(result.would_store) == 3
    assert count(uow) == 0


def test_limit_stops_after_n_new_messages(uow: UnitOfWork, tmp_path: Path) -> None:
    source = MaildirSource(write_maildir(tmp_path / "Maildir", three_messages()))
    assert len(ingest(source, uow, clock, limit=2).stored) == 2
    assert len(ingest(source, uow, clock).stored) == 1


def test_a_folder_that_is_not_a_maildir_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a Maildir"):
        MaildirSource(tmp_path)


def test_a_batch_racing_another_process_is_stored_one_by_one(
    uow: UnitOfWork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process stores the second message between this run's check and its insert.
    messages = three_messages()
    other = MaildirSource(write_maildir(tmp_path / "Other", messages[1:2]))
    real_check = ingest_module._seen_in_database
    other_process = UnitOfWork(uow.engine)

    raced: list[bool] = []

    def check_then_lose_the_race(*args: Any) -> Any:
        seen = real_check(*args)
        if not raced:
            raced.append(True)
            ingest(other, other_process, clock)
        return seen

    monkeypatch.setattr(ingest_module, "_seen_in_database", check_then_lose_the_race)
    source = MaildirSource(write_maildir(tmp_path / "Maildir", messages))
    seen: list[bool] = []
    result = ingest(source, uow, clock, on_message=lambda _fetched, new: seen.append(new))
    monkeypatch.undo()

    assert (len(result.stored), result.duplicates, seen) == (2, 1, [True, False, True])
    assert count(uow) == 3
    with uow:
        bodies = uow.session.scalars(
            select(StoredMessage.raw).select_from(StoredMessage).order_by(StoredMessage.id)
        ).all()
    assert sorted(bodies) == sorted(messages)
    assert len(ingest(source, uow, clock).stored) == 0


@pytest.mark.parametrize("batch_size", [1, 100])
def test_a_message_twice_in_one_run_is_stored_once(uow: UnitOfWork, tmp_path: Path, batch_size: int) -> None:
    # Within one batch the run itself knows it; across batches the database does.
    first, second, third = three_messages()
    source = MaildirSource(write_maildir(tmp_path / "Maildir", [first, second, first, third, second]))
    dry = ingest(source, uow, clock, dry_run=True, batch_size=batch_size)
    assert (len(dry.would_store), dry.duplicates) == (3, 2)
    result = ingest(source, uow, clock, batch_size=batch_size)
    assert (len(result.stored), result.duplicates) == (3, 2)
    assert count(uow) == 3
