"""``inboxbot config``: check a configuration file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inboxbot.config import load_settings
from inboxbot.entrypoints.context import state

app = typer.Typer(help="Check the configuration.", no_args_is_help=True)


@app.command("check")
def check(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="Config file; default the one given with --config.")
    ] = None,
) -> None:
    """Validate a config file (and INBOXBOT_ environment variables); exit 2 naming each bad key."""
    target = path or state(ctx).config_path
    settings = load_settings(target)
    where = str(target) if target else "built-in defaults"
    typer.echo(f"config OK: {where}")
    typer.echo(f"  database: {settings.effective_database_url.split('://')[0]}")
    typer.echo(f"  outgoing mail: {settings.outgoing.transport} -> {settings.outbox_folder}")
