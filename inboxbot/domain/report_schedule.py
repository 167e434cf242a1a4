"""When each report is due: the latest scheduled moment at or before now, and the next (pure).

``inboxbot run`` gives each report its own scheduler job whose trigger asks
:func:`next_moment` when to fire next, and on start fires at once for a moment
missed while the service was down (:func:`first_moment`, within the report's
:data:`CATCH_UP` window). A report is queued once per moment (the outbox's
dedupe key carries it), so a missed report goes once on start, and never twice.
Moments are London wall-clock times, so they stay at 08:00 across the clock changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from inboxbot.domain.calendar import LONDON, WorkingCalendar

Report = Literal["weekly", "daily", "quarterly", "annual"]
REPORTS: tuple[Report, ...] = ("weekly", "daily", "quarterly", "annual")

# How late a missed report still goes after a restart; an older one is skipped, not sent stale.
CATCH_UP: dict[Report, timedelta] = {
    "weekly": timedelta(days=7),
    "daily": timedelta(days=2),
    "quarterly": timedelta(days=7),
    "annual": timedelta(days=7),
}


@dataclass(frozen=True)
class Moment:
    """A scheduled report: which, when it was due, and the day it reports on."""

    report: str  # weekly, daily, quarterly, annual
    due_at: datetime
    as_of: date


def _at(day: date, when: time) -> datetime:
    return datetime.combine(day, when, tzinfo=LONDON)


def _first_working_day(day: date, calendar: WorkingCalendar) -> date:
    return day if calendar.is_working_day(day) else calendar.next_working_day(day)


def latest_weekly(now: datetime, when: time) -> Moment:
    """Monday at ``when``, this week or last."""
    local = now.astimezone(LONDON)
    monday = local.date() - timedelta(days=local.weekday())
    if _at(monday, when) > local:
        monday -= timedelta(days=7)
    return Moment("weekly", _at(monday, when), monday)


def latest_daily(now: datetime, when: time, calendar: WorkingCalendar) -> Moment:
    """The latest working day at ``when``."""
    local = now.astimezone(LONDON)
    day = local.date()
    if not calendar.is_working_day(day) or _at(day, when) > local:
        day = calendar.add_working_days(day, -1)
    return Moment("daily", _at(day, when), day)


def latest_quarterly(now: datetime, when: time, calendar: WorkingCalendar) -> Moment:
    """The first working day of this quarter (or last) at ``when``; it reports on the quarter before."""
    local = now.astimezone(LONDON)
    start = date(local.year, 3 * ((local.month - 1) // 3) + 1, 1)
    due = _first_working_day(start, calendar)
    if _at(due, when) > local:
        start = date(start.year - 1, 10, 1) if start.month == 1 else date(start.year, start.month - 3, 1)
        due = _first_working_day(start, calendar)
    return Moment("quarterly", _at(due, when), start - timedelta(days=1))


def latest_annual(now: datetime, when: time, calendar: WorkingCalendar, month: int = 4) -> Moment:
    """The first working day of ``month`` (April: after the financial year) at ``when``."""
    local = now.astimezone(LONDON)
    start = date(local.year, month, 1)
    due = _first_working_day(start, calendar)
    if _at(due, when) > local:
        start = date(local.year - 1, month, 1)
        due = _first_working_day(start, calendar)
    return Moment("annual", _at(due, when), start - timedelta(days=1))


def latest_moment(report: Report, now: datetime, when: time, calendar: WorkingCalendar) -> Moment:
    """The latest scheduled moment of ``report`` at or before ``now``."""
    if report == "weekly":
        return latest_weekly(now, when)
    if report == "daily":
        return latest_daily(now, when, calendar)
    if report == "quarterly":
        return latest_quarterly(now, when, calendar)
    return latest_annual(now, when, calendar)


def next_moment(report: Report, after: datetime, when: time, calendar: WorkingCalendar) -> datetime:
    """The first scheduled moment of ``report`` strictly after ``after``."""
    latest = latest_moment(report, after, when, calendar)
    if report == "weekly":
        return _at(latest.as_of + timedelta(days=7), when)
    if report == "daily":
        return _at(calendar.next_working_day(latest.as_of), when)
    start = latest.as_of + timedelta(days=1)  # the first day of the period the latest moment opened
    if report == "quarterly":
        start = date(start.year + 1, 1, 1) if start.month == 10 else date(start.year, start.month + 3, 1)
    else:
        start = date(start.year + 1, start.month, 1)
    return _at(_first_working_day(start, calendar), when)


def first_moment(report: Report, now: datetime, when: time, calendar: WorkingCalendar) -> datetime:
    """When a service starting at ``now`` should first run ``report``: at once (the latest moment,
    already past) when that was missed less than its :data:`CATCH_UP` ago, else the next moment."""
    latest = latest_moment(report, now, when, calendar)
    if now - latest.due_at < CATCH_UP[report]:
        return latest.due_at
    return next_moment(report, now, when, calendar)


def next_moments(
    now: datetime, calendar: WorkingCalendar, weekly: time, daily: time, quarterly: time, annual: time
) -> dict[str, datetime]:
    """When each report is next due after ``now`` (for ``inboxbot status``)."""
    times: dict[Report, time] = {"weekly": weekly, "daily": daily, "quarterly": quarterly, "annual": annual}
    return {report: next_moment(report, now, times[report], calendar) for report in REPORTS}
