"""Mail in: store, classify, file; resume points and filing, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from inboxbot.adapters.db.models import SourcePosition, StoredMessage
from inboxbot.service.intake import Filing, take_in
from inboxbot.service.unit_of_work import UnitOfWork
from tests.support.fakes import FakeMailbox
from tests.support.judgement import judgement

CORPUS = Path(__file__).parents[1] / "corpus"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def corpus(*names: str) -> list[tuple[str, bytes]]:
    return [(f"{i:04d}", (CORPUS / name).read_bytes()) for i, name in enumerate(names, start=1)]


FILING = Filing(processed_folder="Processed", triage_folder="Needs-triage")


def test_each_message_is_filed_by_what_a_person_must_see(uow: UnitOfWork) -> None:
    mailbox = FakeMailbox(
        [
            *corpus(
                "lgsco-notification-01.eml",  # trusted, acted on
                "unknown-call-me-01.eml",  # unknown kind
                "lgsco-chaser-final-05-lookalike.eml",  # untrusted chaser
                "auto-reply-ooo-01.eml",  # harmless whoever sent it
            ),
            ("0005", b"\x00 garbage \xff"),  # cannot be read at all
        ]
    )
    result = take_in(mailbox, uow, judgement(), clock, filing=FILING)
    assert len(result.ingested.stored) == 5
    assert len(result.processed.quarantined) == 1
    assert mailbox.moved == {
        "0001": "Processed",
        "0002": "Needs-triage",
        "0003": "Needs-triage",
        "0004": "Processed",
        "0005": "Needs-triage",
    }
    with uow:
        assert {m.source_key: m.moved_to for m in uow.session.scalars(select(StoredMessage))} == mailbox.moved


def test_a_rerun_resumes_after_the_last_position_and_moves_nothing_twice(uow: UnitOfWork) -> None:
    mailbox = FakeMailbox(corpus("lgsco-notification-01.eml", "hos-notification-01.eml"))
    take_in(mailbox, uow, judgement(), clock, filing=FILING)
    mailbox.messages += corpus(
        "lgsco-notification-01.eml", "hos-notification-01.eml", "lgsco-chaser-first-01.eml"
    )[2:]
    mailbox.moved.clear()
    second = take_in(mailbox, uow, judgement(), clock, filing=FILING)
    assert mailbox.asked_after == [None, "0002"]
    assert len(second.ingested.stored) == 1
    assert mailbox.moved == {"0003": "Processed"}
    with uow:
        assert uow.session.get(SourcePosition, mailbox.name).position == "0003"  # type: ignore[union-attr]


def test_a_failed_move_is_tried_again_next_time(uow: UnitOfWork) -> None:
    mailbox = FakeMailbox(corpus("lgsco-notification-01.eml"), fail_moves={"0001"})
    first = take_in(mailbox, uow, judgement(), clock, filing=FILING)
    assert first.filed == 0
    assert first.filing_errors
    mailbox.fail_moves.clear()
    second = take_in(mailbox, uow, judgement(), clock, filing=FILING)
    assert second.filed == 1
    assert mailbox.moved == {"0001": "Processed"}


def test_without_folders_nothing_is_moved(uow: UnitOfWork) -> None:
    mailbox = FakeMailbox(corpus("lgsco-notification-01.eml"))
    result = take_in(mailbox, uow, judgement(), clock)
    assert result.filed == 0
    assert mailbox.moved == {}
    assert len(result.processed.classified) == 1


def test_dry_run_stores_nothing_and_moves_nothing(uow: UnitOfWork) -> None:
    mailbox = FakeMailbox(corpus("lgsco-notification-01.eml"))
    result = take_in(mailbox, uow, judgement(), clock, filing=FILING, dry_run=True)
    assert result.ingested.would_store == ["0001"]
    assert mailbox.moved == {}
    with uow:
        assert uow.session.scalars(select(StoredMessage)).first() is None
