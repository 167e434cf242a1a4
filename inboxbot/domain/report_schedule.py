"""When each report is due: the latest scheduled moment at or before now (pure).

The service asks this on every tick and queues a report once per moment (the
outbox's dedupe key carries it), so a report missed while the service was down
goes once on start, and never twice. Moments are London wall-clock times, so
they stay at 08:00 across the clock changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from inboxbot.domain.calendar import LONDON, WorkingCalendar


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


def next_moments(
    now: datetime, calendar: WorkingCalendar, weekly: time, daily: time, quarterly: time, annual: time
) -> dict[str, datetime]:
    """When each report is next due after ``now`` (for ``inboxbot status``)."""
    local = now.astimezone(LONDON)
    last_week = latest_weekly(now, weekly).as_of
    last_day = latest_daily(now, daily, calendar).as_of
    quarter_start = date(local.year, 3 * ((local.month - 1) // 3) + 1, 1)
    next_quarter = (
        date(quarter_start.year + 1, 1, 1)
        if quarter_start.month == 10
        else date(quarter_start.year, quarter_start.month + 3, 1)
    )
    this_april = _at(_first_working_day(date(local.year, 4, 1), calendar), annual)
    next_april = (
        this_april
        if this_april > local
        else _at(_first_working_day(date(local.year + 1, 4, 1), calendar), annual)
    )
    this_quarter = _at(_first_working_day(quarter_start, calendar), quarterly)
    return {
        "weekly": _at(last_week + timedelta(days=7), weekly),
        "daily": _at(calendar.next_working_day(last_day), daily),
        "quarterly": this_quarter
        if this_quarter > local
        else _at(_first_working_day(next_quarter, calendar), quarterly),
        "annual": next_april,
    }
