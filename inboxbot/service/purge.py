"""The retention job: closed cases, with their mail, tasks and emails, are removed after the
retention period; one anonymised record of each stays in the audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import delete, select

from inboxbot.adapters.db.models import Case, OutboxItem, StoredMessage, Task
from inboxbot.domain.calendar import LONDON
from inboxbot.domain.kinds import CaseStatus
from inboxbot.service import audit
from inboxbot.service.unit_of_work import UnitOfWork


@dataclass
class PurgeResult:
    """What was (or, in a dry run, would be) removed."""

    cases: list[int] = field(default_factory=list)
    messages: int = 0


def purge_closed(
    uow: UnitOfWork, closed_before: date, now: datetime, *, actor: str = audit.BOT, dry_run: bool = False
) -> PurgeResult:
    """Remove every case closed before ``closed_before`` (a London date), in one transaction."""
    cutoff = datetime.combine(closed_before, time(0, 0), tzinfo=LONDON)
    result = PurgeResult()
    with uow:
        session = uow.session
        cases = session.scalars(
            select(Case)
            .where(Case.status == CaseStatus.CLOSED.value, Case.closed_at < cutoff)
            .order_by(Case.id)
        ).all()
        for case in cases:
            message_ids = list(
                session.scalars(select(StoredMessage.id).where(StoredMessage.case_id == case.id))
            )
            result.cases.append(case.id)
            result.messages += len(message_ids)
            if dry_run:
                continue
            # The record that stays says that a case existed and when, not whose it was.
            audit.record(
                session,
                now,
                "case purged",
                actor=actor,
                ombudsman=case.ombudsman,
                opened=case.opened_at.date().isoformat(),
                closed=case.closed_at.date().isoformat() if case.closed_at else None,
                messages=len(message_ids),
            )
            session.execute(delete(OutboxItem).where(OutboxItem.case_id == case.id))
            session.execute(delete(Task).where(Task.case_id == case.id))
            session.execute(delete(StoredMessage).where(StoredMessage.case_id == case.id))
            session.execute(delete(Case).where(Case.id == case.id))
        if not dry_run:
            uow.commit()
    return result
