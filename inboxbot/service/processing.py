"""Classifying stored messages and recording the judgement on each.

A message that cannot be classified is quarantined with its error, stays in
the database and can be retried; the others carry on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from inboxbot.adapters.db.models import StoredMessage
from inboxbot.domain.classify import Classification, ClassifySettings
from inboxbot.domain.kinds import MessageState
from inboxbot.service import audit
from inboxbot.service.classifying import classify_raw
from inboxbot.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class ProcessResult:
    """What one pass over stored messages did."""

    classified: list[int] = field(default_factory=list)
    quarantined: list[int] = field(default_factory=list)


def judgement_record(result: Classification) -> dict[str, Any]:
    """The judgement as stored on the message: what ``explain --json`` shows, and why."""
    return {
        **result.as_json(),
        "trust_reason": result.trust_reason,
        "spoof_suspected": result.spoof_suspected,
        "automatic": result.automatic,
        "reference_reason": result.reference_reason,
        "deadline_evidence": [d.evidence for d in result.deadlines],
        "also_matched": [m.rule_id for m in result.decision.matches if m.rule_id != result.rule],
        "conflict": result.decision.conflict,
    }


def classify_stored(
    uow: UnitOfWork,
    settings: ClassifySettings,
    now: Callable[[], datetime],
    message_ids: Iterable[int] | None = None,
) -> ProcessResult:
    """Classify each stored (not yet classified) message, one transaction each."""
    result = ProcessResult()
    with uow:
        query = select(StoredMessage.id).where(StoredMessage.state == MessageState.STORED.value)
        if message_ids is not None:
            query = query.where(StoredMessage.id.in_(list(message_ids)))
        ids = list(uow.session.scalars(query.order_by(StoredMessage.received_at, StoredMessage.id)))
    for message_id in ids:
        with uow:
            message = uow.session.get(StoredMessage, message_id)
            if message is None or message.state != MessageState.STORED.value:
                continue
            outcome = classify_raw(message.raw, settings, message.received_at)
            at = now()
            if outcome.classification is None:
                message.state = MessageState.QUARANTINED.value
                message.error = outcome.error
                audit.record(
                    uow.session, at, "message quarantined", message_id=message.id, error=outcome.error
                )
                result.quarantined.append(message.id)
                log.warning("message %s quarantined: %s", message.id, outcome.error)
            else:
                judgement = outcome.classification
                message.kind = judgement.kind.value
                message.trusted = judgement.trusted
                message.classification = judgement_record(judgement)
                message.state = MessageState.CLASSIFIED.value
                audit.record(
                    uow.session,
                    at,
                    "message classified",
                    message_id=message.id,
                    kind=judgement.kind.value,
                    rule=judgement.rule,
                    trusted=judgement.trusted,
                )
                result.classified.append(message.id)
            uow.commit()
    return result
