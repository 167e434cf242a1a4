"""Alembic environment: runs against the connection inboxbot hands over, or
against the configured database when called from the `alembic` command."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from inboxbot.adapters.db.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Use the caller's connection when given one, else the configured database."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from inboxbot.adapters.db.engine import make_engine
    from inboxbot.config import load_settings

    engine = make_engine(load_settings().effective_database_url)
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
run_migrations_online()
