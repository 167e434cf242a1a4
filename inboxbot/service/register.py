"""Registering classified messages against cases.

A message joins a case by its Ombudsman reference, else by the thread it
replies to, else by the council's complaint reference. Only a verified
Ombudsman message about a named case may open a new case; anything else is
linked to an existing case or left for a person. A new case gets its service
area from the complaints register (the original complaint), else from an
earlier case with the same council reference, else from the service areas'
keywords, else none: it then waits in triage for RET.

Messages are registered oldest first, a chunk to a transaction. A message whose
registering fails is quarantined with its error on its own, and the rest of its
chunk is registered without it. The messages' own rows and the audit trail are
written with the chunk's commit (unit_of_work.defer), and the lookups are Core
queries: the ORM's bookkeeping was most of the cost of registering a backfill.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, undefer
from sqlalchemy.orm.attributes import set_committed_value

from inboxbot.adapters.db.models import Case, Complaint, StoredMessage
from inboxbot.domain.casework import guess_service_area, may_open_case
from inboxbot.domain.envelope import thread_ids
from inboxbot.domain.kinds import CaseStatus, MessageKind, MessageState
from inboxbot.domain.mailtext import parse
from inboxbot.service import audit
from inboxbot.service.actions import Acting, act
from inboxbot.service.processing import UPDATE_MESSAGE
from inboxbot.service.replies import handle_reply
from inboxbot.service.unit_of_work import UnitOfWork, defer, first_value, write_deferred

log = logging.getLogger(__name__)

# Messages registered per transaction. A backfill spent most of its time committing
# one message at a time; a chunk is committed once (see _register_chunk for a failure).
REGISTER_CHUNK = 50


@dataclass
class RegisterResult:
    """What one registration pass did."""

    linked: list[int] = field(default_factory=list)  # message ids linked to a case
    opened: list[int] = field(default_factory=list)  # case ids opened
    unlinked: list[int] = field(default_factory=list)  # message ids about no known case
    quarantined: list[int] = field(default_factory=list)  # message ids whose registering failed

    def extend(self, other: RegisterResult) -> None:
        """Add what ``other`` did."""
        self.linked.extend(other.linked)
        self.opened.extend(other.opened)
        self.unlinked.extend(other.unlinked)
        self.quarantined.extend(other.quarantined)


# Built once and bound per message: a backfill looks up thousands of cases in a row, and
# building these anew each time was a fifth of registering.
_LOAD_CLASSIFIED = select(StoredMessage).where(
    StoredMessage.id.in_(bindparam("ids", expanding=True)),
    StoredMessage.state == MessageState.CLASSIFIED.value,
)
# With the raw bytes, for messages whose thread must be read from their headers here.
_LOAD_CLASSIFIED_RAW = _LOAD_CLASSIFIED.options(undefer(StoredMessage.raw))
_CASES_BY_OMBUDSMAN_REFS = select(Case.ombudsman, Case.ombudsman_ref, Case.id).where(
    Case.ombudsman_ref.in_(bindparam("references", expanding=True))
)
_CASE_OF_THREAD = (
    select(StoredMessage.case_id)
    .where(
        StoredMessage.message_id.in_(bindparam("thread", expanding=True)), StoredMessage.case_id.is_not(None)
    )
    .order_by(StoredMessage.received_at.desc())
)
# "open" sorts after "closed": an open case with this reference is preferred.
_CASE_BY_COUNCIL_REF = (
    select(Case.id)
    .where(Case.council_ref == bindparam("council"))
    .order_by(Case.status.desc(), Case.opened_at.desc())
)


def _registered(session: Session, message: StoredMessage, case_id: int | None) -> None:
    """Mark ``message`` processed and linked to ``case_id``. Its row is written with its chunk's
    commit (one statement for the chunk, not an ORM flush per message), so queries that read
    messages' case or state call write_deferred first."""
    set_committed_value(message, "case_id", case_id)
    set_committed_value(message, "state", MessageState.PROCESSED.value)
    defer(
        session,
        UPDATE_MESSAGE,
        {"the_id": message.id, "case_id": case_id, "state": MessageState.PROCESSED.value},
    )


