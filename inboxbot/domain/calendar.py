"""Working days in England and Wales, the way the Ombudsmen count them.

Pure: no clock, no I/O. A working day is Monday to Friday that is neither an
England and Wales bank holiday (the ``holidays`` package, GB/ENG, which carries
the one-off days such as the 2022 state funeral and substitute days) nor one of
the council's own closure days. Day arithmetic is in Europe/London.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")

# Far enough for any Ombudsman period, small enough that a typo fails fast
# instead of walking the calendar for minutes.
MAX_WORKING_DAYS = 10_000


class CalendarError(ValueError):
    """A date or count the calendar cannot work with."""


@dataclass(frozen=True)
class WorkingCalendar:
    """Working-day arithmetic for one council.

    ``closure_days`` are extra non-working days (a Christmas shutdown, say);
    ``cutoff`` is the London time from which a message counts as received on
    the next working day.
    """

    closure_days: frozenset[date] = frozenset()
    closure_names: tuple[tuple[date, str], ...] = ()
    cutoff: time = time(17, 0)
    _bank_holidays: holidays.HolidayBase = field(
        default_factory=lambda: holidays.country_holidays("GB", subdiv="ENG"),
        compare=False,
        repr=False,
    )

    @classmethod
    def build(
        cls,
        closure_days: Iterable[date] = (),
        cutoff: time = time(17, 0),
        names: dict[date, str] | None = None,
    ) -> WorkingCalendar:
        """A calendar with the given closure days (optionally named) and cut-off."""
        days = frozenset(closure_days)
        named = tuple(sorted((names or {}).items()))
        return cls(closure_days=days, closure_names=named, cutoff=cutoff)

    @cached_property
    def _closure_name_map(self) -> dict[date, str]:
        return dict(self.closure_names)

    def holiday_name(self, day: date) -> str | None:
        """The name of the bank holiday or closure day on ``day``, or None."""
        name = self._bank_holidays.get(day)
        if name is not None:
            return str(name)
        if day in self.closure_days:
            return self._closure_name_map.get(day, "Council closure day")
        return None

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` is Monday-Friday, not a bank holiday and not a closure day."""
        return day.weekday() < 5 and day not in self.closure_days and day not in self._bank_days(day.year)

    @cached_property
    def _bank_days_by_year(self) -> dict[int, frozenset[date]]:
        return {}

    def _bank_days(self, year: int) -> frozenset[date]:
        # The holidays package converts and checks its key on every lookup; counting working
        # days asks about each day in turn, so each year's dates are read out once.
        days = self._bank_days_by_year.get(year)
        if days is None:
            self._bank_holidays.get(date(year, 1, 1))  # makes the package fill in that year
            days = frozenset(d for d in self._bank_holidays if d.year == year)
            self._bank_days_by_year[year] = days
        return days

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return self.add_working_days(day, 1)

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (before it when n is negative).

        ``start`` itself need not be a working day; n == 0 returns it unchanged.
        """
        if abs(n) > MAX_WORKING_DAYS:
            raise CalendarError(f"{n} working days is more than the limit of {MAX_WORKING_DAYS}")
        step = timedelta(days=1 if n >= 0 else -1)
        day = start
        remaining = abs(n)
        try:
            while remaining:
                day += step
                if self.is_working_day(day):
                    remaining -= 1
        except OverflowError as exc:
            raise CalendarError(f"{n} working days from {start.isoformat()} is outside the calendar") from exc
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``.

        When ``end`` is before ``start`` it is minus the working days from ``end``
        up to but not including ``start``, so that
        ``working_days_between(d, add_working_days(d, n)) == n`` for every n.
        """
        if end >= start:
            return sum(1 for day in _days_in(start, end) if self.is_working_day(day))
        one = timedelta(days=1)
        return -sum(1 for day in _days_in(end - one, start - one) if self.is_working_day(day))

    def effective_receipt_date(self, received: datetime) -> date:
        """Day 0 for a message: its London date, moved to the next working day
        when it arrived on a non-working day or at or after the cut-off."""
        if received.tzinfo is None:
            raise CalendarError("received time must be timezone-aware")
        local = received.astimezone(LONDON)
        day = local.date()
        if not self.is_working_day(day) or local.time() >= self.cutoff:
            return self.next_working_day(day)
        return day

    def due_after_receipt(self, received: datetime, n: int) -> date:
        """The due date for "within n working days" of a message received at ``received``."""
        return self.add_working_days(self.effective_receipt_date(received), n)

    def non_working_weekdays(self, year: int) -> list[tuple[date, str]]:
        """Every Monday-Friday of ``year`` that is not a working day, with its name."""
        if not 1 <= year <= 9999:
            raise CalendarError(f"year {year} is outside 1-9999")
        first, last = date(year, 1, 1), date(year, 12, 31)
        days = (first + timedelta(days=i) for i in range((last - first).days + 1))
        result = []
        for day in days:
            if day.weekday() < 5 and not self.is_working_day(day):
                result.append((day, self.holiday_name(day) or "Closure day"))
        return result


def _days_in(start: date, end: date) -> Iterator[date]:
    """The days in (start, end]."""
    day = start
    while day < end:
        day += timedelta(days=1)
        yield day


def london_date(instant: datetime) -> date:
    """The calendar date of an aware instant in Europe/London."""
    if instant.tzinfo is None:
        raise CalendarError("time must be timezone-aware")
    return instant.astimezone(LONDON).date()
