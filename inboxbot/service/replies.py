"""Acting on replies to the bot's own mail, before any other planning.

"done" on the first line of a reply to a task email, from someone allowed to
answer for that service area, closes the task (the reply, with its
attachments, stays on the case). "area: NAME" in a reply to a triage email,
from the Resident Experience Team or the Head of Resident Contact, gives the
case its service area. Anyone else's reply is handled like any other mail.
"""

from __future__ import annotations

from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parseaddr

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import Case, StoredMessage, Task
from inboxbot.domain.kinds import TaskStatus
from inboxbot.domain.mailtext import parse
from inboxbot.domain.planning import PlannedEmail
from inboxbot.domain.references import canonical_lgsco
from inboxbot.domain.replies import AreaNamed, TaskDone, read_reply
from inboxbot.service import audit
from inboxbot.service.actions import Acting, queue_email, refresh_next_due


def _address(value: str | None) -> str:
    return parseaddr(value or "")[1].lower()


def handle_reply(session: Session, message: StoredMessage, acting: Acting, now: datetime) -> Case | None:
    """The case a reply was about when it was acted on, else None (it is then ordinary mail)."""
    if not _may_be_reply(message, acting):
        return None
    mail = parse(message.raw)
    reply = read_reply(mail.subject, mail.newest)
    sender = mail.sender_address.lower()
    if isinstance(reply, TaskDone):
        return _task_done(session, message, reply, sender, acting, now)
    if isinstance(reply, AreaNamed):
        return _area_named(session, message, reply, sender, acting, now)
    return _answer_to_ombudsman(session, message, mail.message, sender, acting, now)


def _may_be_reply(message: StoredMessage, acting: Acting) -> bool:
    """False when the stored subject and sender already rule every kind of reply out, which spares
    parsing the whole message again (most mail is the Ombudsman's, not a reply to the bot):
    a task done and an area named carry "[Task ...]" or "[Case ...]" in the subject, and an
    answer to the Ombudsman comes from the shared mailbox about a case with a reference."""
    subject = (message.subject or "").casefold()
    if "[task " in subject or "[case " in subject:
        return True
    shared = _address(acting.directory.shared_mailbox)
    return bool(shared and message.ombudsman_ref and shared in (message.sender or "").casefold())


# The tasks a reply to the Ombudsman answers: the requests for information.
_ANSWERABLE = ("notification", "information_request", "priority")


def _answer_to_ombudsman(
    session: Session, message: StoredMessage, headers: Message, sender: str, acting: Acting, now: datetime
) -> Case | None:
    """Mail from the shared mailbox to the Ombudsman quoting the case (seen in Sent Items)
    means the information has gone: the open information requests on that case are answered."""
    if sender != _address(acting.directory.shared_mailbox) or not sender or not message.ombudsman_ref:
        return None
    recipients = getaddresses([str(headers.get("To", "")), str(headers.get("Cc", ""))])
    domains = {address.rpartition("@")[2].lower() for _, address in recipients}
    if not any(d == o or d.endswith("." + o) for d in domains for o in acting.ombudsman_domains):
        return None
    case = session.scalars(
        select(Case).where(Case.ombudsman == message.ombudsman, Case.ombudsman_ref == message.ombudsman_ref)
    ).first()
    if case is None:
        return None
    answered = session.scalars(
        select(Task).where(
            Task.case_id == case.id, Task.status == TaskStatus.OPEN.value, Task.kind.in_(_ANSWERABLE)
        )
    ).all()
    for task in answered:
        task.status, task.done_at, task.done_by = TaskStatus.DONE.value, now, sender
        task.note = "answered: the shared mailbox wrote to the Ombudsman"
        audit.record(
            session, now, "task done", actor=sender, case_id=case.id, task_id=task.id, message_id=message.id
        )
    if answered:
        refresh_next_due(session, case)  # else `cases --overdue` still lists it by the answered task's date
    audit.record(session, now, "reply to the Ombudsman seen", case_id=case.id, message_id=message.id)
    return case


def _task_done(
    session: Session, message: StoredMessage, reply: TaskDone, sender: str, acting: Acting, now: datetime
) -> Case | None:
    task = session.scalars(select(Task).where(Task.token == reply.token)).first()
    if task is None or task.status != TaskStatus.OPEN.value:
        return None
    area = acting.directory.area(task.service_area or "")
    allowed = {_address(a) for a in (area.task_recipients if area else [])}
    allowed |= {_address(area.head_of_service)} if area else set()
    allowed |= {
        _address(acting.directory.shared_mailbox),
        _address(acting.directory.head_of_resident_contact),
    }
    if sender not in allowed - {""}:
        audit.record(
            session, now, "done not accepted", case_id=task.case_id, task_id=task.id, message_id=message.id,
            why="the sender is not listed for this service area",
        )  # fmt: skip
        return None
    task.status, task.done_at, task.done_by, task.note = (
        TaskStatus.DONE.value,
        now,
        sender,
        reply.note or None,
    )
    audit.record(
        session, now, "task done", actor=sender, case_id=task.case_id, task_id=task.id, message_id=message.id
    )
    case = session.get(Case, task.case_id)
    if case is not None:
        refresh_next_due(session, case)  # the done task's date no longer counts for the case
    queue_email(
        session,
        PlannedEmail(f"task{task.id}:done-ack", "task_done_ack", ("service_area",)),
        case=case,
        task=task,
        ombudsman=None,
        kind=task.kind,
        acting=acting,
        now=now,
        message_id=message.id,
    )
    return case


def _area_named(
    session: Session, message: StoredMessage, reply: AreaNamed, sender: str, acting: Acting, now: datetime
) -> Case | None:
    allowed = {_address(acting.directory.shared_mailbox), _address(acting.directory.head_of_resident_contact)}
    known = acting.directory.area(reply.area)
    if sender not in allowed - {""} or known is None:
        return None
    refs = {reply.case_ref, reply.case_ref.upper()} | ({canonical_lgsco(reply.case_ref)} - {None})
    case = session.scalars(
        select(Case)
        .where(or_(Case.ombudsman_ref.in_(refs), Case.council_ref.in_(refs)))
        .order_by(Case.id.desc())
    ).first()
    if case is None:
        return None
    assign_service_area(session, case, known.name, sender, acting, now, message_id=message.id)
    return case


def assign_service_area(
    session: Session,
    case: Case,
    area: str,
    actor: str,
    acting: Acting,
    now: datetime,
    *,
    message_id: int | None = None,
) -> None:
    """Give ``case`` its service area; open tasks that were waiting for one go to the area now."""
    before, case.service_area, case.updated_at = case.service_area, area, now
    audit.record(
        session, now, "service area assigned", actor=actor, case_id=case.id, message_id=message_id,
        before=before, after=area,
    )  # fmt: skip
    waiting = select(Task).where(
        Task.case_id == case.id, Task.status == TaskStatus.OPEN.value, Task.service_area.is_(None)
    )
    for task in session.scalars(waiting):
        if task.kind == "portal_message":
            continue  # reading the portal is RET's job whoever the case belongs to
        task.service_area = area
        queue_email(
            session,
            PlannedEmail(f"task{task.id}:new", "task_new", ("service_area",)),
            case=case,
            task=task,
            ombudsman=None,
            kind=task.kind,
            acting=acting,
            now=now,
            message_id=message_id,
        )