# (Ombudsman, Ombudsman reference) -> case id, for every case a chunk's messages name.
KnownCases = dict[tuple[str, str], int]


def _known_cases(session: Session, messages: Iterable[StoredMessage]) -> KnownCases:
    """The cases a chunk's messages name by Ombudsman reference, looked up in one query.

    Within the chunk's transaction only registering opens cases (and it adds each one
    here), and a case's Ombudsman reference never changes, so this answers find_case for
    the whole chunk.
    """
    references = sorted({ref for m in messages if (ref := (m.classification or {}).get("ombudsman_ref"))})
    if not references:
        return {}
    rows = session.connection().execute(_CASES_BY_OMBUDSMAN_REFS, {"references": references})
    return {(ombudsman, reference): case_id for ombudsman, reference, case_id in rows}


def find_case(
    session: Session, judgement: Mapping[str, Any], thread: Sequence[str], known: KnownCases
) -> tuple[Case | None, str]:
    """The case a message belongs to, and how it was found; ``thread`` is what it replies to
    (:func:`~inboxbot.domain.envelope.thread_ids`), ``known`` answers the lookup by Ombudsman
    reference (see _known_cases)."""
    ombudsman, reference = judgement.get("ombudsman"), judgement.get("ombudsman_ref")
    if ombudsman and reference:
        found = known.get((ombudsman, reference))
        if found is not None:
            return session.get(Case, found), f"Ombudsman reference {reference}"
    if thread:
        write_deferred(session)
        linked = first_value(session, _CASE_OF_THREAD, {"thread": list(thread)})
        if linked is not None:
            return session.get(Case, linked), "reply in a thread of the case"
    council = judgement.get("council_ref")
    if council:
        found = first_value(session, _CASE_BY_COUNCIL_REF, {"council": council})
        if found is not None:
            return session.get(Case, found), f"council reference {council}"
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
    write_deferred(session)
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


def _register_one(
    session: Session,
    message: StoredMessage,
    now: Callable[[], datetime],
    keywords: Mapping[str, Sequence[str]],
    acting: Acting | None,
    result: RegisterResult,
    known: KnownCases,
    threads: Mapping[int, Sequence[str]],
) -> None:
    """Register one classified message against its case and act on it, in the caller's transaction;
    a case it opens is added to ``known``. ``threads`` may hold what the message replies to, read
    when it was classified; otherwise it is read from the message's headers here."""
    judgement = message.classification or {}
    at = now()
    replied = handle_reply(session, message, acting, at) if acting is not None else None
    if replied is not None:
        # A reply to the bot's own mail was acted on: it joins its case and needs nothing more.
        _registered(session, message, replied.id)
        audit.record(
            session, at, "message registered", case_id=replied.id, message_id=message.id, how="reply"
        )
        result.linked.append(message.id)
        return
    thread = threads.get(message.id)
    case, how = find_case(session, judgement, thread_ids(message.raw) if thread is None else thread, known)
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
        if case.ombudsman and case.ombudsman_ref:
            known[case.ombudsman, case.ombudsman_ref] = case.id
        audit.record(
            session, at, "case opened", case_id=case.id, message_id=message.id, service_area=area, why=why
        )
        result.opened.append(case.id)
        result.linked.extend(_gather_earlier(session, case, at))
        how = "opened by this message"
    if case is None:
        result.unlinked.append(message.id)
    else:
        if case.council_ref is None and judgement.get("council_ref"):
            case.council_ref = judgement["council_ref"]
        case.updated_at = at
        audit.record(session, at, "message registered", case_id=case.id, message_id=message.id, how=how)
        result.linked.append(message.id)
    if acting is not None:
        act(session, message, case, acting, at)
    _registered(session, message, case.id if case is not None else None)


