"""The ``inboxbot`` command.

Exit codes: 0 success, 1 failure (a server or database could not be used, a
step failed), 2 bad usage or configuration. Errors are one line on stderr; the
traceback only with ``-v``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from inboxbot import __version__
from inboxbot.adapters.db.engine import DatabaseError
from inboxbot.adapters.db.lock import LockError
from inboxbot.adapters.mail.files import SourceConfigError, SourceError
from inboxbot.adapters.sending import SendError
from inboxbot.config import ConfigError
from inboxbot.domain.calendar import CalendarError
from inboxbot.domain.rules import RuleError
from inboxbot.entrypoints import (
    calendar_cmd,
    cases_cmd,
    config_cmd,
    db_cmd,
    demo,
    explain_cmd,
    mail_cmd,
    report_cmd,
    run_cmd,
    work_cmd,
)
from inboxbot.entrypoints.context import CliState, UsageProblem

app = typer.Typer(
    name="inboxbot",
    help="Works the council's shared Ombudsman mailbox: reads, classifies, registers, chases and reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(calendar_cmd.app, name="calendar")
app.add_typer(config_cmd.app, name="config")
app.add_typer(db_cmd.app, name="db")
app.command("demo")(demo.demo)
app.command("explain")(explain_cmd.explain)
app.command("check-rules")(explain_cmd.check_rules)
app.command("ingest")(mail_cmd.ingest_cmd)
app.command("watch")(mail_cmd.watch_cmd)
app.command("status")(mail_cmd.status_cmd)
app.add_typer(mail_cmd.quarantine_app, name="quarantine")
app.command("cases")(cases_cmd.cases_cmd)
app.command("case")(cases_cmd.case_cmd)
app.command("triage")(cases_cmd.triage_cmd)
app.command("tick")(work_cmd.tick_cmd)
app.command("run")(run_cmd.run_cmd)
app.command("health")(run_cmd.health_cmd)
app.command("purge")(run_cmd.purge_cmd)
app.command("report")(report_cmd.report_cmd)
app.add_typer(report_cmd.export_app, name="export")
app.command("tasks")(work_cmd.tasks_cmd)
app.add_typer(work_cmd.task_app, name="task")

err = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"inboxbot {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Config file (TOML). Default: $INBOXBOT_CONFIG, else built-in defaults."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs and tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Works the council's shared Ombudsman mailbox."""
    _setup_logging(verbose)
    ctx.obj = CliState(config_path=config, verbose=verbose)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=verbose)],
        force=True,
    )


def _fail(lines: list[str], code: int) -> int:
    for line in lines:
        err.print(line, markup=False)
    return code


def main(argv: list[str] | None = None) -> None:
    """Entry point for the console script and ``python -m inboxbot``."""
    verbose = any(arg in ("-v", "--verbose") for arg in (argv if argv is not None else sys.argv[1:]))
    try:
        app(args=argv, prog_name="inboxbot")
    except SystemExit:
        raise
    except ConfigError as exc:
        sys.exit(_fail(exc.lines(), 2))
    except RuleError as exc:
        sys.exit(_fail([f"rule error: {line}" for line in str(exc).splitlines()], 2))
    except (UsageProblem, CalendarError, SourceConfigError) as exc:
        sys.exit(_fail([f"error: {exc}"], 2))
    except (DatabaseError, SourceError, SendError, LockError) as exc:
        sys.exit(_fail([f"error: {exc}"], 1))
    except KeyboardInterrupt:
        sys.exit(_fail(["interrupted"], 130))
    except Exception as exc:
        if verbose:
            raise
        sys.exit(_fail([f"error: {type(exc).__name__}: {exc} (run with -v for details)"], 1))
