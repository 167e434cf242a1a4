"""The working-day calendar against the published England and Wales bank holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inboxbot.domain.calendar import LONDON, CalendarError, WorkingCalendar

# Published by GOV.UK for England and Wales; only the days that fall on a weekday.
PUBLISHED = {
    2018: ["01-01", "03-30", "04-02", "05-07", "05-28", "08-27", "12-25", "12-26"],
    2019: ["01-01", "04-19", "04-22", "05-06", "05-27", "08-26", "12-25", "12-26"],
    2020: ["01-01", "04-10", "04-13", "05-08", "05-25", "08-31", "12-25", "12-28"],
    2021: ["01-01", "04-02", "04-05", "05-03", "05-31", "08-30", "12-27", "12-28"],
    2022: ["01-03", "04-15", "04-18", "05-02", "06-02", "06-03", "08-29", "09-19", "12-26", "12-27"],
    2023: ["01-02", "04-07", "04-10", "05-01", "05-08", "05-29", "08-28", "12-25", "12-26"],
    2024: ["01-01", "03-29", "04-01", "05-06", "05-27", "08-26", "12-25", "12-26"],
    2025: ["01-01", "04-18", "04-21", "05-05", "05-26", "08-25", "12-25", "12-26"],
    2026: ["01-01", "04-03", "04-06", "05-04", "05-25", "08-31", "12-25", "12-28"],
    2027: ["01-01", "03-26", "03-29", "05-03", "05-31", "08-30", "12-27", "12-28"],
}

CAL = WorkingCalendar.build()


@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_non_working_weekdays_match_the_published_bank_holidays(year: int) -> None:
    expected = [date.fromisoformat(f"{year}-{md}") for md in PUBLISHED[year]]
    assert [day for day, _ in CAL.non_working_weekdays(year)] == expected


def test_one_off_days_have_their_names() -> None:
    names = dict(CAL.non_working_weekdays(2022)) | dict(CAL.non_working_weekdays(2023))
    assert "Jubilee" in names[date(2022, 6, 3)]
    assert "Funeral" in names[date(2022, 9, 19)]
    assert "Coronation" in names[date(2023, 5, 8)]


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-12-24", 1, "2026-12-29"),  # over Christmas Day, the weekend and the substitute Boxing Day
        ("2026-04-02", 1, "2026-04-07"),  # over Easter
        ("2026-03-27", 5, "2026-04-07"),  # over the clocks going forward and Good Friday
        ("2022-09-16", 1, "2022-09-20"),  # over the state funeral
        ("2026-11-23", 0, "2026-11-23"),
        ("2026-11-21", 0, "2026-11-21"),  # n == 0 returns the start even on a Saturday
        ("2026-11-21", 1, "2026-11-23"),
        ("2026-12-31", -1, "2026-12-30"),
        ("2027-01-04", -1, "2026-12-31"),  # back over New Year's Day
    ],
)
def test_add_working_days(start: str, n: int, expected: str) -> None:
    assert CAL.add_working_days(date.fromisoformat(start), n) == date.fromisoformat(expected)


def test_closure_days_are_not_working_days() -> None:
    shutdown = WorkingCalendar.build([date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)])
    assert shutdown.add_working_days(date(2026, 12, 24), 1) == date(2027, 1, 4)
    assert shutdown.holiday_name(date(2026, 12, 30)) == "Council closure day"
    assert date(2026, 12, 29) in [d for d, _ in shutdown.non_working_weekdays(2026)]


def test_too_many_days_is_refused() -> None:
    with pytest.raises(CalendarError):
        CAL.add_working_days(date(2026, 1, 1), 10_001)
    with pytest.raises(CalendarError):
        CAL.add_working_days(date(9999, 12, 1), 100)


working_dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))


@given(start=working_dates, n=st.integers(min_value=-400, max_value=400))
def test_adding_then_counting_round_trips(start: date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, end) == n


@given(start=working_dates, n=st.integers(min_value=1, max_value=400))
def test_never_lands_on_a_non_working_day(start: date, n: int) -> None:
    assert CAL.is_working_day(CAL.add_working_days(start, n))
    assert CAL.is_working_day(CAL.add_working_days(start, -n))


@given(start=working_dates, n=st.integers(min_value=0, max_value=300))
def test_adding_one_more_day_moves_later(start: date, n: int) -> None:
    assert CAL.add_working_days(start, n + 1) > CAL.add_working_days(start, n)


@given(
    instant=st.datetimes(
        min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2040, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    )
)
def test_receipt_day_is_a_working_day_on_or_after_the_london_date(instant: datetime) -> None:
    day0 = CAL.effective_receipt_date(instant)
    assert CAL.is_working_day(day0)
    london = instant.astimezone(LONDON).date()
    assert london <= day0 <= london + timedelta(days=10)


@pytest.mark.parametrize(
    ("received_utc", "day0"),
    [
        # Friday before the clocks go forward (29 March 2026): 16:30 UTC is 16:30 GMT, before the cut-off.
        ("2026-03-27T16:30:00", "2026-03-27"),
        # Monday after: 16:30 UTC is 17:30 BST, after the cut-off, so day 0 is Tuesday.
        ("2026-03-30T16:30:00", "2026-03-31"),
        ("2026-03-30T15:59:59", "2026-03-30"),
        # Friday before the clocks go back (25 October 2026): 16:30 UTC is 17:30 BST.
        ("2026-10-23T16:30:00", "2026-10-26"),
        # Monday after: 16:30 UTC is 16:30 GMT.
        ("2026-10-26T16:30:00", "2026-10-26"),
        # Late Saturday night UTC is already Sunday in London; either way day 0 is Monday.
        ("2026-07-04T23:30:00", "2026-07-06"),
        # 23:30 UTC on a Monday in summer is 00:30 Tuesday in London.
        ("2026-07-06T23:30:00", "2026-07-07"),
        # Christmas Eve after the cut-off: next working day is the 29th.
        ("2026-12-24T17:00:00", "2026-12-29"),
    ],
)
def test_effective_receipt_date_across_dst(received_utc: str, day0: str) -> None:
    received = datetime.fromisoformat(received_utc).replace(tzinfo=UTC)
    assert CAL.effective_receipt_date(received) == date.fromisoformat(day0)


def test_cutoff_is_configurable() -> None:
    early = WorkingCalendar.build(cutoff=time(12, 0))
    received = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # 12:00 GMT
    assert early.effective_receipt_date(received) == date(2026, 11, 24)
    assert CAL.effective_receipt_date(received) == date(2026, 11, 23)


def test_naive_times_are_refused() -> None:
    with pytest.raises(CalendarError):
        CAL.effective_receipt_date(datetime(2026, 11, 23, 9, 0))  # noqa: DTZ001 - the point of the test


def test_due_after_receipt_counts_from_day_zero() -> None:
    # Received Thursday 2 April 2026 at 10:00 BST; 3 working days skip Good Friday and Easter Monday.
    received = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    assert CAL.due_after_receipt(received, 3) == date(2026, 4, 9)


def test_working_days_agree_with_the_holidays_package_day_by_day() -> None:
    # The calendar reads each year's bank holidays out once; every day of fifty years must
    # still get the package's own answer.
    calendar = WorkingCalendar.build(closure_days=[date(2026, 12, 29)])
    bank = holidays.country_holidays("GB", subdiv="ENG")
    day, wrong = date(1995, 1, 1), []
    while day < date(2045, 1, 1):
        expected = day.weekday() < 5 and day not in bank and day != date(2026, 12, 29)
        if calendar.is_working_day(day) != expected:
            wrong.append(day)
        day += timedelta(days=1)
    assert wrong == []
