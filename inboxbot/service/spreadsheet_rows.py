"""One row per case for the Ombudsman spreadsheet, gathered with a few set-based queries.

Three queries whatever the number of cases (cases, their messages' kinds, their
order tasks), and working days counted from a prefix table built once, so the
whole register stays quick at tens of thousands of cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from inboxbot.adapters.db.models import Case, StoredMessage, Task
from inboxbot.domain.calendar import WorkingCalendar, london_date
from inboxbot.domain.kinds import MessageKind, TaskStatus
from inboxbot.service.unit_of_work import UnitOfWork

_CHASERS = (MessageKind.CHASER_FIRST.value, MessageKind.CHASER_FINAL.value)
_ORDER_KIND = "order"  # one task per order in a final decision


@dataclass(frozen=True)
class CaseRow:
    """What the spreadsheet shows about one case."""

    case_id: int
    ombudsman: str | None
    ombudsman_ref: str | None
    council_ref: str | None
    service_area: str | None
    status: str
    kinds: tuple[str, ...]  # the kinds of the case's messages, oldest first
    first_received: date
    next_due: date | None
    working_days_taken: int  # from first received to closed, or to today when open
    chasers: int
    orders: int
    orders_done: int
    closed_on: date | None


class WorkingDayCounter:
    """``calendar.working_days_between`` for many pairs in a known range, from a prefix table."""

    def __init__(self, calendar: WorkingCalendar, first: date, last: date) -> None:
        self._calendar = calendar
        self._first = first
        self._last = last
        counts = [0]
        day = first
        while day < last:
            day += timedelta(days=1)
            counts.append(counts[-1] + (1 if calendar.is_working_day(day) else 0))
        self._counts = counts

    def between(self, start: date, end: date) -> int:
        """The same as ``calendar.working_days_between(start, end)``."""
        if not (self._first < start <= self._last and self._first < end <= self._last):
            return self._calendar.working_days_between(start, end)
        at_start = (start - self._first).days
        at_end = (end - self._first).days
        if end >= start:
            return self._counts[at_end] - self._counts[at_start]
        # Minus the working days from ``end`` up to but not including ``start``.
        return -(self._counts[at_start - 1] - self._counts[at_end - 1])


def case_rows(uow: UnitOfWork, calendar: WorkingCalendar, today: date) -> list[CaseRow]:
    """Every case, oldest first, with what the spreadsheet needs."""
    with uow:
        session = uow.session
        cases = session.execute(
            select(
                Case.id,
                Case.ombudsman,
                Case.ombudsman_ref,
                Case.council_ref,
                Case.service_area,
                Case.status,
                Case.next_due,
                Case.opened_at,
                Case.closed_at,
            ).order_by(Case.opened_at, Case.id)
        ).all()
        messages = session.execute(
            select(StoredMessage.case_id, StoredMessage.kind, StoredMessage.received_at)
            .where(StoredMessage.case_id.is_not(None))
            .order_by(StoredMessage.case_id, StoredMessage.received_at, StoredMessage.id)
        ).all()
        orders = session.execute(
            select(
                Task.case_id,
                func.count(Task.id),
                func.count(Task.id).filter(Task.status == TaskStatus.DONE.value),
            )
            .where(Task.kind == _ORDER_KIND)
            .group_by(Task.case_id)
        ).all()

    kinds: dict[int, list[str]] = {}
    first_seen: dict[int, date] = {}
    chasers: dict[int, int] = {}
    for case_id, kind, received_at in messages:
        assert case_id is not None
        if case_id not in first_seen:
            first_seen[case_id] = london_date(received_at)
        if kind is None:
            continue
        kinds.setdefault(case_id, []).append(kind)
        if kind in _CHASERS:
            chasers[case_id] = chasers.get(case_id, 0) + 1
    order_counts = {case_id: (int(total), int(done)) for case_id, total, done in orders}

    starts: dict[int, date] = {}
    ends: dict[int, date] = {}
    closed: dict[int, date | None] = {}
    for case in cases:
        start = first_seen.get(case.id) or london_date(case.opened_at)
        closed_on = london_date(case.closed_at) if case.closed_at is not None else None
        starts[case.id] = start
        ends[case.id] = closed_on if closed_on is not None else today
        closed[case.id] = closed_on
    if not cases:
        return []
    lowest = min(min(starts.values()), min(ends.values())) - timedelta(days=1)
    highest = max(max(starts.values()), max(ends.values()))
    counter = WorkingDayCounter(calendar, lowest, highest)

    rows: list[CaseRow] = []
    for case in cases:
        total, done = order_counts.get(case.id, (0, 0))
        rows.append(
            CaseRow(
                case_id=case.id,
                ombudsman=case.ombudsman,
                ombudsman_ref=case.ombudsman_ref,
                council_ref=case.council_ref,
                service_area=case.service_area,
                status=case.status,
                kinds=tuple(kinds.get(case.id, ())),
                first_received=starts[case.id],
                next_due=case.next_due,
                working_days_taken=max(0, counter.between(starts[case.id], ends[case.id])),
                chasers=chasers.get(case.id, 0),
                orders=total,
                orders_done=done,
                closed_on=closed[case.id],
            )
        )
    return rows
