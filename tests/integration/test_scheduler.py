"""The scheduler ``inboxbot run`` builds, driven through APScheduler itself with the clock pinned.

Each report job must fire at its London wall-clock time on both sides of the
clock changes (08:00 London is 08:00 UTC in winter and 07:00 UTC in summer),
the quarterly report on the first working day of the quarter, and a report
missed while the service was down must run once as it starts, and never twice.
The spreadsheet must be rewritten within a tick of a change (at once after mail
is taken in), not otherwise, and a failure to write it must not stop anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import func, select

from inboxbot.adapters.db.models import OutboxItem
from inboxbot.config import Settings
from inboxbot.domain.report_schedule import REPORTS
from inboxbot.entrypoints import report_cmd
from inboxbot.entrypoints.context import CliState
from inboxbot.entrypoints.report_cmd import queue_overdue
from inboxbot.entrypoints.scheduler import build_scheduler, wake_spreadsheet
from inboxbot.service.ingest import IngestResult
from inboxbot.service.intake import IntakeResult
from tests.support.cli import run
from tests.support.sample import sample_council
from tests.support.scheduling import DrivenScheduler, PinnedClock, pin_apscheduler_clock

LONDON = ZoneInfo("Europe/London")
Drive = Callable[..., DrivenScheduler]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> PinnedClock:
    pinned = PinnedClock(datetime(2026, 1, 1, tzinfo=UTC))
    pin_apscheduler_clock(monkeypatch, pinned)
    return pinned


@pytest.fixture
def drive(clock: PinnedClock) -> Iterator[Drive]:
    """Starts the scheduler ``build_scheduler`` gives, at the pinned time; stopped afterwards."""
    started: list[DrivenScheduler] = []

    def start(cli: CliState, at: datetime, tick_seconds: int = 60) -> DrivenScheduler:
        clock.at = at
        driven = DrivenScheduler(build_scheduler(cli, clock=clock, tick_seconds=tick_seconds))
        started.append(driven)
        return driven

    yield start
    for driven in started:
        driven.stop()


def settings_only(tmp_path: Path, reports: str, calendar: str = "") -> CliState:
    """A council whose jobs are never run (only when they fire matters), so no database is touched."""
    config = tmp_path / "inboxbot.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[reports]\n{reports}\n{calendar}')
    return CliState(config_path=config)


def noop(*_args: object) -> None:
    """Stands in for a job's work."""


def fire_times(driven: DrivenScheduler, clock: PinnedClock, until: datetime) -> dict[str, list[datetime]]:
    """Run the scheduler from the pinned time to ``until``, waking exactly when it next has work;
    each report job's scheduled run times, as London wall-clock times."""
    for job in driven.scheduler.get_jobs():
        job.modify(func=noop)
    ran = driven.process()  # as the service starts
    while (upcoming := min(driven.next_run(report) for report in REPORTS)) <= until:
        assert upcoming >= clock.at, "the scheduler went back in time"
        clock.at = upcoming
        ran += driven.process()
    fired: dict[str, list[datetime]] = {report: [] for report in REPORTS}
    for job_id, scheduled in ran:
        if job_id in fired:
            fired[job_id].append(scheduled.astimezone(LONDON).replace(tzinfo=None))
    return fired


def at(day: str, hour: int, minute: int = 0) -> datetime:
    """A London wall-clock time, naive, for comparing with what fired."""
    return datetime.combine(date.fromisoformat(day), time(hour, minute))


TIMES = 'weekly_at = "08:00"\ndaily_at = "07:30"\nquarterly_at = "09:00"\nannual_at = "08:00"'


