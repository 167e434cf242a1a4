"""The Monday overdue / nearly-overdue report: open tasks past their due date or close to it.

``overdue_report`` reads the database; the ``*_email`` helpers are pure and turn a
report into (subject, text, html) for one service area or for RET (every area).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

from sqlalchemy import func, select

from inboxbot.adapters.db.models import Case, Task
from inboxbot.adapters.messages import days_left, long_date, short_date
from inboxbot.domain.calendar import WorkingCalendar
from inboxbot.domain.kinds import Ombudsman, TaskStatus
from inboxbot.service.unit_of_work import UnitOfWork

NO_AREA = "No service area yet"
_OMBUDSMAN_SHORT = {Ombudsman.LGSCO.value: "LGSCO", Ombudsman.HOS.value: "Housing Ombudsman"}


@dataclass(frozen=True)
class OverdueRow:
    """One open task in the report."""

    task_id: int
    case_id: int
    ombudsman: str | None  # "lgsco" / "hos"
    ombudsman_ref: str | None
    council_ref: str | None
    title: str
    token: str
    due: date
    working_days_left: int  # negative when overdue, 0 when due today

    @property
    def overdue(self) -> bool:
        """True when the due date has passed."""
        return self.working_days_left < 0

    @property
    def ombudsman_name(self) -> str:
        """The Ombudsman in a few words."""
        if self.ombudsman is None:
            return "Unknown"
        return _OMBUDSMAN_SHORT.get(self.ombudsman, self.ombudsman)


@dataclass(frozen=True)
class AreaGroup:
    """The rows for one service area (``area`` None: not yet given one), overdue first."""

    area: str | None
    rows: tuple[OverdueRow, ...]

    @property
    def label(self) -> str:
        """The area's name, or "No service area yet"."""
        return self.area if self.area is not None else NO_AREA

    @property
    def overdue_count(self) -> int:
        """How many rows are overdue."""
        return sum(1 for row in self.rows if row.overdue)

    @property
    def nearly_count(self) -> int:
        """How many rows are not overdue yet but due soon."""
        return sum(1 for row in self.rows if not row.overdue)


