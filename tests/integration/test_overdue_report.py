"""The overdue / nearly-overdue report, on SQLite and PostgreSQL, at a pinned today."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from inboxbot.adapters.db.models import Case, Task
from inboxbot.domain.calendar import WorkingCalendar
from inboxbot.domain.kinds import TaskStatus
from inboxbot.service.overdue import (
    OverdueReport,
    area_report_email,
    overdue_report,
    ret_report_email,
)
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_actions import take

CALENDAR = WorkingCalendar.build()
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
_refs = itertools.count(1)


def add_case(
    uow: UnitOfWork, area: str | None, tasks: list[tuple[str, date | None, str, str | None]]
) -> None:
    """A case with tasks given as (token, due, status, task's own area)."""
    with uow:
        n = next(_refs)
        case = Case(
            ombudsman="hos",
            ombudsman_ref=f"2026{n:05d}",
            council_ref=f"CAS-{n:06d}",
            service_area=area,
            opened_at=AT,
            updated_at=AT,
        )
        uow.session.add(case)
        uow.session.flush()
        for token, due, status, task_area in tasks:
            uow.session.add(
                Task(
                    case_id=case.id,
                    token=token,
                    kind="information_request",
                    title=f"Task {token}",
                    service_area=task_area,
                    due=due,
                    status=status,
                    created_at=AT,
                )
            )
        uow.commit()


def summary(report: OverdueReport) -> list[tuple[str | None, list[tuple[str, date, int]]]]:
    return [(g.area, [(r.token, r.due, r.working_days_left) for r in g.rows]) for g in report.groups]


OPEN, DONE = TaskStatus.OPEN.value, TaskStatus.DONE.value
# Thursday before Easter 2026: Good Friday 3 April and Easter Monday 6 April are bank holidays.
TODAY = date(2026, 4, 2)


def easter_cases(uow: UnitOfWork) -> None:
    add_case(
        uow,
        "Council Tax",
        [
            ("TOVER2", date(2026, 3, 31), OPEN, None),  # Tue: 2 working days overdue (Tue, Wed)
            ("TTODAY", date(2026, 4, 2), OPEN, None),  # due today
            ("TDONE1", date(2026, 4, 1), DONE, None),  # done: not reported
            ("TNODUE", None, OPEN, None),  # no due date: not reported
        ],
    )
    add_case(
        uow,
        "Housing",
        [
            ("TAFTER", date(2026, 4, 7), OPEN, None),  # Tue after Easter: 1 working day left
            ("TTHREE", date(2026, 4, 9), OPEN, "Economy"),  # 3 left (7, 8, 9), task's own area
            ("TFOUR4", date(2026, 4, 10), OPEN, None),  # 4 left: outside the window
        ],
    )
    add_case(uow, None, [("TNOARE", date(2026, 4, 1), OPEN, None)])  # 1 overdue, no area yet


def test_overdue_and_nearly_overdue_rows_are_grouped_by_area_across_easter(uow: UnitOfWork) -> None:
    easter_cases(uow)
    report = overdue_report(uow, CALENDAR, TODAY)
    assert summary(report) == [
        ("Council Tax", [("TOVER2", date(2026, 3, 31), -2), ("TTODAY", date(2026, 4, 2), 0)]),
        ("Economy", [("TTHREE", date(2026, 4, 9), 3)]),
        ("Housing", [("TAFTER", date(2026, 4, 7), 1)]),
        (None, [("TNOARE", date(2026, 4, 1), -1)]),
    ]
    assert (report.overdue_count, report.nearly_count, report.is_empty) == (2, 3, False)
    council_tax = report.group("Council Tax")
    assert council_tax is not None
    assert (council_tax.overdue_count, council_tax.nearly_count) == (1, 1)
    unassigned = report.group(None)
    assert unassigned is not None
    assert unassigned.label == "No service area yet"
    row = council_tax.rows[0]
    assert (row.ombudsman_name, row.title, row.token) == ("Housing Ombudsman", "Task TOVER2", "TOVER2")
    assert row.ombudsman_ref is not None
    assert row.ombudsman_ref.startswith("2026")
    assert row.council_ref is not None
    assert row.council_ref.startswith("CAS-")
    assert row.overdue
    assert not council_tax.rows[1].overdue


def test_a_narrower_window_and_one_area(uow: UnitOfWork) -> None:
    easter_cases(uow)
    narrow = overdue_report(uow, CALENDAR, TODAY, nearly_days=1)
    assert [r.token for g in narrow.groups for r in g.rows] == ["TOVER2", "TTODAY", "TAFTER", "TNOARE"]
    housing = overdue_report(uow, CALENDAR, TODAY, area="Housing")
    assert summary(housing) == [("Housing", [("TAFTER", date(2026, 4, 7), 1)])]


def test_the_emails_for_an_area_and_for_ret(uow: UnitOfWork) -> None:
    easter_cases(uow)
    report = overdue_report(uow, CALENDAR, TODAY)
    subject, text, html = ret_report_email(report)
    assert subject == "Ombudsman tasks: 2 overdue, 3 due soon (Thu 2 Apr 2026)"
    assert "2 tasks are overdue and 3 tasks are due in the next 3 working days." in text
    assert "Council Tax: 1 overdue, 1 due soon" in text
    assert "No service area yet: 1 overdue, 0 due soon" in text
    assert "[TOVER2] Task TOVER2" in text
    assert "due Tuesday 31 March 2026 (2 working days overdue)" in text
    assert "Tuesday 7 April 2026 (1 working day left)" in text
    assert "<h2>Economy: 0 overdue, 1 due soon</h2>" in html
    assert "TFOUR4" not in text
    assert "TFOUR4" not in html

    subject, text, html = area_report_email(report, "Housing")
    assert subject == "Ombudsman tasks for Housing: 0 overdue, 1 due soon (Thu 2 Apr 2026)"
    assert "TAFTER" in text
    assert "TOVER2" not in text
    assert "TAFTER" in html

    subject, text, _ = area_report_email(report, "Planning")
    assert subject == "Ombudsman tasks for Planning: nothing overdue (Thu 2 Apr 2026)"
    assert "No Ombudsman tasks for Planning are overdue or due in the next 3 working days." in text


def test_an_empty_report_says_so(uow: UnitOfWork) -> None:
    report = overdue_report(uow, CALENDAR, TODAY)
    assert report.is_empty
    assert report.groups == ()
    subject, text, html = ret_report_email(report)
    assert "nothing overdue" in subject
    assert "No Ombudsman tasks are overdue or due in the next 3 working days." in text
    assert "No Ombudsman tasks are overdue or due in the next 3 working days." in html


def test_tasks_from_real_mail(uow: UnitOfWork) -> None:
    # Council Tax task due Thu 15 Jan, unassigned task due Fri 23 Jan, another due Tue 3 Feb.
    take(uow, "lgsco-notification-01.eml", "lgsco-notification-02.eml", "lgsco-notification-03.eml")
    report = overdue_report(uow, CALENDAR, date(2026, 1, 22))
    rows = [
        (g.area, r.ombudsman_ref, r.council_ref, r.due, r.working_days_left)
        for g in report.groups
        for r in g.rows
    ]
    assert rows == [
        ("Council Tax", "25 018 406", "CAS-211034", date(2026, 1, 15), -5),
        (None, "25 018 733", "CAS-2110457", date(2026, 1, 23), 1),
    ]
    assert report.groups[0].rows[0].ombudsman_name == "LGSCO"


def test_the_email_for_tasks_without_a_service_area(uow: UnitOfWork) -> None:
    easter_cases(uow)
    subject, text, _ = area_report_email(overdue_report(uow, CALENDAR, TODAY), None)
    assert subject == "Ombudsman tasks without a service area: 1 overdue, 0 due soon (Thu 2 Apr 2026)"
    assert "[TNOARE] Task TNOARE" in text
    empty = area_report_email(overdue_report(uow, CALENDAR, date(2026, 1, 5)), None)[1]
    assert "No Ombudsman tasks without a service area are overdue or due in the next 3 working days." in empty
