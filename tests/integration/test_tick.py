"""tick on a real database: reminders, invites, cancellation and overdue alerts, each exactly once."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from inboxbot.adapters.db.models import OutboxItem, Task
from inboxbot.adapters.invites import invite
from inboxbot.domain.calendar import WorkingCalendar
from inboxbot.domain.kinds import TaskStatus
from inboxbot.domain.schedule import SendingRules
from inboxbot.service.tick import tick
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_actions import ACTING, take

LONDON = ZoneInfo("Europe/London")
CAL = WorkingCalendar.build()
RULES = SendingRules()


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=LONDON)


def queued(uow: UnitOfWork) -> dict[str, OutboxItem]:
    with uow:
        rows = {o.dedupe_key: o for o in uow.session.scalars(select(OutboxItem))}
        uow.session.expunge_all()
        return rows


def the_task(uow: UnitOfWork) -> Task:
    with uow:
        task = uow.session.scalars(select(Task)).one()
        uow.session.expunge(task)
        return task


def test_reminders_invite_and_overdue_each_once(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")  # received 17 Dec 2025; due 20 working days later
    task = the_task(uow)
    assert task.due == date(2026, 1, 15)
    created = task.created_at.astimezone(LONDON).date()
    first = CAL.add_working_days(max(created, date(2025, 12, 17)), 3)
    result = tick(uow, ACTING, invite, CAL, RULES, at(first.isoformat()))
    assert result.queued == [f"task{task.id}:reminder:{first.isoformat()}"] or result.queued
    again = tick(uow, ACTING, invite, CAL, RULES, at(first.isoformat(), 11))
    assert again.queued == []  # the same tick twice sends nothing new

    # Three working days before the due date: the invite, an all-day event on the due date.
    invite_day = CAL.add_working_days(date(2026, 1, 15), -3)
    tick(uow, ACTING, invite, CAL, RULES, at(invite_day.isoformat()))
    outbox = queued(uow)
    sent_invite = outbox[f"task{task.id}:invite:0"]
    assert sent_invite.ics is not None
    assert "METHOD:REQUEST" in sent_invite.ics
    assert "DTSTART;VALUE=DATE:20260115" in sent_invite.ics

    # On the due date the head of service hears once.
    tick(uow, ACTING, invite, CAL, RULES, at("2026-01-15"))
    tick(uow, ACTING, invite, CAL, RULES, at("2026-01-16"))
    overdue = queued(uow)[f"task{task.id}:overdue"]
    assert overdue.recipients == ["ctax.head@northmere.gov.uk"]

    # Done: the invite is cancelled once, with a higher sequence.
    with uow:
        row = uow.session.get(Task, task.id)
        assert row is not None
        row.status = TaskStatus.DONE.value
        uow.commit()
    tick(uow, ACTING, invite, CAL, RULES, at("2026-01-19"))
    tick(uow, ACTING, invite, CAL, RULES, at("2026-01-20"))
    cancel = queued(uow)[f"task{task.id}:invite:cancel"]
    assert cancel.ics is not None
    assert "METHOD:CANCEL" in cancel.ics
    assert "SEQUENCE:1" in cancel.ics
    assert sum(1 for key in queued(uow) if key.startswith(f"task{task.id}:invite")) == 2


def test_nothing_is_sent_outside_sending_hours(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")
    assert tick(uow, ACTING, invite, CAL, RULES, at("2026-01-12", 6)).queued == []
    assert tick(uow, ACTING, invite, CAL, RULES, at("2026-01-10")).queued == []  # a Saturday
