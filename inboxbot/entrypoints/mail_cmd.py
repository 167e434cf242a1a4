"""``inboxbot ingest``, ``inboxbot quarantine`` and ``inboxbot status``: mail in, and its state."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy import func, select

from inboxbot.adapters.db.models import OutboxItem, SourcePosition, StoredMessage
from inboxbot.adapters.mail.files import SourceError
from inboxbot.adapters.mail.sources import open_source
from inboxbot.config import Settings
from inboxbot.domain.calendar import LONDON
from inboxbot.domain.kinds import MessageState
from inboxbot.domain.report_schedule import next_moments
from inboxbot.entrypoints.context import CliState, UsageProblem, state, utc_now
from inboxbot.entrypoints.wiring import acting
from inboxbot.service.classify_pool import start_early
from inboxbot.service.classifying import classify_settings
from inboxbot.service.ingest import record_source_error
from inboxbot.service.intake import Filing, IntakeResult, take_in, watch
from inboxbot.service.ports import ClosableSource, FetchedMessage, MailSource
from inboxbot.service.processing import Workers, classify_stored

log = logging.getLogger(__name__)
quarantine_app = typer.Typer(
    help="Messages that could not be read, classified or registered.", no_args_is_help=True
)


def source_url(settings: Settings, given: str | None) -> str:
    """The source to read: --source, else mailbox.source from the configuration."""
    url = given or settings.mailbox.source
    if not url:
        raise UsageProblem("no mail source: give --source URL or set mailbox.source in the configuration")
    return url


def service_keywords(settings: Settings) -> dict[str, list[str]]:
    """Each configured service area's keywords, for giving a new case its service area."""
    return {area.name: area.keywords for area in settings.directory.service_areas}


def workers_of(settings: Settings) -> Workers:
    """How many processes classify a backfill: mailbox.classify_workers, else one per CPU."""
    configured = settings.mailbox.classify_workers
    processes = (os.cpu_count() or 1) if configured is None else configured
    return Workers(processes=processes)


def filing_of(settings: Settings) -> Filing:
    """Where processed mail is filed, from the configuration."""
    return Filing(settings.mailbox.processed_folder, settings.mailbox.triage_folder)


@contextmanager
def opened(url: str, settings: Settings) -> Iterator[MailSource]:
    """The source, closed afterwards."""
    source = open_source(url, settings.mailbox)
    try:
        yield source
    finally:
        if isinstance(source, ClosableSource):
            source.close()


class _Reporter:
    """A progress bar on a terminal; plain log lines every so often elsewhere."""

    def __init__(self, total: int | None, console: Console) -> None:
        self.total = total
        self.seen = 0
        self.new = 0
        self.started = time.monotonic()
        self.progress: Progress | None = None
        if console.is_terminal:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.0f} msg/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=True,
            )
            self.task = self.progress.add_task("ingesting", total=total, rate=0.0)
        self.registering: TaskID | None = None
        self.register_started = 0.0

    def __enter__(self) -> _Reporter:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def registered(self, done: int, total: int) -> None:
        """Registering (after reading) has done ``done`` of ``total`` messages."""
        if not self.register_started:
            self.register_started = time.monotonic()
        rate = done / max(time.monotonic() - self.register_started, 1e-6)
        if self.progress is not None:
            if self.registering is None:
                self.registering = self.progress.add_task("registering", total=total, rate=0.0)
            self.progress.update(self.registering, completed=done, rate=rate)
        elif done % 500 == 0:
            log.warning("register: %s/%s messages registered, %.0f msg/s", done, total, rate)

    def __call__(self, fetched: FetchedMessage, is_new: bool) -> None:
        self.seen += 1
        self.new += int(is_new)
        rate = self.seen / max(time.monotonic() - self.started, 1e-6)
        if self.progress is not None:
            self.progress.update(self.task, advance=1, rate=rate)
        elif self.seen % 500 == 0:
            total = f"/{self.total}" if self.total is not None else ""
            log.warning("ingest: %s%s messages read, %s new, %.0f msg/s", self.seen, total, self.new, rate)


def _summary(result: IntakeResult, dry_run: bool) -> str:
    got = result.ingested
    if dry_run:
        return (
            f"dry run: {len(got.would_store)} new messages would be stored, {got.duplicates} already stored"
        )
    text = (
        f"{len(got.stored)} new, {got.duplicates} already stored; "
        f"{len(result.processed.classified)} classified, "
        f"{len(result.processed.quarantined)} quarantined; {len(result.registered.opened)} cases opened; "
        f"{result.filed} filed"
    )
    if result.registered.quarantined:
        text += f"; {len(result.registered.quarantined)} could not be registered (quarantined)"
    if result.filing_errors:
        text += f"; {len(result.filing_errors)} could not be filed (will retry)"
    return text


def ingest_cmd(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Mail source URL; default mailbox.source.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Stop after this many new messages.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would be stored.")] = False,
) -> None:
    """Store, classify and file new mail from the mailbox (one run; safe to repeat)."""
    cli = state(ctx)
    settings = cli.settings()
    url = source_url(settings, source)
    workers = workers_of(settings)
    if workers.processes and not dry_run:
        # Ready by the time a backfill needs workers: their start overlaps reading the rules
        # and connecting (a second on a big IMAP folder) instead of the first minutes of storing.
        start_early(workers.preload)
    judgement = classify_settings(settings)
    err = Console(stderr=True)
    with opened(url, settings) as mailbox, _Reporter(mailbox.count(), err) as reporter:
        try:
            result = take_in(
                mailbox,
                cli.uow(),
                judgement,
                utc_now,
                filing=filing_of(settings),
                service_keywords=service_keywords(settings),
                acting=acting(settings),
                limit=limit,
                dry_run=dry_run,
                on_message=reporter,
                workers=workers,
                on_registered=reporter.registered,
                holds=reporter.total,
            )
        except SourceError as exc:
            record_source_error(cli.uow(), mailbox.name, str(exc), utc_now())
            raise
    typer.echo(_summary(result, dry_run))


