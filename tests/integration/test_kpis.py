"""Quarterly KPIs and the annual report, on SQLite and PostgreSQL, against hand-counted figures."""

from __future__ import annotations

import email
import email.policy
import hashlib
import itertools
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select

from inboxbot.adapters.charts import cases_by_service_area_chart, on_time_by_quarter_chart
from inboxbot.adapters.db.models import Case, StoredMessage, Task
from inboxbot.adapters.report_email import (
    AREAS_CID,
    ON_TIME_CID,
    build_report_email,
    render_annual,
    render_kpis,
)
from inboxbot.domain.calendar import WorkingCalendar, london_date
from inboxbot.domain.kinds import TaskStatus
from inboxbot.domain.periods import parse_period, quarter_of
from inboxbot.service.kpis import annual_report, quarterly_kpis
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_actions import take

CALENDAR = WorkingCalendar()
PNG = b"\x89PNG\r\n\x1a\n"
_numbers = itertools.count(1)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def add_case(uow: UnitOfWork, ombudsman: str, area: str | None) -> int:
    n = next(_numbers)
    case = Case(
        ombudsman=ombudsman,
        ombudsman_ref=f"REF{n}",
        service_area=area,
        opened_at=at(2025, 1, 1),
        updated_at=at(2025, 1, 1),
    )
    uow.session.add(case)
    uow.session.flush()
    return case.id


def add_message(
    uow: UnitOfWork,
    case_id: int,
    kind: str,
    received: datetime,
    rule: str | None = None,
    *,
    trusted: bool = True,
) -> None:
    n = next(_numbers)
    raw = f"message {n}".encode()
    classification: dict[str, Any] = {"kind": kind, "rule": rule, "evidence": "test"}
    uow.session.add(
        StoredMessage(
            source="test://",
            source_key=str(n),
            sha256=hashlib.sha256(raw).hexdigest(),
            size=len(raw),
            received_at=received,
            ingested_at=received,
            kind=kind,
            trusted=trusted,
            classification=classification,
            case_id=case_id,
        )
    )


def add_task(
    uow: UnitOfWork,
    case_id: int,
    kind: str,
    created: datetime,
    due: date,
    done: datetime | None = None,
    *,
    cancelled: bool = False,
) -> None:
    n = next(_numbers)
    status = TaskStatus.CANCELLED if cancelled else TaskStatus.DONE if done else TaskStatus.OPEN
    uow.session.add(
        Task(
            case_id=case_id,
            token=f"T{n}",
            kind=kind,
            title="test",
            due=due,
            status=status.value,
            created_at=created,
            done_at=done,
        )
    )


def build(uow: UnitOfWork) -> None:
    """A small year. BST starts on 29 March 2026, so 23:30 UTC on 31 March is 1 April in London."""
    with uow:
        a = add_case(uow, "lgsco", "Council Tax")
        b = add_case(uow, "hos", "Housing")
        c = add_case(uow, "lgsco", None)
        d = add_case(uow, "hos", "Housing")
        e = add_case(uow, "lgsco", "Housing")
        add_message(uow, a, "notification", at(2026, 1, 10, 10))
        add_message(uow, a, "chaser_first", at(2026, 2, 10, 9))
        add_message(uow, a, "chaser_final", at(2026, 2, 20, 9), "chaser-final-chfo")
        add_message(uow, a, "chaser_final", at(2026, 2, 21, 9), "chaser-final-wording", trusted=False)
        add_message(uow, a, "final_decision", at(2026, 3, 10, 9), "final-decision")
        add_message(
            uow, a, "chaser_final", at(2026, 3, 31, 22, 30), "chaser-final-witness-summons"
        )  # 23:30 BST
        add_message(uow, b, "notification", at(2026, 3, 31, 23, 30))  # 00:30 BST on 1 April: Q2
        add_message(uow, c, "notification", at(2026, 2, 1, 9), trusted=False)  # a spoof does not open it
        add_message(uow, c, "case_update", at(2026, 4, 5, 9))
        add_message(uow, d, "notification", at(2025, 12, 31, 23, 30))  # GMT: still 2025
        add_message(uow, d, "chaser_first", at(2026, 1, 15, 9))
        add_message(uow, e, "notification", at(2026, 1, 20, 9))
        add_message(uow, e, "final_decision", at(2026, 3, 12, 9), None)
        # Information requests due in Q1: on time (19 working days), late by DST (22), still open.
        add_task(uow, a, "notification", at(2026, 1, 12, 9), date(2026, 2, 9), at(2026, 2, 6, 10))
        add_task(
            uow, e, "information_request", at(2026, 3, 2, 10), date(2026, 3, 31), at(2026, 3, 31, 23, 30)
        )
        add_task(uow, a, "notification", at(2026, 3, 2, 10), date(2026, 3, 20))
        add_task(uow, a, "information_request", at(2026, 2, 1, 10), date(2026, 2, 15), cancelled=True)
        add_task(uow, a, "draft_decision", at(2026, 2, 1, 10), date(2026, 2, 16))
        add_task(uow, b, "notification", at(2026, 4, 1, 10), date(2026, 4, 10), at(2026, 4, 2, 10))  # Q2
        # Remedies due in Q1: one done at 23:59 BST on its due day, one a day late.
        add_task(uow, a, "order", at(2026, 3, 10, 9), date(2026, 3, 31), at(2026, 3, 31, 22, 59))
        add_task(uow, e, "order", at(2026, 1, 5, 9), date(2026, 2, 1), at(2026, 2, 2, 10))
        uow.commit()


