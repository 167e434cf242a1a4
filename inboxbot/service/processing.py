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

from sqlalchemy import bindparam, insert, select, update

from inboxbot.adapters.db.models import Event, StoredMessage, table
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


# Built once and bound per message: a backfill classifies thousands in a row.
_MESSAGES = table(StoredMessage)
_LOAD = select(_MESSAGES.c.raw, _MESSAGES.c.received_at).where(
    _MESSAGES.c.id == bindparam("the_id"), _MESSAGES.c.state == MessageState.STORED.value
)
_SAVE = update(_MESSAGES).where(_MESSAGES.c.id == bindparam("the_id"))
_EVENT = insert(table(Event))


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
            connection = uow.session.connection()
            row = connection.execute(_LOAD, {"the_id": message_id}).first()
            if row is None:  # classified meanwhile by another worker
                continue
            outcome = classify_raw(row.raw, settings, row.received_at)
            event = {"at": now(), "actor": audit.BOT, "message_id": message_id}
            if outcome.classification is None:
                connection.execute(
                    _SAVE,
                    {"the_id": message_id, "state": MessageState.QUARANTINED.value, "error": outcome.error},
                )
                connection.execute(
                    _EVENT, {**event, "action": "message quarantined", "detail": {"error": outcome.error}}
                )
                result.quarantined.append(message_id)
                log.warning("message %s quarantined: %s", message_id, outcome.error)
            else:
                judgement = outcome.classification
                connection.execute(
                    _SAVE,
                    {
                        "the_id": message_id,
                        "kind": judgement.kind.value,
                        "trusted": judgement.trusted,
                        "ombudsman": judgement.ombudsman.value if judgement.ombudsman else None,
                        "ombudsman_ref": judgement.ombudsman_ref,
                        "council_ref": judgement.council_ref,
                        "classification": judgement_record(judgement),
                        "state": MessageState.CLASSIFIED.value,
                    },
                )
                detail = {"kind": judgement.kind.value, "rule": judgement.rule, "trusted": judgement.trusted}
                connection.execute(_EVENT, {**event, "action": "message classified", "detail": detail})
                result.classified.append(message_id)
            uow.commit()
    return result