@quarantine_app.command("list")
def quarantine_list(ctx: typer.Context) -> None:
    """List quarantined messages with their errors."""
    cli = state(ctx)
    with cli.uow() as uow:
        rows = uow.session.execute(
            select(StoredMessage.id, StoredMessage.received_at, StoredMessage.sender, StoredMessage.error)
            .where(StoredMessage.state == MessageState.QUARANTINED.value)
            .order_by(StoredMessage.id)
        ).all()
    if not rows:
        typer.echo("no quarantined messages")
        return
    table = Table("#", "Received", "From", "Error")
    for message_id, received, sender, error in rows:
        table.add_row(
            str(message_id), received.astimezone(LONDON).strftime("%d %b %Y %H:%M"), sender or "", error or ""
        )
    Console().print(table)


@quarantine_app.command("retry")
def quarantine_retry(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None, typer.Argument(help="Message numbers; default every quarantined message.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be retried.")] = False,
) -> None:
    """Classify quarantined messages again (after a rules or software fix); the service or the
    next ingest then registers them."""
    cli = state(ctx)
    with cli.uow() as uow:
        query = select(StoredMessage).where(StoredMessage.state == MessageState.QUARANTINED.value)
        if ids:
            query = query.where(StoredMessage.id.in_(ids))
        messages = uow.session.scalars(query).all()
        if ids and len(messages) != len(set(ids)):
            missing = sorted(set(ids) - {m.id for m in messages})
            raise UsageProblem(f"not quarantined: {', '.join(map(str, missing))}")
        chosen = [m.id for m in messages]
        if dry_run:
            typer.echo(f"dry run: would retry {len(chosen)} messages")
            return
        for message in messages:
            message.state = MessageState.STORED.value
            message.error = None
        uow.commit()
    settings = cli.settings()
    result = classify_stored(cli.uow(), classify_settings(settings), utc_now, chosen, workers_of(settings))
    typer.echo(f"{len(result.classified)} classified, {len(result.quarantined)} still quarantined")


def status_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the mailbox contact, messages by state, quarantine and outbox."""
    report = status_report(state(ctx))
    if as_json:
        import json

        typer.echo(json.dumps(report, default=str))
        return
    out = Console(highlight=False, soft_wrap=True)
    messages = report["messages"]
    assert isinstance(messages, dict)
    out.print(
        "messages: " + ", ".join(f"{n} {s}" for s, n in sorted(messages.items()))
        if messages
        else "messages: none"
    )
    outbox = report["outbox"]
    assert isinstance(outbox, dict)
    out.print("outbox: " + (", ".join(f"{n} {s}" for s, n in sorted(outbox.items())) or "empty"))
    upcoming = report["next_reports"]
    assert isinstance(upcoming, dict)
    out.print("next reports (inboxbot run sends them): " + ", ".join(f"{k} {v}" for k, v in upcoming.items()))
    sources = report["sources"]
    assert isinstance(sources, list)
    for row in sources:
        contact = row["last_contact_at"] or "never"
        error = f"; last error: {row['last_error']}" if row["last_error"] else ""
        out.print(f"source {row['source']}: last contact {contact}{error}")


def status_report(cli: CliState) -> dict[str, object]:
    """Counts and last contacts, for ``status`` and ``health``."""
    with cli.uow() as uow:
        session = uow.session
        by_state = dict(
            session.execute(select(StoredMessage.state, func.count()).group_by(StoredMessage.state))
            .tuples()
            .all()
        )
        outbox = dict(
            session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status))
            .tuples()
            .all()
        )
        sources = [
            {
                "source": row.source,
                "last_contact_at": row.last_contact_at.astimezone(LONDON).isoformat(timespec="seconds")
                if row.last_contact_at
                else None,
                "last_error": row.last_error,
            }
            for row in session.scalars(select(SourcePosition).order_by(SourcePosition.source))
        ]
    settings = cli.settings()
    reports = settings.reports
    upcoming = next_moments(
        utc_now(),
        settings.working_calendar(),
        reports.weekly_at,
        reports.daily_at,
        reports.quarterly_at,
        reports.annual_at,
    )
    next_jobs = {name: when.isoformat(timespec="minutes") for name, when in upcoming.items()}
    return {"messages": by_state, "outbox": outbox, "sources": sources, "next_reports": next_jobs}


def watch_cmd(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Mail source URL; default mailbox.source.")
    ] = None,
) -> None:
    """Keep taking in new mail as it arrives (IMAP IDLE, else polling) until stopped."""
    cli = state(ctx)
    settings = cli.settings()
    url = source_url(settings, source)
    judgement = classify_settings(settings)
    open_source(url, settings.mailbox)  # fail fast on a bad URL before going quiet
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def report(result: IntakeResult) -> None:
        if result.ingested.stored:
            typer.echo(_summary(result, dry_run=False))

    typer.echo(f"watching {url.split('?')[0]} (Ctrl-C to stop)")
    watch(
        lambda: open_source(url, settings.mailbox),
        cli.uow(),
        judgement,
        utc_now,
        stop,
        filing=filing_of(settings),
        service_keywords=service_keywords(settings),
        acting=acting(settings),
        poll_seconds=settings.mailbox.poll_seconds,
        on_round=report,
        workers=workers_of(settings),
    )
    typer.echo("stopped")
