"""The schema and its migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, StatementError

from inboxbot.adapters.db.engine import current_revision, head_revision
from inboxbot.adapters.db.models import Base, Case, Event, StoredMessage
from inboxbot.service import audit
from inboxbot.service.unit_of_work import DryRunUnitOfWork, UnitOfWork, write_deferred


def test_migrations_reach_head_and_match_the_models(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def _message(sha: str, received: datetime) -> StoredMessage:
    return StoredMessage(
        source="test",
        source_key=sha,
        sha256=sha,
        raw=b"x",
        size=1,
        received_at=received,
        ingested_at=received,
    )


def test_times_come_back_aware_and_in_utc(uow: UnitOfWork) -> None:
    london = datetime(2026, 7, 1, 9, 30, tzinfo=ZoneInfo("Europe/London"))
    with uow:
        uow.session.add(_message("a" * 64, london))
        uow.commit()
    with uow:
        stored = uow.session.scalars(select(StoredMessage)).one()
        assert stored.received_at == london
        assert stored.received_at.tzinfo is not None
        assert stored.received_at.utcoffset() == UTC.utcoffset(None)
        assert stored.received_at.hour == 8


def test_naive_times_are_refused(uow: UnitOfWork) -> None:
    with uow:
        uow.session.add(_message("b" * 64, datetime(2026, 7, 1, 9, 30)))  # noqa: DTZ001 - the point
        with pytest.raises(StatementError, match="naive datetime"):
            uow.session.flush()


def test_the_same_bytes_cannot_be_stored_twice(uow: UnitOfWork) -> None:
    now = datetime(2026, 7, 1, tzinfo=UTC)
    with uow:
        uow.session.add(_message("c" * 64, now))
        uow.commit()
    duplicate = _message("c" * 64, now)
    duplicate.source_key = "other"
    with uow:
        uow.session.add(duplicate)
        with pytest.raises(IntegrityError):
            uow.session.flush()


def test_one_case_per_ombudsman_reference(uow: UnitOfWork) -> None:
    now = datetime(2026, 7, 1, tzinfo=UTC)
    with uow:
        uow.session.add(Case(ombudsman="lgsco", ombudsman_ref="25 004 217", opened_at=now, updated_at=now))
        uow.session.add(Case(ombudsman="hos", ombudsman_ref="25 004 217", opened_at=now, updated_at=now))
        uow.commit()
    with uow:
        uow.session.add(Case(ombudsman="lgsco", ombudsman_ref="25 004 217", opened_at=now, updated_at=now))
        with pytest.raises(IntegrityError):
            uow.session.flush()


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _actions(uow: UnitOfWork) -> list[str]:
    with uow:
        return list(uow.session.scalars(select(Event.action).order_by(Event.id)))


def test_audit_events_are_written_with_their_transaction_in_order_or_not_at_all(uow: UnitOfWork) -> None:
    with uow:
        for n in range(3):
            audit.record(uow.session, NOW, f"kept {n}")
        uow.session.flush()  # a flush does not write them: nothing reads them back meanwhile
        uow.commit()
    with uow:
        audit.record(uow.session, NOW, "rolled back")
        uow.rollback()
        audit.record(uow.session, NOW, "after the rollback")
        uow.commit()
    with uow:
        audit.record(uow.session, NOW, "never committed")
    with DryRunUnitOfWork(uow.engine) as dry:
        audit.record(dry.session, NOW, "dry run")
        dry.commit()  # written for the dry run's own eyes...
        assert dry.session.scalar(select(Event.action).order_by(Event.id.desc())) == "dry run"
    # ...and thrown away with it
    assert _actions(uow) == ["kept 0", "kept 1", "kept 2", "after the rollback"]


def test_deferred_rows_can_be_written_early_for_a_query_that_reads_them(uow: UnitOfWork) -> None:
    with uow:
        audit.record(uow.session, NOW, "early")
        assert uow.session.scalar(select(func.count(Event.id))) == 0
        write_deferred(uow.session)
        assert uow.session.scalar(select(Event.action)) == "early"
        audit.record(uow.session, NOW, "late")
        uow.commit()
    assert _actions(uow) == ["early", "late"]
