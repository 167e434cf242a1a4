"""Report moments with the clock pinned, across the clock changes and bank holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from inboxbot.domain.calendar import LONDON, WorkingCalendar
from inboxbot.domain.report_schedule import (
    CATCH_UP,
    REPORTS,
    Report,
    first_moment,
    latest_annual,
    latest_daily,
    latest_moment,
    latest_quarterly,
    latest_weekly,
    next_moment,
    next_moments,
)

CAL = WorkingCalendar.build()
EIGHT = time(8, 0)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_monday_report_is_at_eight_london_time_on_both_sides_of_the_clock_change() -> None:
    # Monday 30 March 2026 is BST: 08:00 London is 07:00 UTC.
    assert latest_weekly(utc("2026-03-30T06:59"), EIGHT).as_of == date(2026, 3, 23)
    assert latest_weekly(utc("2026-03-30T07:00"), EIGHT).as_of == date(2026, 3, 30)
    # Monday 26 October 2026 is GMT again: 08:00 London is 08:00 UTC.
    assert latest_weekly(utc("2026-10-26T07:30"), EIGHT).as_of == date(2026, 10, 19)
    assert latest_weekly(utc("2026-10-26T08:00"), EIGHT).due_at == utc("2026-10-26T08:00")


def test_the_daily_report_skips_weekends_and_bank_holidays() -> None:
    # Easter Monday 6 April 2026 at 10:00: the latest working day is Thursday 2 April.
    assert latest_daily(utc("2026-04-06T09:00"), EIGHT, CAL).as_of == date(2026, 4, 2)
    assert latest_daily(utc("2026-04-07T07:00"), EIGHT, CAL).as_of == date(2026, 4, 7)


def test_the_quarterly_report_is_on_the_first_working_day_of_the_quarter() -> None:
    # 1 January 2027 is a bank holiday (Friday): the Q4 report goes on Monday 4 January.
    moment = latest_quarterly(utc("2027-01-04T09:00"), EIGHT, CAL)
    assert (moment.due_at.date(), moment.as_of) == (date(2027, 1, 4), date(2026, 12, 31))
    earlier = latest_quarterly(utc("2027-01-01T12:00"), EIGHT, CAL)
    assert earlier.as_of == date(2026, 9, 30)


def test_the_annual_report_follows_the_financial_year() -> None:
    moment = latest_annual(utc("2026-04-01T09:00"), EIGHT, CAL)
    assert (moment.due_at.date(), moment.as_of) == (date(2026, 4, 1), date(2026, 3, 31))
    assert latest_annual(utc("2026-03-31T09:00"), EIGHT, CAL).as_of == date(2025, 3, 31)


def test_next_moments_for_status() -> None:
    upcoming = next_moments(utc("2026-11-23T11:00"), CAL, EIGHT, EIGHT, EIGHT, EIGHT)
    assert upcoming["weekly"].date() == date(2026, 11, 30)
    assert upcoming["daily"].date() == date(2026, 11, 24)
    assert upcoming["quarterly"].date() == date(2027, 1, 4)  # 1 January 2027 is a bank holiday
    assert upcoming["annual"] == datetime(2027, 4, 1, 7, 0, tzinfo=UTC)  # 08:00 BST


# Any minute from 2022 to 2030 (aware, UTC), and any whole-minute London time of day for a report.
instants = st.integers(0, 9 * 365 * 24 * 60).map(
    lambda m: datetime(2022, 1, 1, tzinfo=UTC) + timedelta(minutes=m)
)
report_times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@given(st.sampled_from(REPORTS), instants, report_times)
def test_the_next_moment_is_the_first_one_after(report: Report, after: datetime, when: time) -> None:
    following = next_moment(report, after, when, CAL)
    assert following > after
    # It is a moment of the report itself, at the configured London time...
    assert latest_moment(report, following, when, CAL).due_at == following
    # ...and there is none in between: just before it, the latest is still at or before ``after``.
    assert latest_moment(report, following - timedelta(microseconds=1), when, CAL).due_at <= after


@given(st.sampled_from(REPORTS), instants)
def test_a_service_starting_catches_up_only_within_the_window(report: Report, now: datetime) -> None:
    first = first_moment(report, now, EIGHT, CAL)
    latest = latest_moment(report, now, EIGHT, CAL).due_at
    if now - latest < CATCH_UP[report]:
        assert first == latest  # missed recently: at once
    else:
        assert first == next_moment(report, now, EIGHT, CAL) > now


def test_moments_are_london_wall_clock_times() -> None:
    spring = next_moment("weekly", utc("2026-03-24T12:00"), EIGHT, CAL)
    autumn = next_moment("weekly", utc("2026-10-20T12:00"), EIGHT, CAL)
    assert (spring, autumn) == (utc("2026-03-30T07:00"), utc("2026-10-26T08:00"))
    assert spring.astimezone(LONDON).time() == autumn.astimezone(LONDON).time() == EIGHT
