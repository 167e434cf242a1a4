"""A unit of work: one database transaction around one decision.

Nothing is committed unless the caller says so; leaving the block without
``commit()`` rolls back, so a failure half-way writes nothing. Each thread has
its own session, so one UnitOfWork can be shared by the scheduler's threads.

Two helpers spare the ORM's per-object bookkeeping where a backfill does the same
small write or lookup thousands of times (an ORM flush costs far more than the
SQL it sends): :func:`defer` holds rows that nothing in the transaction reads
back and writes them with one statement per kind when it commits, and
:func:`first_value` looks up a plain value with Core after flushing, as an ORM
query would.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.sql.expression import Executable

# Where a session keeps its deferred rows: statement -> rows, in the order first deferred.
_DEFERRED = "inboxbot.deferred"


def defer(session: Session, statement: Executable, row: Mapping[str, Any]) -> None:
    """Write ``row`` with the Core ``statement`` when the transaction commits, or at
    :func:`write_deferred`; dropped with the transaction when it rolls back. Only for rows
    that nothing in the transaction reads before then, unless it calls write_deferred first."""
    if session.get_transaction() is None:
        session.begin()  # so that a rollback, even with nothing else done yet, drops the row
    pending: dict[Executable, list[Mapping[str, Any]]] = session.info.setdefault(_DEFERRED, {})
    pending.setdefault(statement, []).append(row)


def write_deferred(session: Session) -> None:
    """Write the rows deferred so far in this transaction (each statement's rows in order)."""
    pending: dict[Executable, list[Mapping[str, Any]]] | None = session.info.pop(_DEFERRED, None)
    if pending:
        connection = session.connection()
        for statement, rows in pending.items():
            connection.execute(statement, rows)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_deferred(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_deferred(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction is over, committed or not
        session.info.pop(_DEFERRED, None)


def first_value(session: Session, statement: Executable, values: Mapping[str, Any]) -> Any:
    """The first column of the first row of the Core ``statement`` (None when there is none),
    after flushing pending changes as an ORM query would."""
    session.flush()
    return session.connection().execute(statement, values).scalar()


class UnitOfWork:
    """``with uow: ...; uow.commit()`` around a SQLAlchemy session."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)
        self._local = threading.local()

    @property
    def session(self) -> Session:
        """This thread's open session; only valid inside the ``with`` block."""
        session: Session | None = getattr(self._local, "session", None)
        if session is None:
            raise RuntimeError("unit of work used outside its with-block")
        return session

    def __enter__(self) -> UnitOfWork:
        if getattr(self._local, "session", None) is not None:
            raise RuntimeError("unit of work entered twice in one thread")
        self._local.session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            session.rollback()
        finally:
            session.close()
            self._local.session = None

    def commit(self) -> None:
        """Make everything done in this unit permanent."""
        self.session.commit()

    def rollback(self) -> None:
        """Throw away everything done since the last commit."""
        self.session.rollback()


class DryRunUnitOfWork(UnitOfWork):
    """A unit of work that never commits: ``--dry-run`` runs the real code and throws the result away."""

    def commit(self) -> None:
        """Flush so the code sees its own changes, but keep nothing."""
        write_deferred(self.session)
        self.session.flush()
