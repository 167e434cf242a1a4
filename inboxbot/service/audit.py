"""Writing the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import Event

BOT = "inboxbot"


def record(
    session: Session,
    at: datetime,
    action: str,
    *,
    actor: str = BOT,
    case_id: int | None = None,
    task_id: int | None = None,
    message_id: int | None = None,
    **detail: Any,
) -> Event:
    """Add one event to the audit trail in the caller's transaction."""
    event = Event(
        at=at,
        actor=actor,
        action=action,
        case_id=case_id,
        task_id=task_id,
        message_id=message_id,
        detail=detail or None,
    )
    session.add(event)
    return event
