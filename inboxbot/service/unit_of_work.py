"""A unit of work: one database transaction around one decision.

Nothing is committed unless the caller says so; leaving the block without
``commit()`` rolls back, so a failure half-way writes nothing. Each thread has
its own session, so one UnitOfWork can be shared by the scheduler's threads.
"""

from __future__ import annotations

import threading
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


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
        self.session.flush()
