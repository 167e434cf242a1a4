"""Replies to the bot's own mail: "done" from the service area, "area:" from RET (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from inboxbot.adapters.db.models import Case, OutboxItem, Task
from inboxbot.domain.kinds import TaskStatus
from inboxbot.service.intake import take_in
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_actions import ACTING, take
from tests.support.fakes import FakeMailbox
from tests.support.judgement import judgement
from tests.support.mail import make_message

SENT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def open_task(uow: UnitOfWork) -> tuple[int, str]:
    with uow:
        task = uow.session.scalars(select(Task).where(Task.status == TaskStatus.OPEN.value)).one()
        return task.id, task.token


def reply(token: str, body: str, sender: str) -> bytes:
    subject = f"RE: [Case 25 018 406] [Task {token}] Provide the information the Ombudsman has asked for"
    return make_message(subject, body, sender=sender, date=SENT)


def deliver(uow: UnitOfWork, raw: bytes, key: str) -> None:
    take_in(
        FakeMailbox([(f"reply-{key}", raw)], name="fake://mailbox/replies"),
        uow,
        judgement(),
        lambda: SENT,
        service_keywords={"Council Tax": ["council tax"]},
        acting=ACTING,
    )


def test_done_from_the_service_area_closes_the_task_and_acknowledges(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")
    task_id, token = open_task(uow)
    deliver(uow, reply(token, "Done - chronology attached", "Priya <ctax.complaints@northmere.gov.uk>"), "a")
    with uow:
        task = uow.session.get(Task, task_id)
        assert task is not None
        assert (task.status, task.done_by, task.note) == (
            TaskStatus.DONE.value,
            "ctax.complaints@northmere.gov.uk",
            "chronology attached",
        )
        keys = set(uow.session.scalars(select(OutboxItem.dedupe_key)))
    assert f"task{task_id}:done-ack" in keys


def test_done_by_reply_moves_the_cases_next_due_date_on(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")
    task_id, token = open_task(uow)
    with uow:
        task = uow.session.get(Task, task_id)
        assert task is not None
        assert task.due is not None
        case = uow.session.get(Case, task.case_id)
        assert case is not None
        assert case.next_due == task.due
        case_id = case.id
    deliver(uow, reply(token, "done", "Priya <ctax.complaints@northmere.gov.uk>"), "g")
    with uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        # Its only task is done: nothing is due, so `cases --overdue` cannot list it.
        assert case.next_due is None


def test_done_from_anyone_else_changes_nothing(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")
    task_id, token = open_task(uow)
    deliver(uow, reply(token, "done", "Someone <someone@example.com>"), "b")
    with uow:
        task = uow.session.get(Task, task_id)
        assert task is not None
        assert task.status == TaskStatus.OPEN.value
        triage = [k for k in uow.session.scalars(select(OutboxItem.dedupe_key)) if k.endswith(":triage")]
    assert triage  # the reply went to a person instead


def test_ret_names_the_service_area_by_reply(uow: UnitOfWork) -> None:
    take(uow, "hos-notification-03.eml")  # no Council Tax keywords: the case waits for a service area
    with uow:
        case = uow.session.scalars(select(Case)).one()
        assert case.service_area is None
        ref = case.ombudsman_ref
    raw = make_message(
        f"RE: [Case {ref}] A message needs a person",
        "area: council tax\n\nJo",
        sender="ombudsman@northmere.gov.uk",
        date=SENT,
    )
    deliver(uow, raw, "c")
    with uow:
        case = uow.session.scalars(select(Case)).one()
        assert case.service_area == "Council Tax"
        task = uow.session.scalars(select(Task)).one()
        assert task.service_area == "Council Tax"
        task_id = task.id
        keys = set(uow.session.scalars(select(OutboxItem.dedupe_key)))
    assert f"task{task_id}:new" in keys


def test_mail_from_the_shared_mailbox_to_the_ombudsman_answers_the_request(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")
    task_id, _ = open_task(uow)
    sent = make_message(
        "RE: Complaint 25 018 406 - Mr K Asante - our response",
        "Please find attached the Council's response and the documents you asked for.",
        sender="Resident Experience Team <ombudsman@northmere.gov.uk>",
        to="Intake Team <intake@lgo.org.uk>",
        date=SENT,
    )
    deliver(uow, sent, "d")
    with uow:
        task = uow.session.get(Task, task_id)
        assert task is not None
        assert task.status == TaskStatus.DONE.value
        assert task.done_by == "ombudsman@northmere.gov.uk"
        case = uow.session.get(Case, task.case_id)
        assert case is not None
        assert case.next_due is None


def test_mail_from_the_shared_mailbox_to_anyone_else_answers_nothing(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")
    task_id, _ = open_task(uow)
    internal = make_message(
        "Complaint 25 018 406 - can you help?",
        "Do you have the chronology?",
        sender="ombudsman@northmere.gov.uk",
        to="ctax.complaints@northmere.gov.uk",
        date=SENT,
    )
    deliver(uow, internal, "e")
    with uow:
        task = uow.session.get(Task, task_id)
        assert task is not None
        assert task.status == TaskStatus.OPEN.value


def test_an_out_of_office_reply_to_a_reminder_is_never_answered(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")
    _, token = open_task(uow)
    with uow:
        before = set(uow.session.scalars(select(OutboxItem.dedupe_key)))
    ooo = make_message(
        f"Automatic reply: [Case 25 018 406] [Task {token}] Reminder: Provide the information",
        "I am out of the office until Monday. For urgent matters contact the team.",
        sender="Priya <ctax.complaints@northmere.gov.uk>",
        date=SENT,
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )
    deliver(uow, ooo, "f")
    with uow:
        after = set(uow.session.scalars(select(OutboxItem.dedupe_key)))
        task = uow.session.scalars(select(Task).where(Task.token == token)).one()
        assert task.status == TaskStatus.OPEN.value
    assert after == before
