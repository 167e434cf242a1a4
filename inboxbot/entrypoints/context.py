"""What every command shares: the loaded settings and the database, made on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import typer
from sqlalchemy import Engine

from inboxbot.adapters.db.engine import ensure_schema, make_engine
from inboxbot.config import Settings, load_settings
from inboxbot.service.unit_of_work import UnitOfWork


class UsageProblem(Exception):
    """The command was given something it cannot use (exit code 2)."""


def utc_now() -> datetime:
    """The real clock, aware and in UTC. Commands take it as a parameter below here."""
    return datetime.now(UTC)


@dataclass
class CliState:
    """Options from the top-level command, and what is built from them."""

    config_path: Path | None = None
    verbose: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """The settings, loaded once (raises ConfigError)."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def engine(self) -> Engine:
        """The database, with its schema brought up to date (raises DatabaseError)."""
        if self._engine is None:
            engine = make_engine(self.settings().effective_database_url)
            ensure_schema(engine)
            self._engine = engine
        return self._engine

    def uow(self) -> UnitOfWork:
        """A fresh unit of work on the database."""
        return UnitOfWork(self.engine())


def state(ctx: typer.Context) -> CliState:
    """The shared state of the running command."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState()
