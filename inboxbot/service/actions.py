"""Carrying out a plan in the database: tasks opened, the case closed, emails put in the outbox.

Runs inside the transaction that registers the message, so the decision and
its effects commit together or not at all. Every email is an outbox row with a
unique dedupe key: applying the same effect twice finds the row already there.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import Case, OutboxItem, StoredMessage, Task
from inboxbot.config import DirectorySettings, ServiceArea
from inboxbot.domain.calendar import LONDON, WorkingCalendar
from inboxbot.domain.kinds import CaseStatus, MessageKind, MessageState, Ombudsman, OutboxStatus, TaskStatus
from inboxbot.domain.planning import (
    OMBUDSMAN_NAMES,
    CaseFacts,
    Deadline,
    MessageFacts,
    Plan,
    PlannedEmail,
    plan,
)
from inboxbot.service import audit
from inboxbot.service.unit_of_work import first_value

# Built once and bound per use: a backfill acts on thousands of messages in a row.
_OUTBOX_HAS = select(OutboxItem.id).where(OutboxItem.dedupe_key == bindparam("key"))
_TASK_PLANNED = select(Task.id).where(Task.plan_key == bindparam("key"))
_OPEN_TASKS = select(Task).where(Task.case_id == bindparam("case_id"), Task.status == TaskStatus.OPEN.value)
_NEXT_DUE = select(func.min(Task.due)).where(
    Task.case_id == bindparam("case_id"), Task.status == TaskStatus.OPEN.value
)

# No 0/O or 1/I, which are easy to misread in a subject line.
_TOKEN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # noqa: S105 - not a password


class Renderer(Protocol):
    """Turns a template and its context into (subject, text, html)."""

    def render(self, name: str, context: Mapping[str, object]) -> tuple[str, str, str]:
        """Render template ``name``."""
        ...


@dataclass(frozen=True)
class Acting:
    """What carrying out plans needs: who is who, and how emails are written."""

    directory: DirectorySettings
    renderer: Renderer
    council_name: str = "the council"
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar.build)
    ombudsman_domains: frozenset[str] = frozenset({"lgo.org.uk", "housing-ombudsman.org.uk"})


def new_token() -> str:
    """A short task token for subject lines, e.g. T7QK2M."""
    return "T" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(5))


def message_facts(message: StoredMessage) -> MessageFacts:
    """What planning needs of a stored, classified message."""
    judgement = message.classification or {}
    deadlines = tuple(
        Deadline(date.fromisoformat(d["due"]), str(d.get("text", ""))) for d in judgement.get("deadlines", [])
    )
    due = judgement.get("due")
    ombudsman = judgement.get("ombudsman")
    return MessageFacts(
        message_id=message.id,
        kind=MessageKind(message.kind or MessageKind.UNKNOWN.value),
        trusted=bool(message.trusted),
        automatic=bool(judgement.get("automatic")),
        quarantined=message.state == MessageState.QUARANTINED.value,
        ombudsman=Ombudsman(ombudsman) if ombudsman else None,
        due=date.fromisoformat(due) if due else None,
        deadlines=deadlines,
        why_unknown=str(judgement.get("evidence") or ""),
    )


def _addresses(role: str, acting: Acting, area: ServiceArea | None, ombudsman: Ombudsman | None) -> list[str]:
    directory = acting.directory
    if role == "service_area":
        return list(area.task_recipients) if area else []
    if role == "head_of_service":
        return [area.head_of_service] if area else []
    if role == "slt_director":
        return [area.slt_director] if area else []
    if role == "hrc":
        return [directory.head_of_resident_contact] if directory.head_of_resident_contact else []
    if role == "ret":
        return [directory.shared_mailbox] if directory.shared_mailbox else []
    if role == "ombudsman" and ombudsman is not None:
        target = directory.acknowledge.get(ombudsman.value)
        return [target] if target else []
    return []


def _context(
    case: Case | None,
    task: Task | None,
    ombudsman: Ombudsman | None,
    kind: str,
    reason: str,
    acting: Acting,
    working_days_left: int,
) -> dict[str, Any]:
    if case and case.ombudsman:
        ombudsman = Ombudsman(case.ombudsman)
    return {
        "case": {
            # The templates say "The {{ ombudsman_name }}", so the fallback has no article.
            "ombudsman_name": OMBUDSMAN_NAMES.get(ombudsman, "Ombudsman") if ombudsman else "Ombudsman",
            "ombudsman_ref": (case.ombudsman_ref if case else None) or "",
            "council_ref": (case.council_ref if case else None) or "",
            "service_area": (case.service_area if case else None) or "",
            "subject": (case.subject if case else None) or "",
        },
        "task": {
            "token": task.token if task else "",
            "title": task.title if task else "",
            "detail": (task.detail or "") if task else "",
            "due": task.due if task else None,
            "working_days_left": working_days_left,
        },
        "message_kind": kind,
        "reason": reason,
        "recipient_name": "colleague",
        "council_name": acting.council_name,
        "shared_mailbox": acting.directory.shared_mailbox or "",
    }


def queue_email(
    session: Session,
    email: PlannedEmail,
    *,
    case: Case | None,
    task: Task | None,
    ombudsman: Ombudsman | None,
    kind: str,
    acting: Acting,
    now: datetime,
    message_id: int | None = None,
    ics: str | None = None,
    working_days_left: int | None = None,
) -> list[str]:
    """Render ``email`` and put it in the outbox unless its dedupe key is there already;
    the recipients it went to ([] when it was there already or nobody is configured)."""
    if first_value(session, _OUTBOX_HAS, {"key": email.dedupe_key}) is not None:
        return []  # this effect was decided before: never twice
    area = acting.directory.area(case.service_area) if case and case.service_area else None
    recipients = sorted({a for role in email.audience for a in _addresses(role, acting, area, ombudsman)})
    case_id, task_id = (case.id if case else None), (task.id if task else None)
    if not recipients:
        audit.record(
            session,
            now,
            "nobody to tell",
            case_id=case_id,
            task_id=task_id,
            message_id=message_id,
            template=email.template,
            roles=list(email.audience),
        )
        return []
    if working_days_left is None:
        today = now.astimezone(LONDON).date()
        due = task.due if task else None
        working_days_left = max(acting.calendar.working_days_between(today, due), 0) if due else 0
    context = _context(case, task, ombudsman, kind, email.reason, acting, working_days_left)
    try:
        subject, text, html = acting.renderer.render(email.template, context)
    except Exception as exc:  # a broken template must not stop the case being registered
        audit.record(
            session,
            now,
            "email not written",
            case_id=case_id,
            task_id=task_id,
            message_id=message_id,
            template=email.template,
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
        return []
    session.add(
        OutboxItem(
            dedupe_key=email.dedupe_key,
            purpose=email.template,
            created_at=now,
            recipients=recipients,
            subject=subject,
            body_text=text,
            body_html=html,
            ics=ics,
            case_id=case_id,
            task_id=task_id,
            status=OutboxStatus.PENDING.value,
        )
    )
    audit.record(
        session,
        now,
        "email queued",
        case_id=case_id,
        task_id=task_id,
        message_id=message_id,
        template=email.template,
        to=recipients,
    )
    return recipients


def act(session: Session, message: StoredMessage, case: Case | None, acting: Acting, now: datetime) -> Plan:
    """Plan and carry out what ``message`` calls for, in the caller's transaction."""
    facts = message_facts(message)
    case_facts = (
        CaseFacts(case.id, case.service_area, case.status == CaseStatus.CLOSED.value) if case else None
    )
    acknowledge = bool(facts.ombudsman and acting.directory.acknowledge.get(facts.ombudsman.value))
    result = plan(facts, case_facts, acknowledge=acknowledge)
    if case is not None and result.close_case:
        case.status = CaseStatus.CLOSED.value
        case.closed_at = now
        open_tasks = session.scalars(_OPEN_TASKS, {"case_id": case.id}).all()
        for task in open_tasks:
            if task.status == TaskStatus.OPEN.value:
                task.status = TaskStatus.CANCELLED.value
                audit.record(
                    session, now, "task cancelled", case_id=case.id, task_id=task.id, why="case closed"
                )
        audit.record(session, now, "case closed", case_id=case.id, message_id=message.id)
    first_task: Task | None = None
    for planned in result.tasks:
        if case is None or first_value(session, _TASK_PLANNED, {"key": planned.key}) is not None:
            continue
        task = Task(
            case_id=case.id,
            token=new_token(),
            plan_key=planned.key,
            kind=planned.kind,
            title=planned.title,
            detail=planned.detail,
            service_area=None if planned.for_ret else case.service_area,
            due=planned.due,
            status=TaskStatus.OPEN.value,
            created_at=now,
            source_message_id=message.id,
        )
        session.add(task)
        session.flush()
        first_task = first_task or task
        audit.record(session, now, "task opened", case_id=case.id, task_id=task.id, due=str(planned.due))
        audience = ("ret",) if planned.for_ret else ("service_area",)
        if planned.for_ret or case.service_area:
            notice = PlannedEmail(f"task{task.id}:new", "task_new", audience)
            queue_email(
                session,
                notice,
                case=case,
                task=task,
                ombudsman=facts.ombudsman,
                kind=facts.kind.value,
                acting=acting,
                now=now,
                message_id=message.id,
            )
    for email in result.emails:
        # An alert about a chaser or a report speaks of the task it gave the service area.
        queue_email(
            session,
            email,
            case=case,
            task=first_task,
            ombudsman=facts.ombudsman,
            kind=facts.kind.value,
            acting=acting,
            now=now,
            message_id=message.id,
        )
    if case is not None:
        refresh_next_due(session, case)
    return result


def refresh_next_due(session: Session, case: Case) -> None:
    """The case's next due date: the earliest due date of its open tasks."""
    case.next_due = first_value(session, _NEXT_DUE, {"case_id": case.id})
