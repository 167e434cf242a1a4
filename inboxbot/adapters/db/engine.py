"""Connecting to the database and bringing its schema up to date."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from inboxbot.adapters.db.models import Base
from inboxbot.resources import migrations_dir

if TYPE_CHECKING:  # Alembic is imported where it is used: commands that never touch the schema
    from alembic.config import Config  # (explain, check-rules, --help) start faster without it

log = logging.getLogger(__name__)


class DatabaseError(Exception):
    """The database cannot be reached or brought up to date."""


def safe_url(url: str) -> str:
    """The URL with any password masked, fit for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable database URL)"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # With WAL, NORMAL never corrupts the database and only a power cut (not a crash) can
    # lose the last commits; those messages are still in the mailbox and the resume point
    # rolls back with them, so they are fetched again. FULL would fsync every message.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Statement journals (a multi-row statement's undo log, kept so that a failed statement
    # can be undone inside its transaction) in memory, not in a temporary file each: storing
    # a batch of messages wrote megabytes of temporary files that were deleted at once.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite the folder is created and foreign keys enforced."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {safe_url(url)}") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(f"cannot create the folder for {database}: {exc.strerror}") from exc
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise DatabaseError(f"cannot use {safe_url(url)}: {exc}") from exc


def alembic_config() -> Config:
    """An Alembic configuration pointing at the bundled migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


# The schema revision this code is written for: the newest migration in migrations/versions.
# Kept here so that a command can see the database is up to date without loading Alembic
# (a third of a second); a test holds it to Alembic's own answer.
SCHEMA_REVISION = "0006"
# Alembic's record of the revision, as Alembic itself defines it (alembic.runtime.migration).
_ALEMBIC_VERSION = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(_ALEMBIC_VERSION.name):
                return None
            revisions = conn.execute(select(_ALEMBIC_VERSION.c.version_num)).scalars().all()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot connect to {safe_url(str(engine.url))}: {_first_line(exc)}") from exc
    return ",".join(sorted(revisions)) or None  # more than one only on branched migrations


def head_revision() -> str | None:
    """The newest revision the migrations know (read by Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; each migration runs in a transaction.

    An empty database brought to the newest revision is made from the models at once and
    stamped with it, as Alembic's documentation advises, rather than by running every
    migration since the first; the tests hold the two ways to the same schema.
    """
    try:
        if revision == "head" and _is_empty(engine):
            with engine.begin() as conn:
                Base.metadata.create_all(conn)
                _ALEMBIC_VERSION.create(conn)
                conn.execute(insert(_ALEMBIC_VERSION).values(version_num=SCHEMA_REVISION))
            return
        migrate(engine, revision)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot upgrade {safe_url(str(engine.url))}: {_first_line(exc)}") from exc


def migrate(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` (Alembic's upgrade)."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _is_empty(engine: Engine) -> bool:
    with engine.connect() as conn:
        return not inspect(conn).get_table_names()


def ensure_schema(engine: Engine) -> None:
    """Upgrade when the database is behind the code; cheap when it is not."""
    if current_revision(engine) != SCHEMA_REVISION:
        log.info("upgrading database schema")
        upgrade(engine)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
