"""Registering classified messages against cases.

A message joins a case by its Ombudsman reference, else by the thread it
replies to, else by the council's complaint reference. Only a verified
Ombudsman message about a named case may open a new case; anything else is
linked to an existing case or left for a person. A new case gets its service
area from the complaints register (the original complaint), else from an
earlier case with the same council reference, else from the service areas'
keywords, else none: it then waits in triage for RET.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import Case, Complaint, StoredMessage
from inboxbot.domain.casework import guess_service_area, may_open_case
from inboxbot.domain.kinds import CaseStatus, MessageKind, MessageState
from inboxbot.domain.mailtext import parse
from inboxbot.service import audit
from inboxbot.service.actions import Acting, act
from inboxbot.service.replies import handle_reply
from inboxbot.service.unit_of_work import UnitOfWork


@dataclass
class RegisterResult:
    """What one registration pass did."""

    linked: list[int] = field(default_factory=list)  # message ids linked to a case
    opened: list[int] = field(default_factory=list)  # case ids opened
    unlinked: list[int] = field(default_factory=list)  # message ids about no known case


def _thread_ids(raw: bytes) -> list[str]:
    """The Message-IDs this message replies to, newest first."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        found = " ".join(str(headers.get(name, "")) for name in ("In-Reply-To", "References"))
    except Exception:  # a broken header only means no thread to follow
        return []
    ids = [part for part in found.replace(">", "> ").split() if part.startswith("<") and part.endswith(">")]
    return list(dict.fromkeys(reversed(ids)))


def find_case(session: Session, judgement: Mapping[str, Any], raw: bytes) -> tuple[Case | None, str]:
    """The case a message belongs to, and how it was found."""
    ombudsman, reference = judgement.get("ombudsman"), judgement.get("ombudsman_ref")
    if ombudsman and reference:
        case = session.scalars(
            select(Case).where(Case.ombudsman == ombudsman, Case.ombudsman_ref == reference)
        ).first()
        if case is not None:
            return case, f"Ombudsman reference {reference}"
    thread = _thread_ids(raw)
    if thread:
        linked = session.scalars(
            select(StoredMessage.case_id)
            .where(StoredMessage.message_id.in_(thread), StoredMessage.case_id.is_not(None))
            .order_by(StoredMessage.received_at.desc())
        ).first()
        if linked is not None:
            return session.get(Case, linked), "reply in a thread of the case"
    council = judgement.get("council_ref")
    if council:
        case = session.scalars(
            # "open" sorts after "closed": an open case with this reference is preferred.
            select(Case)
            .where(Case.council_ref == council)
            .order_by(Case.status.desc(), Case.opened_at.desc())
        ).first()
        if case is not None:
            return case, f"council reference {council}"
    return None, "no case matches"


def _service_area_for(
    session: Session, judgement: Mapping[str, Any], text: str, keywords: Mapping[str, Sequence[str]]
) -> tuple[str | None, str]:
    council = judgement.get("council_ref")
    if council:
        # The complaints register knows the ORIGINAL complaint's service area: it wins.
        recorded = session.scalars(
            select(Complaint.service_area).where(
                Complaint.council_ref == str(council).strip().upper(), Complaint.service_area.is_not(None)
            )
        ).first()
        if recorded:
            known = next((name for name in keywords if name.casefold() == recorded.casefold()), None)
            if known is None:
                # A case for an area nobody in the directory hears about would be lost: triage it.
                return None, f"the complaints register puts {council} in {recorded!r}, not in the directory"
            return known, f"the complaints register for {council}"
        earlier = session.scalars(
            select(Case.service_area).where(Case.council_ref == council, Case.service_area.is_not(None))
        ).first()
        if earlier:
            return earlier, f"an earlier case for {council}"
    return guess_service_area(text, keywords)


def _gather_earlier(session: Session, case: Case, at: datetime) -> list[int]:
    """Earlier mail about a case that did not exist yet (a forward, an unverified copy) joins it now."""
    earlier = session.scalars(
        select(StoredMessage).where(
            StoredMessage.case_id.is_(None),
            StoredMessage.state == MessageState.PROCESSED.value,
            StoredMessage.ombudsman == case.ombudsman,
            StoredMessage.ombudsman_ref == case.ombudsman_ref,
        )
    ).all()
    for message in earlier:
        message.case_id = case.id
        audit.record(
            session, at, "message registered", case_id=case.id, message_id=message.id, how="earlier mail"
        )
    return [m.id for m in earlier]


def register_classified(
    uow: UnitOfWork,
    now: Callable[[], datetime],
    keywords: Mapping[str, Sequence[str]],
    acting: Acting | None = None,
    message_ids: Iterable[int] | None = None,
) -> RegisterResult:
    """Register every classified message against its case, oldest first, one transaction each;
    with ``acting``, carry out what each message calls for in the same transaction.

    ``message_ids`` (taken one at a time, so it may be produced as classifying goes on)
    registers those messages in that order instead; any not classified are passed over.
    """
    result = RegisterResult()
    if message_ids is None:
        with uow:
            message_ids = list(
                uow.session.scalars(
                    select(StoredMessage.id)
                    .where(StoredMessage.state == MessageState.CLASSIFIED.value)
                    .order_by(StoredMessage.received_at, StoredMessage.id)
                )
            )
    for message_id in message_ids:
        with uow:
            session = uow.session
            message = session.get(StoredMessage, message_id)
            if message is None or message.state != MessageState.CLASSIFIED.value:
                continue
            judgement = message.classification or {}
            at = now()
            replied = handle_reply(session, message, acting, at) if acting is not None else None
            if replied is not None:
                # A reply to the bot's own mail was acted on: it joins its case and needs nothing more.
                message.case_id, message.state = replied.id, MessageState.PROCESSED.value
                audit.record(
                    session, at, "message registered", case_id=replied.id, message_id=message.id, how="reply"
                )
                result.linked.append(message.id)
                uow.commit()
                continue
            case, how = find_case(session, judgement, message.raw)
            kind = MessageKind(message.kind or MessageKind.UNKNOWN.value)
            if case is None and may_open_case(kind, bool(message.trusted), judgement.get("ombudsman_ref")):
                text = f"{message.subject or ''}\n{parse(message.raw).body}"
                area, why = _service_area_for(session, judgement, text, keywords)
                case = Case(
                    ombudsman=judgement.get("ombudsman"),
                    ombudsman_ref=judgement.get("ombudsman_ref"),
                    council_ref=judgement.get("council_ref"),
                    service_area=area,
                    subject=message.subject,
                    status=CaseStatus.OPEN.value,
                    opened_at=message.received_at,
                    updated_at=at,
                )
                session.add(case)
                session.flush()
                audit.record(
                    session,
                    at,
                    "case opened",
                    case_id=case.id,
                    message_id=message.id,
                    service_area=area,
                    why=why,
                )
                result.opened.append(case.id)
                result.linked.extend(_gather_earlier(session, case, at))
                how = "opened by this message"
            if case is None:
                result.unlinked.append(message.id)
            else:
                message.case_id = case.id
                if case.council_ref is None and judgement.get("council_ref"):
                    case.council_ref = judgement["council_ref"]
                case.updated_at = at
                audit.record(
                    session, at, "message registered", case_id=case.id, message_id=message.id, how=how
                )
                result.linked.append(message.id)
            if acting is not None:
                act(session, message, case, acting, at)
            message.state = MessageState.PROCESSED.value
            uow.commit()
    return result
