"""What ``inboxbot run`` does when: its APScheduler jobs, in Europe/London time.

- ``tick`` every ``--tick-seconds`` (the first a second after start): reminders,
  invites, escalations, then the outbox;
- ``weekly``, ``daily``, ``quarterly``, ``annual``: each report at its own London
  wall-clock moment (``reports.weekly_at`` ...), on a :class:`ReportTrigger`
  that asks :mod:`inboxbot.domain.report_schedule` when to fire. On start, a
  moment missed while the service was down fires at once; the outbox's dedupe
  keys make sure a report never goes twice. A report that fails is tried again
  every five minutes (``report retries``) while its moment is recent enough;
- ``spreadsheet`` every ``--tick-seconds``, and at once after the mailbox watcher
  takes mail in: rewrite the Ombudsman spreadsheet when the audit trail has moved on.

Each job catches and logs its own failures, so no job can stop the service or the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from inboxbot.domain.calendar import LONDON, WorkingCalendar
from inboxbot.domain.report_schedule import (
    CATCH_UP,
    REPORTS,
    Report,
    first_moment,
    latest_moment,
    next_moment,
)
from inboxbot.entrypoints.context import CliState, utc_now
from inboxbot.entrypoints.wiring import acting, composer, invites, sending_rules, transport
from inboxbot.service.dispatch import dispatch
from inboxbot.service.intake import IntakeResult
from inboxbot.service.tick import tick

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SPREADSHEET_JOB = "spreadsheet"
RETRY_SECONDS = 300  # how often a report that failed is tried again


def say(text: str) -> None:
    """A plain line on stdout, flushed: this is what a supervisor's log shows."""
    print(text, flush=True)


class ReportTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 has no type hints
    """Fires at each scheduled moment of one report, in London wall-clock time.

    The first fire time (``previous_fire_time`` None, when the job is added as the
    service starts) is the latest moment already past when it was missed less than
    the report's catch-up window ago, so it runs at once; after that, the next moment.
    """

    __slots__ = ("at", "calendar", "report")

    def __init__(self, report: Report, at: time, calendar: WorkingCalendar) -> None:
        self.report = report
        self.at = at
        self.calendar = calendar

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime:
        """APScheduler's question: when next, after ``previous_fire_time`` (None: the first time)."""
        if previous_fire_time is None:
            return first_moment(self.report, now, self.at, self.calendar)
        return next_moment(self.report, previous_fire_time, self.at, self.calendar)

    def __str__(self) -> str:
        return f"{self.report} report at {self.at:%H:%M} London time"

    def __repr__(self) -> str:
        return f"ReportTrigger({self.report!r}, {self.at!r})"


def report_triggers(cli: CliState) -> dict[Report, ReportTrigger]:
    """The trigger of each report, from the configured times."""
    reports = cli.settings().reports
    calendar = cli.settings().working_calendar()
    times: dict[Report, time] = {
        "weekly": reports.weekly_at,
        "daily": reports.daily_at,
        "quarterly": reports.quarterly_at,
        "annual": reports.annual_at,
    }
    return {report: ReportTrigger(report, times[report], calendar) for report in REPORTS}


def tick_job(cli: CliState, clock: Clock) -> None:
    """Queue what is due, then send the outbox."""
    settings = cli.settings()
    now = clock()
    try:
        queued = tick(
            cli.uow(), acting(settings), invites(), settings.working_calendar(), sending_rules(settings), now
        )
        sender = transport(settings)
        try:
            sent = dispatch(cli.uow(), sender, composer(settings), now, daily_cap=settings.outgoing.daily_cap)
        finally:
            sender.close()
    except Exception:  # one bad tick must not stop the service; the next one tries again
        log.exception("tick failed")
        return
    if queued.queued or sent.sent or sent.failed:
        say(f"tick: queued {len(queued.queued)}, sent {len(sent.sent)}, failed {len(sent.failed)}")


def queue_due_report(cli: CliState, trigger: ReportTrigger, now: datetime) -> int:
    """Queue the report for its latest moment, unless that is older than its catch-up window;
    how many emails were queued (none when they were queued before)."""
    from inboxbot.domain.periods import financial_year, quarter_of
    from inboxbot.entrypoints.report_cmd import queue_overdue, queue_period

    settings = cli.settings()
    report = trigger.report
    moment = latest_moment(report, now, trigger.at, trigger.calendar)
    if now - moment.due_at >= CATCH_UP[report]:
        return 0
    if report in ("weekly", "daily"):
        return queue_overdue(cli, settings, report, moment.as_of)
    if report == "quarterly":
        return queue_period(cli, settings, "quarterly", quarter_of(moment.as_of))
    return queue_period(cli, settings, "annual", financial_year(moment.as_of.year - 1))


