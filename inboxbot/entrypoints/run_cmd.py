"""``inboxbot run``: the long-running service, and ``inboxbot health`` for monitoring.

The service takes the worker lock (a standby waits for it on PostgreSQL; a
second instance on SQLite refuses to start), watches the mailbox in a thread
and runs its jobs on APScheduler (see :mod:`inboxbot.entrypoints.scheduler`):
``tick`` every minute, each report at its London time, the spreadsheet after
every change. All state lives in the database, so a restart loses nothing and
the first tick on start catches up with whatever was missed. SIGTERM or Ctrl-C
stops it within seconds.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy import func, select

from inboxbot.adapters.db.lock import LockError, WorkerLock
from inboxbot.adapters.db.models import OutboxItem, SourcePosition
from inboxbot.adapters.mail.sources import open_source
from inboxbot.domain.kinds import OutboxStatus
from inboxbot.domain.report_schedule import REPORTS
from inboxbot.entrypoints.context import state, utc_now
from inboxbot.entrypoints.mail_cmd import filing_of, service_keywords
from inboxbot.entrypoints.wiring import acting
from inboxbot.service.classifying import classify_settings
from inboxbot.service.intake import watch

log = logging.getLogger(__name__)


def run_cmd(
    ctx: typer.Context,
    tick_seconds: Annotated[int, typer.Option("--tick-seconds", min=5, help="How often to tick.")] = 60,
    standby_seconds: Annotated[
        int, typer.Option("--standby-seconds", min=1, help="How often a standby tries to take over.")
    ] = 10,
) -> None:
    """Run the service: watch the mailbox and do the time-based work, until stopped."""
    # APScheduler (with the entry points it scans) is imported only by the command that runs it.
    from inboxbot.entrypoints.scheduler import build_scheduler, describe, say, wake_spreadsheet

    cli = state(ctx)
    settings = cli.settings()
    _service_logging(settings.logging.level, settings.logging.json_logs, cli.verbose)
    engine = cli.engine()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    lock_file = settings.data_dir / "inboxbot.lock"
    lock = WorkerLock(engine, lock_file)
    if not lock.try_acquire():
        if not lock.postgres:
            raise LockError(f"another inboxbot is already running on this database (lock file {lock_file})")
        say("standby: another instance is working; waiting to take over")
        if not lock.wait(stop, every=float(standby_seconds)):
            say("stopped")
            return
    say("working")
    scheduler = build_scheduler(cli, clock=utc_now, tick_seconds=tick_seconds)
    scheduler.start()
    for job in scheduler.get_jobs():
        if job.id in REPORTS:
            when = job.next_run_time
            if when is not None and when <= utc_now():  # missed while the service was down
                say(f"{job.name}: missed at {describe(when)}; going now")
            else:
                say(f"{job.name}: next at {describe(when)}")
    watcher = None
    if settings.mailbox.source:
        url = settings.mailbox.source
        judgement = classify_settings(settings)
        watcher = threading.Thread(
            target=watch,
            args=(lambda: open_source(url, settings.mailbox), cli.uow(), judgement, utc_now, stop),
            kwargs={
                "filing": filing_of(settings),
                "service_keywords": service_keywords(settings),
                "acting": acting(settings),
                "poll_seconds": settings.mailbox.poll_seconds,
                "on_round": wake_spreadsheet(scheduler, utc_now),
            },
            name="watch",
            daemon=True,
        )
        watcher.start()
    try:
        while not stop.wait(2.0):
            if not lock.still_held():
                say("lost the database connection that holds the worker lock; stopping")
                stop.set()
    finally:
        scheduler.shutdown(wait=True)
        if watcher is not None:
            watcher.join(timeout=15)
        lock.release()
        say("stopped")


def health_cmd(ctx: typer.Context) -> None:
    """Exit 0 when the database answers and no mailbox or outbox is failing; 1 otherwise (for monitoring)."""
    cli = state(ctx)
    with cli.uow() as uow:
        failed = uow.session.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.status == OutboxStatus.FAILED.value)
        )
        broken = [
            row.source
            for row in uow.session.scalars(
                select(SourcePosition).where(SourcePosition.last_error.is_not(None))
            )
        ]
    problems = []
    if failed:
        problems.append(f"{failed} emails failed to send")
    if broken:
        problems.append(f"mailbox not readable: {', '.join(broken)}")
    if problems:
        typer.echo("unhealthy: " + "; ".join(problems))
        sys.exit(1)
    typer.echo("healthy")


class _JsonLines(logging.Formatter):
    """One JSON object per log line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _service_logging(level: str, as_json: bool, verbose: bool) -> None:
    """The service logs at the configured level (DEBUG with -v), as JSON lines when asked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonLines() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=logging.DEBUG if verbose else level, handlers=[handler], force=True)


def purge_cmd(
    ctx: typer.Context,
    closed_before: Annotated[
        str, typer.Option("--closed-before", help="Remove cases closed before this date.")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be removed.")] = False,
) -> None:
    """Remove closed cases and their mail after the retention period (an anonymised audit record stays)."""
    import getpass

    from inboxbot.entrypoints.calendar_cmd import parse_date
    from inboxbot.service.purge import purge_closed

    day = parse_date(closed_before, "--closed-before")
    result = purge_closed(state(ctx).uow(), day, utc_now(), actor=getpass.getuser(), dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    typer.echo(
        f"{verb} {len(result.cases)} closed cases and {result.messages} messages (closed before {day})"
    )
