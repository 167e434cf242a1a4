"""The worker lock on PostgreSQL: one holder per schema, whatever else uses the database."""

from __future__ import annotations

from pathlib import Path

import pytest

from inboxbot.adapters.db.engine import make_engine
from inboxbot.adapters.db.lock import WorkerLock
from tests.support.databases import postgres_schema


@pytest.mark.postgres
def test_one_holder_per_schema_and_other_schemas_are_not_held_up(tmp_path: Path) -> None:
    with postgres_schema() as one, postgres_schema() as other:
        engines = [make_engine(url) for url in (one, one, other)]
        first, second, elsewhere = (WorkerLock(engine, tmp_path / "unused.lock") for engine in engines)
        try:
            assert first.try_acquire()
            assert not second.try_acquire()  # the same schema: a standby
            assert elsewhere.try_acquire()  # another council's schema in the same database
            first.release()
            assert second.try_acquire()  # taken over once let go
        finally:
            for lock in (first, second, elsewhere):
                lock.release()
            for engine in engines:
                engine.dispose()
