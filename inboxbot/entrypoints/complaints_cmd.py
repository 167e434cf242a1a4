"""``inboxbot cases import FILE.csv``: load the council's complaints register."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer

from inboxbot.entrypoints.context import UsageProblem, state, utc_now
from inboxbot.service.complaints import RegisterFileError, import_register, read_register


def cases_import(ctx: typer.Context, words: list[str], dry_run: bool) -> None:
    """Add or update the complaints in a register CSV so new cases go to the original service area."""
    if len(words) != 1:
        raise UsageProblem("usage: inboxbot cases import FILE.csv [--dry-run]")
    cli = state(ctx)
    settings = cli.settings()
    try:
        rows = read_register(Path(words[0]), settings.register)
    except RegisterFileError as exc:
        raise UsageProblem(str(exc)) from None
    result = import_register(
        cli.uow(),
        rows,
        settings.register,
        utc_now,
        known_areas=[area.name for area in settings.directory.service_areas],
        dry_run=dry_run,
        actor=getpass.getuser(),
    )
    typer.echo(("dry run, nothing kept: " if dry_run else "") + result.summary())
    for problem in result.problems:
        typer.echo(problem)
