"""The Ombudsman cases spreadsheet: rows gathered from the database and written as .xlsx."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import event

from inboxbot.adapters.spreadsheet import COLUMNS, write_ombudsman_spreadsheet
from inboxbot.domain.calendar import WorkingCalendar
from inboxbot.service.spreadsheet_rows import CaseRow, WorkingDayCounter, case_rows
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_actions import take

CALENDAR = WorkingCalendar.build()
TODAY = date(2026, 3, 2)  # the clock `take` uses closes cases on this day too


def two_cases(uow: UnitOfWork) -> None:
    take(
        uow,
        "lgsco-notification-01.eml",  # 25 018 406, Mon 15 Dec 2025
        "lgsco-chaser-first-01.eml",
        "lgsco-final-decision-04.eml",  # two orders
        "lgsco-notification-02.eml",  # 25 018 733, Wed 24 Dec 2025 (17:30 UTC, still the 24th in London)
        "lgsco-case-closed-03.eml",  # closes 25 018 406 (and cancels its orders)
    )


def test_one_row_per_case_with_history_and_working_days_over_christmas(uow: UnitOfWork) -> None:
    two_cases(uow)
    rows = case_rows(uow, CALENDAR, TODAY)
    assert [r.ombudsman_ref for r in rows] == ["25 018 406", "25 018 733"]
    closed, open_ = rows
    assert closed.kinds == ("notification", "chaser_first", "final_decision", "case_closed")
    assert (closed.status, closed.first_received, closed.closed_on) == ("closed", date(2025, 12, 15), TODAY)
    # 16 Dec-31 Dec: 10 (not 25, 26 Dec); January: 21 (not 1 Jan); February: 20; 2 March: 1.
    assert closed.working_days_taken == 52
    assert (closed.chasers, closed.orders, closed.orders_done, closed.next_due) == (1, 2, 0, None)
    assert (closed.service_area, closed.council_ref, closed.ombudsman) == (
        "Council Tax",
        "CAS-211034",
        "lgsco",
    )
    assert open_.kinds == ("notification",)
    assert (open_.status, open_.first_received, open_.closed_on) == ("open", date(2025, 12, 24), None)
    # 29-31 Dec: 3; January: 21; February: 20; 2 March: 1.
    assert open_.working_days_taken == 45
    assert (open_.chasers, open_.orders, open_.next_due) == (0, 0, date(2026, 1, 23))


def test_rows_take_a_fixed_number_of_queries(uow: UnitOfWork) -> None:
    two_cases(uow)
    take(uow, "lgsco-notification-03.eml", "lgsco-notification-04.eml")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(uow.engine, "before_cursor_execute", count)
    try:
        rows = case_rows(uow, CALENDAR, TODAY)
    finally:
        event.remove(uow.engine, "before_cursor_execute", count)
    assert len(rows) == 4
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3


def test_no_cases_no_rows(uow: UnitOfWork) -> None:
    assert case_rows(uow, CALENDAR, TODAY) == []


def test_the_counter_agrees_with_the_calendar() -> None:
    first, last = date(2025, 12, 1), date(2026, 5, 31)
    counter = WorkingDayCounter(CALENDAR, first, last)
    days = [first + timedelta(days=i) for i in range(0, (last - first).days + 1, 3)]
    for start in days[1::5]:
        for end in days:
            assert counter.between(start, end) == CALENDAR.working_days_between(start, end)
    assert counter.between(date(2024, 1, 1), date(2024, 2, 1)) == 23  # outside the table


def test_the_spreadsheet_reads_back(uow: UnitOfWork, tmp_path: Path) -> None:
    two_cases(uow)
    path = tmp_path / "out" / "ombudsman.xlsx"
    path.parent.mkdir()
    path.write_bytes(b"an older export")
    assert write_ombudsman_spreadsheet(case_rows(uow, CALENDAR, TODAY), path) == path
    assert [p.name for p in path.parent.iterdir()] == ["ombudsman.xlsx"]  # no temp file left behind

    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    # openpyxl reads a date cell back as a datetime at midnight.
    values = [
        [v.date() if isinstance(v, datetime) else v for v in r] for r in sheet.iter_rows(values_only=True)
    ]
    assert values[0] == [heading for heading, _ in COLUMNS]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["F"].width == 60
    assert len(values) == 3
    first = dict(zip(values[0], values[1], strict=True))
    assert first == {
        "Ombudsman": "LGSCO",
        "Ombudsman reference": "25 018 406",
        "Council reference": "CAS-211034",
        "Service area": "Council Tax",
        "Status": "closed",
        "Kinds received": "notification, chaser_first, final_decision, case_closed",
        "First received": date(2025, 12, 15),
        "Next due": None,
        "Working days taken": 52,
        "Chasers": 1,
        "Orders": 2,
        "Orders done": 0,
        "Closed": date(2026, 3, 2),
    }
    second = dict(zip(values[0], values[2], strict=True))
    assert (second["Service area"], second["Next due"], second["Closed"]) == (
        None,
        date(2026, 1, 23),
        None,
    )
    assert sheet["G2"].is_date
    assert sheet["G2"].number_format == "dd/mm/yyyy"
    assert sheet["H3"].is_date
    assert sheet["M2"].is_date


def test_an_empty_spreadsheet_has_its_header(tmp_path: Path) -> None:
    rows: list[CaseRow] = []
    path = write_ombudsman_spreadsheet(rows, tmp_path / "empty.xlsx")
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    assert sheet.max_row == 1
    assert sheet["A1"].value == "Ombudsman"
