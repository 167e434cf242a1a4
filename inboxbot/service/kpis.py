"""Ombudsman KPIs for a quarter, and the annual report to SLT built from the same figures.

Every figure comes from a handful of set-based queries over the whole period (never
one query per case). Only trusted messages count: a spoofed chaser is not a chaser.
Messages and cases belong to the period by their London date of receipt.

How each figure is counted:

* cases received: cases whose earliest trusted message falls in the period, split by
  Ombudsman and by service area;
* messages by kind: trusted messages received in the period, by classification kind;
* information requests: tasks of kind ``notification`` or ``information_request`` due in
  the period (cancelled ones left out). One is on time when it was done on or before its due
  date (London date of ``done_at``); one still open counts as late. The average working days
  to respond runs from the London date the task was created to the one it was done;
* chasers and final chasers: trusted ``chaser_first`` and ``chaser_final`` messages; CHFO
  warnings and witness summonses are the final chasers whose deciding rule mentions "chfo"
  or "witness" (``chaser-final-chfo``, ``chaser-final-witness-summons``);
* final decisions: trusted ``final_decision`` messages. Decisions with fault found is an
  APPROXIMATION: the bot does not read the finding itself, so it counts the final decisions
  decided by the ``final-decision`` or ``final-decision-subject`` rules, which are those
  carrying orders or recommendations; a "no fault" decision usually arrives as a closure;
* remedies: tasks of kind ``order`` due in the period, on time as for information requests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

from inboxbot.adapters.db.models import Case, StoredMessage, Task
from inboxbot.domain.calendar import WorkingCalendar, london_date
from inboxbot.domain.kinds import MessageKind, TaskStatus
from inboxbot.domain.periods import Period, bounds_utc, quarters_in
from inboxbot.service.unit_of_work import UnitOfWork

INFORMATION_TASK_KINDS = (MessageKind.NOTIFICATION.value, MessageKind.INFORMATION_REQUEST.value)
REMEDY_TASK_KIND = "order"
FAULT_FOUND_RULES = frozenset({"final-decision", "final-decision-subject"})
UNKNOWN = "Not known"


@dataclass(frozen=True)
class Kpis:
    """The figures for one period."""

    period: Period
    cases_received: int
    cases_by_ombudsman: dict[str, int]
    cases_by_service_area: dict[str, int]
    messages_by_kind: dict[str, int]
    information_requests: int
    information_requests_on_time: int
    average_working_days_to_respond: float | None
    chasers: int
    final_chasers: int
    chfo_warnings: int
    witness_summonses: int
    final_decisions: int
    fault_found: int
    remedies: int
    remedies_on_time: int

    @property
    def information_on_time_percent(self) -> float | None:
        """Information requests answered on time, as a percentage (None when there were none)."""
        return percent(self.information_requests_on_time, self.information_requests)

    @property
    def remedies_on_time_percent(self) -> float | None:
        """Remedies complied with on time, as a percentage (None when there were none)."""
        return percent(self.remedies_on_time, self.remedies)


@dataclass(frozen=True)
class AnnualReport:
    """A year's figures and the same figures for each of its quarters."""

    year: Kpis
    quarters: list[Kpis]

    @property
    def period(self) -> Period:
        """The year reported on."""
        return self.year.period


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` as a percentage rounded to one place, or None when ``whole`` is 0."""
    if whole == 0:
        return None
    return round(100.0 * part / whole, 1)


def quarterly_kpis(uow: UnitOfWork, calendar: WorkingCalendar, period: Period) -> Kpis:
    """The KPIs for ``period`` (a quarter usually, but any period works)."""
    start, end = bounds_utc(period)
    with uow:
        session = uow.session
        in_period = (
            StoredMessage.trusted.is_(True),
            StoredMessage.received_at >= start,
            StoredMessage.received_at < end,
        )
        first_seen = (
            select(StoredMessage.case_id, func.min(StoredMessage.received_at).label("first"))
            .where(StoredMessage.trusted.is_(True), StoredMessage.case_id.is_not(None))
            .group_by(StoredMessage.case_id)
            .subquery()
        )
        case_rows = session.execute(
            select(Case.ombudsman, Case.service_area)
            .join(first_seen, first_seen.c.case_id == Case.id)
            .where(first_seen.c.first >= start, first_seen.c.first < end)
        ).all()
        kind_rows = session.execute(
            select(StoredMessage.kind, func.count())
            .where(*in_period, StoredMessage.kind.is_not(None))
            .group_by(StoredMessage.kind)
        ).all()
        judged_rows = session.execute(
            select(StoredMessage.kind, StoredMessage.classification).where(
                *in_period,
                StoredMessage.kind.in_([MessageKind.CHASER_FINAL.value, MessageKind.FINAL_DECISION.value]),
            )
        ).all()
        task_rows = session.execute(
            select(Task.kind, Task.due, Task.status, Task.created_at, Task.done_at).where(
                Task.kind.in_([*INFORMATION_TASK_KINDS, REMEDY_TASK_KIND]),
                Task.status != TaskStatus.CANCELLED.value,
                Task.due >= period.start,
                Task.due <= period.end,
            )
        ).all()

    by_kind = {str(kind): int(count) for kind, count in kind_rows}
    chfo = witness = fault = 0
    for kind, classification in judged_rows:
        rule = _rule_of(classification)
        if kind == MessageKind.CHASER_FINAL.value:
            chfo += "chfo" in rule
            witness += "witness" in rule
        elif rule in FAULT_FOUND_RULES:
            fault += 1

    information = [row for row in task_rows if row.kind in INFORMATION_TASK_KINDS]
    remedies = [row for row in task_rows if row.kind == REMEDY_TASK_KIND]
    answered_days = [
        calendar.working_days_between(london_date(row.created_at), london_date(row.done_at))
        for row in information
        if row.status == TaskStatus.DONE.value and row.done_at is not None
    ]
    return Kpis(
        period=period,
        cases_received=len(case_rows),
        cases_by_ombudsman=_counted(ombudsman for ombudsman, _ in case_rows),
        cases_by_service_area=_counted(area for _, area in case_rows),
        messages_by_kind=dict(sorted(by_kind.items())),
        information_requests=len(information),
        information_requests_on_time=sum(_on_time(row.status, row.due, row.done_at) for row in information),
        average_working_days_to_respond=(
            round(sum(answered_days) / len(answered_days), 1) if answered_days else None
        ),
        chasers=by_kind.get(MessageKind.CHASER_FIRST.value, 0),
        final_chasers=by_kind.get(MessageKind.CHASER_FINAL.value, 0),
        chfo_warnings=chfo,
        witness_summonses=witness,
        final_decisions=by_kind.get(MessageKind.FINAL_DECISION.value, 0),
        fault_found=fault,
        remedies=len(remedies),
        remedies_on_time=sum(_on_time(row.status, row.due, row.done_at) for row in remedies),
    )


def annual_report(uow: UnitOfWork, calendar: WorkingCalendar, period: Period) -> AnnualReport:
    """The figures for a year (calendar or financial) and for each calendar quarter in it."""
    return AnnualReport(
        year=quarterly_kpis(uow, calendar, period),
        quarters=[quarterly_kpis(uow, calendar, quarter) for quarter in quarters_in(period)],
    )


def _rule_of(classification: Mapping[str, Any] | None) -> str:
    if not classification:
        return ""
    return str(classification.get("rule") or "").lower()


def _on_time(status: str, due: date | None, done_at: datetime | None) -> bool:
    if status != TaskStatus.DONE.value or done_at is None or due is None:
        return False
    return london_date(done_at) <= due


def _counted(names: Iterable[str | None]) -> dict[str, int]:
    counts = Counter(name or UNKNOWN for name in names)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
