"""``inboxbot calendar``: working days as the bot counts them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from inboxbot.domain.calendar import MAX_WORKING_DAYS
from inboxbot.entrypoints.context import UsageProblem, state

app = typer.Typer(help="Working days: add them to a date, list the bank holidays.", no_args_is_help=True)


def parse_date(text: str, what: str = "DATE") -> date:
    """An ISO date from the command line, or a usage problem naming the argument."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageProblem(f"{what} must be a date like 2026-03-14 (got {text!r})") from None


# ignore_unknown_options lets "-3" reach the range check instead of looking like an option.
@app.command("add", context_settings={"ignore_unknown_options": True})
def add(
    ctx: typer.Context,
    start: Annotated[str, typer.Argument(metavar="DATE", help="Start date, e.g. 2026-03-14.")],
    n: Annotated[int, typer.Argument(metavar="N", help="Number of working days to add (0 or more).")],
) -> None:
    """Print the date that is N working days after DATE."""
    day = parse_date(start)
    if not 0 <= n <= MAX_WORKING_DAYS:
        raise UsageProblem(f"N must be between 0 and {MAX_WORKING_DAYS} (got {n})")
    calendar = state(ctx).settings().working_calendar()
    typer.echo(calendar.add_working_days(day, n).isoformat())


@app.command("between")
def between(
    ctx: typer.Context,
    start: Annotated[str, typer.Argument(metavar="START", help="First date (not counted).")],
    end: Annotated[str, typer.Argument(metavar="END", help="Last date (counted).")],
) -> None:
    """Print how many working days there are after START up to and including END."""
    first, last = parse_date(start, "START"), parse_date(end, "END")
    if abs((last - first).days) > MAX_WORKING_DAYS * 2:
        raise UsageProblem("START and END are too far apart")
    calendar = state(ctx).settings().working_calendar()
    typer.echo(str(calendar.working_days_between(first, last)))


@app.command("holidays")
def holidays_(
    ctx: typer.Context,
    year: Annotated[int, typer.Argument(metavar="YEAR", help="A year, e.g. 2026.")],
) -> None:
    """Print each non-working weekday of YEAR: ISO date, then its name."""
    if not 1900 <= year <= 2200:
        raise UsageProblem(f"YEAR must be between 1900 and 2200 (got {year})")
    calendar = state(ctx).settings().working_calendar()
    for day, name in calendar.non_working_weekdays(year):
        typer.echo(f"{day.isoformat()} {name}")