@dataclass(frozen=True)
class OverdueReport:
    """Open tasks overdue or due within ``nearly_days`` working days of ``today``, by area."""

    today: date
    nearly_days: int
    groups: tuple[AreaGroup, ...]

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to report."""
        return not self.groups

    @property
    def overdue_count(self) -> int:
        """Overdue tasks across every area."""
        return sum(group.overdue_count for group in self.groups)

    @property
    def nearly_count(self) -> int:
        """Nearly-overdue tasks across every area."""
        return sum(group.nearly_count for group in self.groups)

    def group(self, area: str | None) -> AreaGroup | None:
        """The group for ``area`` (None: the group with no service area), if it has any rows."""
        return next((g for g in self.groups if g.area == area), None)

    def only(self, area: str | None) -> OverdueReport:
        """The same report narrowed to one area."""
        return OverdueReport(self.today, self.nearly_days, tuple(g for g in self.groups if g.area == area))


def overdue_report(
    uow: UnitOfWork,
    calendar: WorkingCalendar,
    today: date,
    *,
    nearly_days: int = 3,
    area: str | None = None,
) -> OverdueReport:
    """Open tasks due before ``today`` or within ``nearly_days`` working days of it.

    A task's area is its own service area, else its case's. ``area`` narrows the
    report to that one area; None reports every area.
    """
    if nearly_days < 0:
        raise ValueError("nearly_days must not be negative")
    # Anything due before the working day after the window; the exact count is checked below.
    limit = calendar.add_working_days(today, nearly_days + 1)
    task_area = func.coalesce(Task.service_area, Case.service_area)
    query = (
        select(
            Task.id,
            Case.id,
            Case.ombudsman,
            Case.ombudsman_ref,
            Case.council_ref,
            Task.title,
            Task.token,
            Task.due,
            task_area,
        )
        .join(Case, Task.case_id == Case.id)
        .where(Task.status == TaskStatus.OPEN.value, Task.due.is_not(None), Task.due < limit)
        .order_by(Task.due, Task.id)
    )
    if area is not None:
        query = query.where(task_area == area)
    by_area: dict[str | None, list[OverdueRow]] = {}
    with uow:
        found = uow.session.execute(query).all()
    for task_id, case_id, ombudsman, ombudsman_ref, council_ref, title, token, due, row_area in found:
        assert due is not None
        left = calendar.working_days_between(today, due)
        if due >= today and left > nearly_days:
            continue
        if due < today:
            left = min(left, -1)  # past its date: overdue even when the days between were not working days
        row = OverdueRow(task_id, case_id, ombudsman, ombudsman_ref, council_ref, title, token, due, left)
        by_area.setdefault(row_area, []).append(row)
    groups = tuple(
        AreaGroup(name, tuple(sorted(rows, key=lambda r: (r.due, r.task_id))))
        for name, rows in sorted(by_area.items(), key=lambda item: (item[0] is None, item[0] or ""))
    )
    return OverdueReport(today, nearly_days, groups)


def _working_days(n: int) -> str:
    return "1 working day" if n == 1 else f"{n} working days"


def _empty_sentence(report: OverdueReport, area: str | None, one_area: bool) -> str:
    where = (f" for {area}" if area is not None else " without a service area") if one_area else ""
    return f"No Ombudsman tasks{where} are overdue or due in the next {_working_days(report.nearly_days)}."


def _counts_sentence(overdue: int, nearly: int, nearly_days: int) -> str:
    tasks = "task is" if overdue == 1 else "tasks are"
    soon = "task is" if nearly == 1 else "tasks are"
    return f"{overdue} {tasks} overdue and {nearly} {soon} due in the next {_working_days(nearly_days)}."


def _refs(row: OverdueRow) -> str:
    parts = [row.ombudsman_ref or "no Ombudsman reference"]
    if row.council_ref:
        parts.append(row.council_ref)
    return " / ".join(parts)


def _text_rows(group: AreaGroup) -> list[str]:
    lines: list[str] = []
    for row in group.rows:
        lines.append(
            f"- [{row.token}] {row.title} — {row.ombudsman_name} {_refs(row)}; "
            f"due {long_date(row.due)} ({days_left(row.working_days_left)})"
        )
    return lines


def _html_table(group: AreaGroup) -> str:
    head = "".join(
        f'<th style="text-align:left;padding:4px 8px;border-bottom:1px solid #999">{h}</th>'
        for h in (
            "Ombudsman",
            "Ombudsman ref",
            "Council ref",
            "Task",
            "Token",
            "Due",
            "Working days",
        )
    )
    body = []
    for row in group.rows:
        colour = "#b00020" if row.overdue else "#8a5a00"
        cells = (
            escape(row.ombudsman_name),
            escape(row.ombudsman_ref or ""),
            escape(row.council_ref or ""),
            escape(row.title),
            escape(row.token),
            escape(long_date(row.due)),
            f'<span style="color:{colour}">{escape(days_left(row.working_days_left))}</span>',
        )
        body.append("<tr>" + "".join(f'<td style="padding:4px 8px">{c}</td>' for c in cells) + "</tr>")
    return (
        '<table style="border-collapse:collapse">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _subject(report: OverdueReport, who: str) -> str:
    when = short_date(report.today)
    if report.is_empty:
        return f"Ombudsman tasks{who}: nothing overdue ({when})"
    return f"Ombudsman tasks{who}: {report.overdue_count} overdue, {report.nearly_count} due soon ({when})"


def _render(report: OverdueReport, *, one_area: bool, area: str | None) -> tuple[str, str, str]:
    who = (f" for {area}" if area is not None else " without a service area") if one_area else ""
    subject = _subject(report, who)
    intro = f"Ombudsman tasks report for {long_date(report.today)}."
    text: list[str] = [intro, ""]
    html: list[str] = [f"<p>{escape(intro)}</p>"]
    if report.is_empty:
        sentence = _empty_sentence(report, area, one_area)
        text.append(sentence)
        html.append(f"<p>{escape(sentence)}</p>")
    else:
        counts = _counts_sentence(report.overdue_count, report.nearly_count, report.nearly_days)
        text.append(counts)
        html.append(f"<p>{escape(counts)}</p>")
        for group in report.groups:
            heading = (
                f"{group.label}: {group.overdue_count} overdue, {group.nearly_count} due soon"
                if not one_area
                else group.label
            )
            text += ["", heading, "-" * len(heading), *_text_rows(group)]
            html.append(f"<h2>{escape(heading)}</h2>")
            html.append(_html_table(group))
        ask = (
            "Please complete overdue tasks today. When a task is done, reply to its task email with done "
            "on the first line, keeping [Task ...] in the subject. If the Ombudsman has to chase us, the "
            "case is escalated to the Head of Resident Contact and then to the Senior Leadership Team."
        )
        text += ["", ask]
        html.append(f"<p>{escape(ask)}</p>")
    body_html = "<html><body>" + "".join(html) + "</body></html>"
    return subject, "\n".join(text) + "\n", body_html


def area_report_email(report: OverdueReport, area: str | None) -> tuple[str, str, str]:
    """(subject, text, html) for one service area (None: tasks with no service area yet)."""
    return _render(report.only(area), one_area=True, area=area)


def ret_report_email(report: OverdueReport) -> tuple[str, str, str]:
    """(subject, text, html) for RET: every area, with counts per area."""
    return _render(report, one_area=False, area=None)