def test_quarterly_figures_match_the_hand_count(uow: UnitOfWork) -> None:
    build(uow)
    q1 = quarterly_kpis(uow, CALENDAR, parse_period("2026-Q1"))
    assert q1.cases_received == 2
    assert q1.cases_by_ombudsman == {"lgsco": 2}
    assert q1.cases_by_service_area == {"Council Tax": 1, "Housing": 1}
    assert q1.messages_by_kind == {
        "chaser_final": 2,
        "chaser_first": 2,
        "final_decision": 2,
        "notification": 2,
    }
    assert (q1.chasers, q1.final_chasers, q1.chfo_warnings, q1.witness_summonses) == (2, 2, 1, 1)
    assert (q1.final_decisions, q1.fault_found) == (2, 1)
    assert (q1.information_requests, q1.information_requests_on_time) == (3, 1)
    assert q1.information_on_time_percent == 33.3
    assert q1.average_working_days_to_respond == 20.5
    assert (q1.remedies, q1.remedies_on_time, q1.remedies_on_time_percent) == (2, 1, 50.0)

    q2 = quarterly_kpis(uow, CALENDAR, parse_period("2026-Q2"))
    assert q2.cases_received == 2
    assert q2.cases_by_ombudsman == {"hos": 1, "lgsco": 1}
    assert q2.cases_by_service_area == {"Housing": 1, "Not known": 1}
    assert q2.messages_by_kind == {"case_update": 1, "notification": 1}
    assert (q2.information_requests, q2.information_on_time_percent) == (1, 100.0)
    assert q2.average_working_days_to_respond == 1
    assert (q2.remedies, q2.remedies_on_time_percent) == (0, None)


def test_the_annual_report_adds_up_its_quarters(uow: UnitOfWork) -> None:
    build(uow)
    report = annual_report(uow, CALENDAR, parse_period("2026"))
    assert [q.period.label for q in report.quarters] == ["2026 Q1", "2026 Q2", "2026 Q3", "2026 Q4"]
    assert report.year.cases_received == 4 == sum(q.cases_received for q in report.quarters)
    assert report.year.information_requests == 4
    assert report.year.information_on_time_percent == 50.0
    financial = annual_report(uow, CALENDAR, parse_period("2025-26"))
    assert [q.period.label for q in financial.quarters] == ["2025 Q2", "2025 Q3", "2025 Q4", "2026 Q1"]
    assert financial.year.cases_received == 3  # D (31 December 2025), A and E
    assert financial.quarters[2].cases_by_ombudsman == {"hos": 1}


def test_charts_are_png() -> None:
    assert cases_by_service_area_chart({"Council Tax": 3, "Housing": 1}).startswith(PNG)
    assert cases_by_service_area_chart({}).startswith(PNG)
    assert on_time_by_quarter_chart(["2026 Q1", "2026 Q2"], [50.0, None], [None, 100.0]).startswith(PNG)


def _parsed(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_report_email_carries_its_charts_inline(uow: UnitOfWork) -> None:
    build(uow)
    rendered = render_kpis(quarterly_kpis(uow, CALENDAR, parse_period("2026-Q1")))
    subject, text, html, images = rendered
    assert subject == "Ombudsman KPIs for 2026 Q1"
    assert "Answered on time: 1 (33.3%)" in text
    assert "Complaint Handling Failure Order warnings: 1" in text
    assert set(images) == {AREAS_CID, ON_TIME_CID}
    assert f'src="cid:{AREAS_CID}"' in html

    parsed = _parsed(build_report_email("ombudsman@northmere.gov.uk", ["slt@northmere.gov.uk"], rendered))
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["Subject"] == subject
    plain = parsed.get_body(("plain",))
    html_part = parsed.get_body(("html",))
    assert plain is not None
    assert html_part is not None
    assert "Answered on time" in plain.get_content()
    related = next(p for p in parsed.walk() if p.get_content_type() == "multipart/related")
    assert isinstance(related, EmailMessage)
    pictures = {
        str(p["Content-ID"]).strip("<>"): p
        for p in related.iter_parts()
        if p.get_content_type() == "image/png"
    }
    assert set(pictures) == {AREAS_CID, ON_TIME_CID}
    for cid, part in pictures.items():
        assert part.get_content_disposition() == "inline"
        content = part.get_content()
        assert isinstance(content, bytes)
        assert content == images[cid]
        assert content.startswith(PNG)
        assert f"cid:{cid}" in html_part.get_content()


def test_the_annual_email_lists_each_quarter(uow: UnitOfWork) -> None:
    build(uow)
    subject, text, html, images = render_annual(annual_report(uow, CALENDAR, parse_period("2025-26")))
    assert subject == "Ombudsman annual report 2025-26"
    assert "1 April 2025 to 31 March 2026" in text
    assert "2026 Q1: 2 cases received; information requests on time 33.3%; remedies on time 50%" in text
    assert "2025 Q3: 0 cases received" in text
    assert all(png.startswith(PNG) for png in images.values())
    assert "<img src=" in html


def test_real_mail_taken_in_counts_its_chasers(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml", "lgsco-chaser-first-01.eml", "lgsco-chaser-final-01.eml")
    with uow:
        rows = uow.session.execute(
            select(StoredMessage.kind, StoredMessage.received_at, StoredMessage.classification)
        ).all()
    finals = [row for row in rows if row.kind == "chaser_final"]
    assert len(finals) == 1
    period = quarter_of(london_date(finals[0].received_at))
    kpis = quarterly_kpis(uow, CALENDAR, period)
    assert kpis.final_chasers == 1
    rule = str((finals[0].classification or {}).get("rule"))
    assert kpis.witness_summonses == ("witness" in rule)
    assert kpis.chfo_warnings == ("chfo" in rule)