def test_reports_fire_at_london_time_across_the_spring_clock_change(
    tmp_path: Path, drive: Drive, clock: PinnedClock
) -> None:
    # Friday 20 March 2026; the clocks go forward on Sunday 29 March.
    driven = drive(settings_only(tmp_path, TIMES), datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    fired = fire_times(driven, clock, datetime(2026, 4, 8, 23, 0, tzinfo=UTC))
    # Monday 16 March's report was missed before the start: it runs at once, then every Monday at 08:00.
    mondays = ["2026-03-16", "2026-03-23", "2026-03-30", "2026-04-06"]
    assert fired["weekly"] == [at(day, 8) for day in mondays]
    working_days = ["2026-03-20", "2026-03-23", "2026-03-24", "2026-03-25", "2026-03-26", "2026-03-27"]
    working_days += ["2026-03-30", "2026-03-31", "2026-04-01", "2026-04-02", "2026-04-07", "2026-04-08"]
    assert fired["daily"] == [at(day, 7, 30) for day in working_days]  # not Good Friday, not Easter Monday
    assert fired["quarterly"] == [at("2026-04-01", 9)]
    assert fired["annual"] == [at("2026-04-01", 8)]
    # The same London time is a different UTC time on each side of the change.
    weekly = [when for job_id, when in driven.ran if job_id == "weekly"]
    assert [when.astimezone(UTC).hour for when in weekly] == [8, 8, 7, 7]


def test_reports_fire_at_london_time_across_the_autumn_clock_change(
    tmp_path: Path, drive: Drive, clock: PinnedClock
) -> None:
    # Friday 16 October 2026; the clocks go back on Sunday 25 October.
    driven = drive(settings_only(tmp_path, TIMES), datetime(2026, 10, 16, 12, 0, tzinfo=UTC))
    fired = fire_times(driven, clock, datetime(2026, 11, 3, 12, 0, tzinfo=UTC))
    mondays = ["2026-10-12", "2026-10-19", "2026-10-26", "2026-11-02"]
    assert fired["weekly"] == [at(day, 8) for day in mondays]
    weekly = [when for job_id, when in driven.ran if job_id == "weekly"]
    assert [when.astimezone(UTC).hour for when in weekly] == [7, 7, 8, 8]
    days = [date(2026, 10, 16) + timedelta(days=n) for n in range(19)]
    assert fired["daily"] == [at(day.isoformat(), 7, 30) for day in days if day.weekday() < 5]
    # The quarter began on Thursday 1 October, too long ago to catch up: next is January's.
    assert fired["quarterly"] == []
    # Friday 1 January 2027 is a bank holiday: the first working day is Monday 4 January.
    assert driven.next_run("quarterly") == datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    assert fired["annual"] == []


@pytest.mark.parametrize(
    ("start", "closure", "first_working_day"),
    [
        # Sunday 1 January 2023, and Monday 2 January is its substitute bank holiday.
        (datetime(2022, 12, 20, tzinfo=UTC), "", "2023-01-03"),
        # Friday 1 January 2027 is New Year's Day; the council also shuts on Monday 4 January.
        (datetime(2026, 12, 21, tzinfo=UTC), '[calendar]\nclosure_days = ["2027-01-04"]\n', "2027-01-05"),
        # Wednesday 1 April 2026 is an ordinary working day.
        (datetime(2026, 3, 20, tzinfo=UTC), "", "2026-04-01"),
    ],
)
def test_the_quarterly_report_fires_on_the_first_working_day_of_the_quarter(
    tmp_path: Path, drive: Drive, clock: PinnedClock, start: datetime, closure: str, first_working_day: str
) -> None:
    driven = drive(settings_only(tmp_path, TIMES, closure), start)
    fired = fire_times(driven, clock, start + timedelta(days=25))
    assert fired["quarterly"] == [at(first_working_day, 9)]


def keys_and_counts(cli: CliState) -> dict[str, int]:
    with cli.uow() as uow:
        rows = uow.session.execute(
            select(OutboxItem.dedupe_key, func.count())
            .where(OutboxItem.dedupe_key.like("report:%"))
            .group_by(OutboxItem.dedupe_key)
        ).all()
    return {key: count for key, count in rows}


def test_a_report_missed_while_the_service_was_down_runs_once_as_it_starts_and_never_twice(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    drive: Drive,
    clock: PinnedClock,
) -> None:
    cli = CliState(config_path=sample_council(tmp_path, monkeypatch, database_url, capsys))
    # The service was down from before Monday 30 March 08:00 until Wednesday 1 April 10:00 (BST).
    start = datetime(2026, 4, 1, 10, 0, tzinfo=LONDON)
    driven = drive(cli, start)
    # On start the missed moments are due at once: Monday's report, and today's 08:00 ones.
    assert driven.next_run("weekly") == datetime(2026, 3, 30, 8, 0, tzinfo=LONDON)
    assert driven.next_run("quarterly") == datetime(2026, 4, 1, 8, 0, tzinfo=LONDON)
    ran = [job_id for job_id, _ in driven.process()]
    assert sorted(ran) == sorted(REPORTS)  # each once, however many moments it had missed
    queued = keys_and_counts(cli)
    assert {"report:weekly:2026-03-30:ret", "report:weekly:2026-03-30:Housing Repairs"} <= set(queued)
    assert {"report:quarterly:2026 Q1", "report:annual:2025-26"} <= set(queued)
    assert set(queued.values()) == {1}
    # Their next moments are in the future now: five minutes on, no report job runs again.
    assert driven.next_run("weekly") == datetime(2026, 4, 6, 8, 0, tzinfo=LONDON)
    clock.advance(timedelta(minutes=5))
    assert [job_id for job_id, _ in driven.process() if job_id in REPORTS] == []
    # Restarted ten minutes later, the jobs catch up again, but nothing is queued twice.
    driven.stop()
    again = drive(cli, start + timedelta(minutes=10))
    assert sorted(job_id for job_id, _ in again.process()) == sorted(REPORTS)
    assert keys_and_counts(cli) == queued


def council_with_spreadsheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> tuple[CliState, Path]:
    path = tmp_path / "shared" / "ombudsman-cases.xlsx"
    extra = f'[reports]\nsend = false\nspreadsheet = "{path}"\n'
    return CliState(config_path=sample_council(tmp_path, monkeypatch, database_url, capsys, extra)), path


def test_the_spreadsheet_is_rewritten_within_a_tick_of_a_change_and_not_otherwise(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    drive: Drive,
    clock: PinnedClock,
) -> None:
    cli, path = council_with_spreadsheet(tmp_path, monkeypatch, database_url, capsys)
    driven = drive(cli, datetime(2026, 4, 1, 10, 0, tzinfo=LONDON), tick_seconds=60)
    assert driven.process() == []
    clock.advance(timedelta(seconds=2))  # the first check comes two seconds after start
    assert "spreadsheet" in [job_id for job_id, _ in driven.process()]
    written = path.stat().st_mtime_ns
    assert "rewritten" in capsys.readouterr().out
    clock.advance(timedelta(seconds=60))  # a tick later, with nothing changed: checked, not rewritten
    assert "spreadsheet" in [job_id for job_id, _ in driven.process()]
    assert path.stat().st_mtime_ns == written
    assert run(capsys, "case", "assign", "25 011 863", "Housing Repairs").code == 0
    clock.advance(timedelta(seconds=60))
    assert "spreadsheet" in [job_id for job_id, _ in driven.process()]
    assert path.stat().st_mtime_ns != written
    assert service_areas(path)["25 011 863"] == "Housing Repairs"


def service_areas(path: Path) -> dict[object, object]:
    """Each case's service area, by Ombudsman reference, as the spreadsheet shows it."""
    sheet = openpyxl.load_workbook(path)["Ombudsman cases"]
    return {row[1]: row[3] for row in sheet.iter_rows(min_row=2, values_only=True)}


def test_mail_taken_in_brings_the_spreadsheet_check_forward(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    drive: Drive,
    clock: PinnedClock,
) -> None:
    cli, path = council_with_spreadsheet(tmp_path, monkeypatch, database_url, capsys)
    driven = drive(cli, datetime(2026, 4, 1, 10, 0, tzinfo=LONDON), tick_seconds=60)
    clock.advance(timedelta(seconds=2))
    driven.process()
    clock.advance(timedelta(seconds=10))
    after_a_round = wake_spreadsheet(driven.scheduler, clock)
    after_a_round(IntakeResult(IngestResult()))  # a round that took nothing in: no hurry
    assert driven.next_run("spreadsheet") == datetime(2026, 4, 1, 10, 1, 2, tzinfo=LONDON)
    assert run(capsys, "case", "assign", "25 011 863", "Housing Repairs").code == 0
    after_a_round(IntakeResult(IngestResult(stored=[99])))  # a message came in
    assert driven.next_run("spreadsheet") == clock.at
    assert [job_id for job_id, _ in driven.process()] == ["spreadsheet"]  # now, not at the next tick
    assert service_areas(path)["25 011 863"] == "Housing Repairs"


def test_a_spreadsheet_that_cannot_be_written_is_logged_and_the_service_carries_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    drive: Drive,
    clock: PinnedClock,
) -> None:
    cli, path = council_with_spreadsheet(tmp_path, monkeypatch, database_url, capsys)
    path.parent.write_text("a file where the spreadsheet's folder should be")
    driven = drive(cli, datetime(2026, 4, 1, 10, 0, tzinfo=LONDON), tick_seconds=60)
    clock.advance(timedelta(seconds=2))
    logger = logging.getLogger("inboxbot.entrypoints.scheduler")
    logger.addHandler(caplog.handler)  # the commands run above replaced the root logger's handlers
    try:
        ran = [job_id for job_id, _ in driven.process()]
    finally:
        logger.removeHandler(caplog.handler)
    assert ran == ["tick", "spreadsheet"]  # the job ended normally: it caught its own failure
    assert "not written" in caplog.text
    assert str(path) in caplog.text
    clock.advance(timedelta(seconds=60))
    assert sorted(job_id for job_id, _ in driven.process()) == ["spreadsheet", "tick"]  # still scheduled
    path.parent.unlink()  # someone fixes the share
    clock.advance(timedelta(seconds=60))
    driven.process()
    assert "25 011 863" in service_areas(path)


