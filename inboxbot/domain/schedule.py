"""Time-based work on one task, decided from the task and the clock alone (pure).

Reminders go every N working days (3 by default) until the task is done, only
inside the sending hours on a working day; a calendar invite goes N working
days before the due date, is re-sent with a higher sequence when the due date
moves and cancelled when the task is done; the head of service is told once
when a task reaches its due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from inboxbot.domain.calendar import LONDON, WorkingCalendar


@dataclass(frozen=True)
class SendingRules:
    """When and how often the bot writes to people."""

    reminder_every: int = 3  # working days
    invite_before: int = 3  # working days before the due date
    hours_from: time = time(8, 0)
    hours_to: time = time(18, 0)


@dataclass(frozen=True)
class TaskClock:
    """What scheduling needs of one task."""

    task_id: int
    open: bool
    due: date | None
    created_on: date  # London date
    last_reminder_on: date | None
    invite_due: date | None  # the due date the last invite was for (None: none out, or cancelled)
    invite_sequence: int


@dataclass(frozen=True)
class Due:
    """One piece of time-based work with its dedupe key."""

    key: str
    what: str  # reminder, invite, invite_update, invite_cancel, overdue
    sequence: int = 0


def in_sending_hours(now: datetime, calendar: WorkingCalendar, rules: SendingRules) -> bool:
    """True on a working day between the sending hours, London time."""
    local = now.astimezone(LONDON)
    return calendar.is_working_day(local.date()) and rules.hours_from <= local.time() < rules.hours_to


def work_due(task: TaskClock, now: datetime, calendar: WorkingCalendar, rules: SendingRules) -> list[Due]:
    """Everything that is due for ``task`` at ``now``."""
    today = now.astimezone(LONDON).date()
    work: list[Due] = []
    if not task.open:
        if task.invite_due is not None:
            work.append(Due(f"task{task.task_id}:invite:cancel", "invite_cancel", task.invite_sequence + 1))
        return work
    polite = in_sending_hours(now, calendar, rules)
    last = task.last_reminder_on or task.created_on
    if polite and calendar.working_days_between(last, today) >= rules.reminder_every:
        work.append(Due(f"task{task.task_id}:reminder:{today.isoformat()}", "reminder"))
    if task.due is None:
        return work
    if polite and task.invite_due is not None and task.invite_due != task.due:
        # The due date moved after the invite went out: move the calendar entry now.
        sequence = task.invite_sequence + 1
        work.append(Due(f"task{task.task_id}:invite:{sequence}", "invite_update", sequence))
    elif (
        polite
        and task.invite_due is None
        and today >= calendar.add_working_days(task.due, -rules.invite_before)
    ):
        work.append(Due(f"task{task.task_id}:invite:{task.invite_sequence}", "invite", task.invite_sequence))
    if today >= task.due:
        work.append(Due(f"task{task.task_id}:overdue", "overdue"))
    return work