class FailedReports:
    """Reports whose last run failed (the database was away at 08:00, say): the ``report retries``
    job tries them again every few minutes, until they go or their moment is too old to send."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reports: set[Report] = set()

    def add(self, report: Report) -> None:
        """Note that ``report`` failed."""
        with self._lock:
            self._reports.add(report)

    def discard(self, report: Report) -> None:
        """Note that ``report`` went (or no longer needs to)."""
        with self._lock:
            self._reports.discard(report)

    def current(self) -> list[Report]:
        """The reports to try again, in a steady order."""
        with self._lock:
            return [report for report in REPORTS if report in self._reports]


def report_job(cli: CliState, trigger: ReportTrigger, clock: Clock, failed: FailedReports) -> None:
    """Queue one report (the next tick sends it)."""
    now = clock()
    try:
        queued = queue_due_report(cli, trigger, now)
    except Exception:  # a report that cannot be made must not stop the service
        log.exception("%s report failed; trying again in a few minutes", trigger.report)
        failed.add(trigger.report)
        return
    failed.discard(trigger.report)
    # Worked out here, not asked of the scheduler: a job calling back into APScheduler can
    # deadlock with its shutdown, which holds the job store's lock while waiting for jobs.
    next_at = next_moment(trigger.report, now, trigger.at, trigger.calendar)
    log.info("%s report: next at %s", trigger.report, describe(next_at))
    if queued:
        say(f"reports: queued {queued} ({trigger.report})")


def retry_reports_job(
    cli: CliState, triggers: dict[Report, ReportTrigger], clock: Clock, failed: FailedReports
) -> None:
    """Run again each report whose last run failed (each gives up once its moment is too old)."""
    for report in failed.current():
        report_job(cli, triggers[report], clock, failed)


def spreadsheet_job(cli: CliState, clock: Clock) -> None:
    """Rewrite the Ombudsman spreadsheet if anything changed since it was last written."""
    from inboxbot.adapters.spreadsheet import KeptSpreadsheet
    from inboxbot.service.spreadsheet_keeper import keep_spreadsheet_current

    settings = cli.settings()
    path = settings.reports.spreadsheet
    if path is None:
        return
    try:
        written = keep_spreadsheet_current(
            cli.uow(), KeptSpreadsheet(path), settings.working_calendar(), clock()
        )
    except Exception as exc:  # open in Excel, a full disk...: say so, and try again next time
        log.warning(
            "spreadsheet %s not written (%s: %s); trying again at the next tick",
            path,
            type(exc).__name__,
            exc,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        return
    if written:
        say(f"spreadsheet: rewritten {path}")


def build_scheduler(cli: CliState, *, clock: Clock = utc_now, tick_seconds: int = 60) -> BackgroundScheduler:
    """The scheduler ``inboxbot run`` starts, with its jobs added (not started).

    ``clock`` is what the jobs take as now; APScheduler keeps its own clock for
    when to fire (tests pin both).
    """
    settings = cli.settings()
    scheduler = BackgroundScheduler(timezone=LONDON)
    start = clock()
    every = IntervalTrigger(seconds=tick_seconds, start_date=start, timezone=LONDON)
    scheduler.add_job(
        tick_job,
        every,
        args=[cli, clock],
        next_run_time=start + timedelta(seconds=1),  # catch up at once after a restart
        coalesce=True,
        max_instances=1,
        misfire_grace_time=tick_seconds,  # a late tick still runs (once), rather than being dropped
        id="tick",
        name="tick",
    )
    if settings.reports.send:
        triggers = report_triggers(cli)
        failed = FailedReports()
        for report, trigger in triggers.items():
            scheduler.add_job(
                report_job,
                trigger,
                args=[cli, trigger, clock, failed],
                coalesce=True,  # however many moments were missed, the report goes once
                max_instances=1,
                misfire_grace_time=None,  # however late: the trigger decides what is too old
                id=report,
                name=f"{report} report",
            )
        scheduler.add_job(
            retry_reports_job,
            IntervalTrigger(
                seconds=RETRY_SECONDS, start_date=start + timedelta(seconds=RETRY_SECONDS), timezone=LONDON
            ),
            args=[cli, triggers, clock, failed],
            coalesce=True,
            max_instances=1,
            misfire_grace_time=RETRY_SECONDS,
            id="report retries",
            name="report retries",
        )
    if settings.reports.spreadsheet is not None:
        scheduler.add_job(
            spreadsheet_job,
            IntervalTrigger(seconds=tick_seconds, start_date=start, timezone=LONDON),
            args=[cli, clock],
            next_run_time=start + timedelta(seconds=2),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=tick_seconds,
            id=SPREADSHEET_JOB,
            name="spreadsheet",
        )

    return scheduler


def describe(when: datetime | None) -> str:
    """A fire time as people in the office read it."""
    return when.astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z") if when else "never"


def wake_spreadsheet(scheduler: BackgroundScheduler, clock: Clock) -> Callable[[IntakeResult], None]:
    """For the mailbox watcher: after a round that took mail in, check the spreadsheet at once."""

    def on_round(result: IntakeResult) -> None:
        took_in: list[Any] = [
            *result.ingested.stored,
            *result.processed.classified,
            *result.processed.quarantined,
            *result.registered.linked,
            *result.registered.opened,
        ]
        if not took_in:
            return
        try:
            scheduler.modify_job(SPREADSHEET_JOB, next_run_time=clock())
        except Exception:  # no spreadsheet job, or the service is stopping: the interval will do
            log.debug("could not bring the spreadsheet check forward", exc_info=True)

    return on_round
