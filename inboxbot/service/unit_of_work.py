"""A unit of work: one database transaction around one decision.

Nothing is committed unless the caller says so; leaving the block without
``commit()`` rolls back, so a failure half-way writes nothing.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker


class UnitOfWork:
    """``with uow: ...; uow.commit()`` around a SQLAlchemy session."""

    def __init__(self, engine: Engine) -> None:
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The open session; only valid inside the ``with`` block."""
        if self._session is None:
            raise RuntimeError("unit of work used outside its with-block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        self._session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            self._session.rollback()
        finally:
            self._session.close()
            self._session = None

    def commit(self) -> None:
        """Make everything done in this unit permanent."""
        self.session.commit()

    def rollback(self) -> None:
        """Throw away everything done since the last commit."""
        self.session.rollback()
