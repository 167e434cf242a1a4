"""Writing the audit trail.

Events are written when their transaction commits (see unit_of_work.defer):
nothing reads the trail in the transaction that writes it, and a backfill
records thousands of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import Event, table
from inboxbot.service.unit_of_work import defer

BOT = "inboxbot"
_INSERT = insert(table(Event))


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
) -> None:
    """Add one event to the audit trail in the caller's transaction."""
    row = {
        "at": at,
        "actor": actor,
        "action": action,
        "case_id": case_id,
        "task_id": task_id,
        "message_id": message_id,
        "detail": detail or None,
    }
    defer(session, _INSERT, row)
