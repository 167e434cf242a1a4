"""The schema and its migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError, StatementError

from inboxbot.adapters.db.engine import (
    SCHEMA_REVISION,
    alembic_config,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    migrate,
)
from inboxbot.adapters.db.models import Base, Case, Event, StoredMessage
from inboxbot.adapters.db.types import UtcDateTime
from inboxbot.service import audit
from inboxbot.service.unit_of_work import DryRunUnitOfWork, UnitOfWork, write_deferred
from tests.support.databases import database_url_for


@pytest.fixture
def empty(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def another_empty(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a second empty database of the same kind."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with database_url_for(backend, tmp_path / "another") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def differences_from_the_models(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def schema_of(engine: Engine) -> dict[str, Any]:
    """Every table as the database describes it (columns in name order)."""

    def plain(items: list[Any]) -> list[str]:
        return sorted(repr(sorted(item.items())) for item in items)

    with engine.connect() as conn:
        inspector = inspect(conn)
        return {
            table: {
                "columns": plain(inspector.get_columns(table)),
                "primary key": repr(sorted(inspector.get_pk_constraint(table).items())),
                "foreign keys": plain(inspector.get_foreign_keys(table)),
                "indexes": plain(inspector.get_indexes(table)),
                "unique": plain(inspector.get_unique_constraints(table)),
                "checks": plain(inspector.get_check_constraints(table)),
            }
            for table in sorted(inspector.get_table_names())
        }


def test_the_code_knows_the_newest_migration() -> None:
    assert head_revision() == SCHEMA_REVISION


def test_migrations_reach_head_and_match_the_models(empty: Engine) -> None:
    migrate(empty)
    assert current_revision(empty) == head_revision()
    assert differences_from_the_models(empty) == []


def test_a_new_database_is_made_as_the_migrations_would_make_it(empty: Engine, another_empty: Engine) -> None:
    ensure_schema(empty)  # made from the models and stamped
    migrate(another_empty)  # every migration since the first
    assert current_revision(empty) == current_revision(another_empty) == SCHEMA_REVISION
    assert differences_from_the_models(empty) == []
    made, migrated = schema_of(empty), schema_of(another_empty)
    assert set(made) == set(migrated)
    for table in made:
        assert made[table] == migrated[table], table


# The messages table as it was up to revision 0005, when it held the raw bytes.
_MESSAGES_0005 = sa.table(
    "messages",
    *(sa.column(name) for name in ("id", "source", "source_key", "sha256", "raw", "size", "state")),
    sa.column("received_at", UtcDateTime()),
    sa.column("ingested_at", UtcDateTime()),
)


def test_an_older_database_is_migrated_forward_with_what_it_holds(empty: Engine) -> None:
    migrate(empty, "0004")
    received = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    with empty.begin() as conn:
        conn.execute(
            insert(_MESSAGES_0005).values(id=7, raw=b"the message", state="stored", **_message_row("c" * 64))
        )
        conn.execute(
            insert(Event).values(
                at=received, actor="inboxbot", action="message stored", message_id=7, detail={}
            )
        )
    ensure_schema(empty)
    assert current_revision(empty) == SCHEMA_REVISION
    assert differences_from_the_models(empty) == []
    with empty.connect() as conn:
        stored = conn.execute(select(StoredMessage.id, StoredMessage.sha256, StoredMessage.raw)).all()
        assert [tuple(row) for row in stored] == [(7, "c" * 64, b"the message")]
        # Moving the bytes out of the messages table left what refers to a message alone.
        assert conn.execute(select(Event.message_id)).scalars().all() == [7]


def test_going_back_to_0005_puts_the_bytes_back_in_the_messages_table(empty: Engine) -> None:
    from alembic import command

    migrate(empty, "0005")
    with empty.begin() as conn:
        conn.execute(
            insert(_MESSAGES_0005).values(id=7, raw=b"the message", state="stored", **_message_row("d" * 64))
        )
    migrate(empty)
    config = alembic_config()
    with empty.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    assert current_revision(empty) == "0005"
    with empty.connect() as conn:
        assert "message_bodies" not in inspect(conn).get_table_names()
        back = conn.execute(select(_MESSAGES_0005.c.id, _MESSAGES_0005.c.raw)).all()
        assert [tuple(row) for row in back] == [(7, b"the message")]


def test_a_database_at_the_code_s_revision_is_left_alone_without_loading_alembic(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [name for name in sys.modules if name.split(".")[0] == "alembic"] + ["alembic"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
    ensure_schema(engine)
    assert current_revision(engine) == SCHEMA_REVISION


def _message_row(sha: str, received: datetime = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)) -> dict[str, Any]:
    return {
        "source": "test",
        "source_key": sha,
        "sha256": sha,
        "size": 1,
        "received_at": received,
        "ingested_at": received,
    }


def _message(sha: str, received: datetime) -> StoredMessage:
    return StoredMessage(**_message_row(sha, received))


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


def test_every_sqlite_connection_is_set_up_for_a_mailbox_s_worth_of_writes(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'inboxbot.sqlite3'}")
    try:
        for _ in range(2):  # each new connection, not just the first
            with engine.connect() as conn:
                settings = {
                    name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                    for name in ("journal_mode", "synchronous", "foreign_keys", "temp_store")
                }
                assert settings == {
                    "journal_mode": "wal",
                    "synchronous": 1,
                    "foreign_keys": 1,
                    "temp_store": 2,
                }
            engine.dispose()
    finally:
        engine.dispose()
