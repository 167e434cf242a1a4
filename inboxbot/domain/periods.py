"""Reporting periods: calendar quarters, calendar years and financial years, in Europe/London.

Pure: no clock, no I/O. A period is a run of whole London days, ``start`` and ``end``
both included; :func:`bounds_utc` turns it into the UTC instants of the London
midnights around it, so a message received at 00:30 BST on 1 April belongs to April.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from inboxbot.domain.calendar import LONDON

_QUARTER = re.compile(r"(\d{4})\s*-?\s*Q([1-4])", re.IGNORECASE)
_YEAR = re.compile(r"(\d{4})")
_FINANCIAL_YEAR = re.compile(r"(\d{4})\s*[-/]\s*(\d{2}|\d{4})")


@dataclass(frozen=True)
class Period:
    """London days ``start`` to ``end`` inclusive, with the label people read."""

    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period {self.label!r} ends ({self.end}) before it starts ({self.start})")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def quarter_of(day: date) -> Period:
    """The calendar quarter (January-March is Q1) holding ``day``, labelled like "2026 Q1"."""
    number = (day.month - 1) // 3 + 1
    return _quarter(day.year, number)


def _quarter(year: int, number: int) -> Period:
    first_month = 3 * (number - 1) + 1
    start = date(year, first_month, 1)
    end = date(year + 1, 1, 1) if number == 4 else date(year, first_month + 3, 1)
    return Period(start, end - timedelta(days=1), f"{year} Q{number}")


def previous_quarter(today: date) -> Period:
    """The whole calendar quarter before the one holding ``today``."""
    return quarter_of(quarter_of(today).start - timedelta(days=1))


def year(number: int) -> Period:
    """The calendar year ``number``."""
    return Period(date(number, 1, 1), date(number, 12, 31), str(number))


def financial_year(first: int) -> Period:
    """The financial year from 1 April ``first`` to 31 March the next year, labelled like "2025-26"."""
    return Period(date(first, 4, 1), date(first + 1, 3, 31), f"{first}-{(first + 1) % 100:02d}")


def parse_period(text: str) -> Period:
    """A period from "2026-Q1" or "2026Q1" (a quarter), "2026" (a year) or "2025-26" (a financial year).

    Raises ValueError with the accepted forms when ``text`` is none of them.
    """
    cleaned = text.strip()
    if match := _QUARTER.fullmatch(cleaned):
        return _quarter(_checked_year(int(match[1]), text), int(match[2]))
    if match := _YEAR.fullmatch(cleaned):
        return year(_checked_year(int(match[1]), text))
    if match := _FINANCIAL_YEAR.fullmatch(cleaned):
        first = _checked_year(int(match[1]), text)
        second = int(match[2])
        expected = first + 1
        if second not in (expected, expected % 100):
            raise ValueError(
                f"financial year {text!r} must run into the next year, like '{first}-{expected % 100:02d}'"
            )
        return financial_year(first)
    raise ValueError(
        f"cannot read {text!r} as a period: use a quarter like '2026-Q1' or '2026Q1', "
        "a year like '2026', or a financial year (April to March) like '2025-26'"
    )


def _checked_year(number: int, text: str) -> int:
    if not 1900 <= number <= 9998:
        raise ValueError(f"year {number} in {text!r} is outside 1900-9998")
    return number


def quarters_in(period: Period) -> list[Period]:
    """The calendar quarters that start within ``period`` (four for a year or financial year)."""
    found: list[Period] = []
    quarter = quarter_of(period.start)
    if quarter.start < period.start:
        quarter = quarter_of(quarter.end + timedelta(days=1))
    while quarter.start <= period.end:
        found.append(quarter)
        quarter = quarter_of(quarter.end + timedelta(days=1))
    return found


def london_midnight(day: date) -> datetime:
    """The aware UTC instant at which ``day`` begins in London."""
    return datetime.combine(day, time(0, 0), tzinfo=LONDON).astimezone(UTC)


def bounds_utc(period: Period) -> tuple[datetime, datetime]:
    """UTC instants ``[start, end)``: London midnight starting the period, and the one after it."""
    return london_midnight(period.start), london_midnight(period.end + timedelta(days=1))
