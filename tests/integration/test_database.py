"""The schema and its migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, StatementError

from inboxbot.adapters.db.engine import current_revision, head_revision
from inboxbot.adapters.db.models import Base, Case, StoredMessage
from inboxbot.service.unit_of_work import UnitOfWork


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
