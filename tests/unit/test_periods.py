"""Reporting periods: quarters, years and financial years in Europe/London."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from inboxbot.domain.periods import (
    Period,
    bounds_utc,
    parse_period,
    previous_quarter,
    quarter_of,
    quarters_in,
)


@pytest.mark.parametrize(
    ("day", "start", "end", "label"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), date(2026, 3, 31), "2026 Q1"),
        (date(2026, 3, 31), date(2026, 1, 1), date(2026, 3, 31), "2026 Q1"),
        (date(2026, 4, 1), date(2026, 4, 1), date(2026, 6, 30), "2026 Q2"),
        (date(2026, 8, 15), date(2026, 7, 1), date(2026, 9, 30), "2026 Q3"),
        (date(2026, 12, 31), date(2026, 10, 1), date(2026, 12, 31), "2026 Q4"),
    ],
)
def test_calendar_quarters(day: date, start: date, end: date, label: str) -> None:
    assert quarter_of(day) == Period(start, end, label)


def test_the_previous_quarter_crosses_the_year_end() -> None:
    assert previous_quarter(date(2026, 2, 10)) == Period(date(2025, 10, 1), date(2025, 12, 31), "2025 Q4")
    assert previous_quarter(date(2026, 4, 1)).label == "2026 Q1"


@pytest.mark.parametrize("text", ["2026-Q1", "2026Q1", "2026q1", " 2026 - Q1 ", "2026 Q1"])
def test_quarters_parse_in_several_spellings(text: str) -> None:
    assert parse_period(text) == Period(date(2026, 1, 1), date(2026, 3, 31), "2026 Q1")


def test_a_year_and_a_financial_year() -> None:
    assert parse_period("2026") == Period(date(2026, 1, 1), date(2026, 12, 31), "2026")
    financial = Period(date(2025, 4, 1), date(2026, 3, 31), "2025-26")
    assert parse_period("2025-26") == financial
    assert parse_period("2025/2026") == financial
    assert parse_period("1999-00").end == date(2000, 3, 31)


def test_a_financial_year_holds_four_quarters_from_april() -> None:
    labels = [q.label for q in quarters_in(parse_period("2025-26"))]
    assert labels == ["2025 Q2", "2025 Q3", "2025 Q4", "2026 Q1"]
    assert [q.label for q in quarters_in(parse_period("2026"))] == [
        "2026 Q1",
        "2026 Q2",
        "2026 Q3",
        "2026 Q4",
    ]
    assert quarters_in(parse_period("2026-Q3")) == [parse_period("2026-Q3")]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2026-Q5", "cannot read '2026-Q5' as a period"),
        ("Q1 2026", "use a quarter like '2026-Q1'"),
        ("", "cannot read '' as a period"),
        ("2025-27", "must run into the next year, like '2025-26'"),
        ("0999", "outside 1900-9998"),
        ("last quarter", "financial year (April to March) like '2025-26'"),
    ],
)
def test_bad_input_says_what_is_accepted(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_period(text)


def test_bounds_are_london_midnights_in_utc_across_the_clock_changes() -> None:
    # Q1 2026: GMT at both ends (BST starts 29 March, so 1 April begins at 23:00 UTC on 31 March).
    start, end = bounds_utc(parse_period("2026-Q1"))
    assert start == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    # Q3: BST at both ends.
    assert bounds_utc(parse_period("2026-Q3")) == (
        datetime(2026, 6, 30, 23, 0, tzinfo=UTC),
        datetime(2026, 9, 30, 23, 0, tzinfo=UTC),
    )
    # Q4: starts in BST, ends in GMT.
    assert bounds_utc(parse_period("2026-Q4")) == (
        datetime(2026, 9, 30, 23, 0, tzinfo=UTC),
        datetime(2027, 1, 1, 0, 0, tzinfo=UTC),
    )
    # The financial year starts and ends at London midnight in BST.
    assert bounds_utc(parse_period("2025-26")) == (
        datetime(2025, 3, 31, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 23, 0, tzinfo=UTC),
    )
    for instant in (start, end):
        assert instant.tzinfo is UTC


def test_a_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="ends"):
        Period(date(2026, 2, 1), date(2026, 1, 1), "backwards")
    assert date(2026, 2, 1) in parse_period("2026-Q1")
    assert date(2026, 4, 1) not in parse_period("2026-Q1")