def test_a_report_that_fails_is_tried_again_until_it_goes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    drive: Drive,
    clock: PinnedClock,
) -> None:
    cli = CliState(config_path=sample_council(tmp_path, monkeypatch, database_url, capsys))
    attempts: list[str] = []

    def away_at_first(cli: CliState, settings: Settings, which: str, day: date) -> int:
        attempts.append(which)
        if attempts.count("weekly") == 1 and which == "weekly":
            raise ConnectionError("the database server is restarting")
        return queue_overdue(cli, settings, which, day)

    monkeypatch.setattr(report_cmd, "queue_overdue", away_at_first)
    driven = drive(cli, datetime(2026, 4, 13, 8, 0, tzinfo=LONDON))  # a Monday, as the report falls due
    assert "weekly" in [job_id for job_id, _ in driven.process()]
    assert not [key for key in keys_and_counts(cli) if key.startswith("report:weekly:")]
    clock.advance(timedelta(minutes=5))
    assert "report retries" in [job_id for job_id, _ in driven.process()]
    weekly = {key for key in keys_and_counts(cli) if key.startswith("report:weekly:2026-04-13")}
    assert weekly == {"report:weekly:2026-04-13:ret", "report:weekly:2026-04-13:Housing Repairs"}
    clock.advance(timedelta(minutes=5))
    driven.process()
    assert attempts.count("weekly") == 2  # it went: not tried again
