"""``inboxbot db``: the database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from inboxbot.adapters.db.engine import current_revision, head_revision, make_engine, safe_url, upgrade
from inboxbot.entrypoints.context import state

app = typer.Typer(help="Create or upgrade the database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be upgraded.")] = False,
) -> None:
    """Bring the database schema up to date (commands that need it do this themselves)."""
    url = state(ctx).settings().effective_database_url
    engine = make_engine(url)
    before, head = current_revision(engine), head_revision()
    if before == head:
        typer.echo(f"database {safe_url(url)} is up to date (revision {head})")
        return
    if dry_run:
        typer.echo(f"would upgrade {safe_url(url)} from {before or 'empty'} to {head}")
        return
    upgrade(engine)
    typer.echo(f"upgraded {safe_url(url)} from {before or 'empty'} to {head}")


@app.command("status")
def status(ctx: typer.Context) -> None:
    """Show which schema revision the database is at."""
    url = state(ctx).settings().effective_database_url
    engine = make_engine(url)
    current, head = current_revision(engine), head_revision()
    behind = "" if current == head else " (behind: run `inboxbot db upgrade`)"
    typer.echo(f"{safe_url(url)}: revision {current or 'empty'}, code expects {head}{behind}")