def _chunks(message_ids: Iterable[int], size: int) -> Iterator[list[int]]:
    """``message_ids`` in lists of ``size``, the last one shorter; each is taken only when asked for."""
    chunk: list[int] = []
    for message_id in message_ids:
        chunk.append(message_id)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _quarantine(uow: UnitOfWork, message_id: int, exc: Exception, at: datetime) -> bool:
    """Set aside a message whose registering failed, with its error, in a transaction of its own;
    False when it was no longer waiting to be registered."""
    error = f"registering: {type(exc).__name__}: {exc}"
    log.warning("message %s quarantined: %s", message_id, error)
    with uow:
        message = uow.session.get(StoredMessage, message_id)
        if message is None or message.state != MessageState.CLASSIFIED.value:
            return False
        message.state, message.error = MessageState.QUARANTINED.value, error
        audit.record(uow.session, at, "message quarantined", message_id=message_id, error=error)
        uow.commit()
        return True


def _register_chunk(
    uow: UnitOfWork,
    chunk: Sequence[int],
    now: Callable[[], datetime],
    keywords: Mapping[str, Sequence[str]],
    acting: Acting | None,
    result: RegisterResult,
    threads: Mapping[int, Sequence[str]],
) -> Iterator[int]:
    """Register ``chunk`` in order, in one transaction; yields each message id once it is done with.

    When a message fails, the transaction is rolled back, the messages before it are registered
    again without it, it is quarantined on its own, and the ones after it go on: each message's
    effects are committed exactly once, and the order is kept. A failure of the database itself
    (locked, gone away) is not the message's fault: it stops the run, and the next run registers
    what was not committed.
    """
    start, end = 0, len(chunk)
    failed: tuple[int, Exception] | None = None  # where the last attempt failed, and why
    while start < len(chunk):
        if failed is not None and failed[0] == start:
            # Everything before it is committed: it is set aside without being tried again.
            if _quarantine(uow, chunk[start], failed[1], now()):
                result.quarantined.append(chunk[start])
            yield chunk[start]
            start, end, failed = start + 1, len(chunk), None
            continue
        done, committed = RegisterResult(), False
        with uow:
            session = uow.session
            ids = list(chunk[start:end])
            # Each message's raw bytes (11 KB on average in a backfill) are read back only when
            # what it replies to was not kept from classifying it.
            load = _LOAD_CLASSIFIED if all(i in threads for i in ids) else _LOAD_CLASSIFIED_RAW
            loaded = {m.id: m for m in session.scalars(load, {"ids": ids})}
            known = _known_cases(session, loaded.values())
            for index in range(start, end):
                message = loaded.get(chunk[index])
                if message is None:
                    continue  # not classified (quarantined, or registered meanwhile): passed over
                try:
                    _register_one(session, message, now, keywords, acting, done, known, threads)
                    session.flush()  # a failure is then this message's, not the commit's
                except (OperationalError, InterfaceError):
                    raise
                except Exception as exc:  # one bad message must never stop the others
                    failed = index, exc
                    break
            else:
                uow.commit()
                committed = True
        if committed:
            result.extend(done)
            yield from chunk[start:end]
            start, end = end, len(chunk)
        elif failed is not None:
            end = failed[0]  # rolled back: the ones before it again, without it


def register_classified(
    uow: UnitOfWork,
    now: Callable[[], datetime],
    keywords: Mapping[str, Sequence[str]],
    acting: Acting | None = None,
    message_ids: Iterable[int] | None = None,
    on_done: Callable[[int], None] | None = None,
    chunk_size: int | None = None,
    threads: Mapping[int, Sequence[str]] | None = None,
) -> RegisterResult:
    """Register every classified message against its case, oldest first; with ``acting``, carry
    out what each message calls for in the same transaction. A message whose registering fails
    is quarantined with its error and the others go on.

    ``message_ids`` (taken a chunk at a time, so it may be produced as classifying goes on)
    registers those messages in that order instead; any not classified are passed over.
    ``on_done`` is told how many of them are done with (committed or passed over) as that grows;
    ``chunk_size`` is how many are registered per transaction (default REGISTER_CHUNK);
    ``threads``, what messages reply to as their classifying found (Judging.threads), spares
    reading their raw bytes back to find it.
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
    count = 0
    for chunk in _chunks(message_ids, chunk_size or REGISTER_CHUNK):
        for _ in _register_chunk(uow, chunk, now, keywords, acting, result, threads or {}):
            count += 1
            if on_done is not None:
                on_done(count)
    return result
