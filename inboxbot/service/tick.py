"""``tick``: all time-based work due at one instant, then sending.

Reminder state lives on the task rows, and every email has a dedupe key, so a
tick run twice at the same instant (or after a crash) queues and sends nothing
new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

from sqlalchemy import or_, select

from inboxbot.adapters.db.models import Case, Task
from inboxbot.domain.calendar import LONDON, WorkingCalendar
from inboxbot.domain.kinds import Ombudsman, TaskStatus
from inboxbot.domain.planning import PlannedEmail
from inboxbot.domain.schedule import SendingRules, TaskClock, work_due
from inboxbot.service.actions import Acting, queue_email
from inboxbot.service.unit_of_work import UnitOfWork


class InviteBuilder(Protocol):
    """Writes an iCalendar invite (the invites adapter)."""

    def __call__(
        self,
        *,
        uid: str,
        sequence: int,
        summary: str,
        description: str,
        due: date,
        organiser: str,
        attendees: Sequence[str],
        now: datetime,
        method: Literal["REQUEST", "CANCEL"] = "REQUEST",
    ) -> str:
        """The invite as iCalendar text."""
        ...


@dataclass
class TickResult:
    """The keys of everything a tick queued."""

    queued: list[str] = field(default_factory=list)


_TEMPLATES = {
    "reminder": ("task_reminder", ("service_area",)),
    "invite": ("task_reminder", ("service_area",)),
    "invite_update": ("task_reminder", ("service_area",)),
    "invite_cancel": ("task_done_ack", ("service_area",)),
    "overdue": ("task_overdue", ("head_of_service",)),
}


def tick(
    uow: UnitOfWork,
    acting: Acting,
    invite: InviteBuilder,
    calendar: WorkingCalendar,
    rules: SendingRules,
    now: datetime,
) -> TickResult:
    """Queue every reminder, invite, invite change and overdue alert due at ``now``."""
    result = TickResult()
    today = now.astimezone(LONDON).date()
    with uow:
        ids = list(
            uow.session.scalars(
                select(Task.id)
                .where(
                    Task.service_area.is_not(None),
                    or_(Task.status == TaskStatus.OPEN.value, Task.invite_due.is_not(None)),
                )
                .order_by(Task.id)
            )
        )
    for task_id in ids:
        with uow:
            session = uow.session
            task = session.get(Task, task_id)
            if task is None:
                continue
            case = session.get(Case, task.case_id)
            clock = TaskClock(
                task_id=task.id,
                open=task.status == TaskStatus.OPEN.value,
                due=task.due,
                created_on=task.created_at.astimezone(LONDON).date(),
                last_reminder_on=task.last_reminder_on,
                invite_due=task.invite_due,
                invite_sequence=task.invite_sequence,
            )
            for work in work_due(clock, now, calendar, rules):
                template, audience = _TEMPLATES[work.what]
                ics = None
                area = acting.directory.area(task.service_area or "")
                if work.what.startswith("invite") and task.due is not None and area is not None:
                    ics = invite(
                        uid=f"task-{task.id}@inboxbot",
                        sequence=work.sequence,
                        summary=f"Ombudsman task due: {task.title}",
                        description=f"{task.title}. {task.detail or ''}".strip(),
                        due=task.invite_due if work.what == "invite_cancel" and task.invite_due else task.due,
                        organiser=acting.directory.shared_mailbox or "inboxbot@localhost",
                        attendees=sorted(area.task_recipients),
                        now=now,
                        method="CANCEL" if work.what == "invite_cancel" else "REQUEST",
                    )
                left = calendar.working_days_between(today, task.due) if task.due else 0
                sent_to = queue_email(
                    session,
                    PlannedEmail(work.key, template, audience, work.what),
                    case=case,
                    task=task,
                    ombudsman=Ombudsman(case.ombudsman) if case and case.ombudsman else None,
                    kind=task.kind,
                    acting=acting,
                    now=now,
                    ics=ics,
                    working_days_left=max(left, 0),
                )
                if sent_to:
                    result.queued.append(work.key)
                if work.what == "reminder":
                    task.last_reminder_on = today
                elif work.what in ("invite", "invite_update"):
                    task.invite_due, task.invite_sequence = task.due, work.sequence
                elif work.what == "invite_cancel":
                    task.invite_due, task.invite_sequence = None, work.sequence
            uow.commit()
    return result
