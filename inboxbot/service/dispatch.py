"""Sending what is in the outbox.

A row is marked sent only after the server accepted it, in its own
transaction; a crash between the two resends at most that one email. A
temporary failure is retried later with a growing pause, a permanent one (or
too many temporary ones) leaves the row failed and visible in ``inboxbot
status``. No recipient gets more than the daily cap from the bot.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import or_, select

from inboxbot.adapters.db.models import OutboxItem
from inboxbot.domain.calendar import LONDON
from inboxbot.domain.kinds import OutboxStatus
from inboxbot.service import audit
from inboxbot.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


class Sender(Protocol):
    """Something that hands an email to a mail server and says when it was accepted."""

    @property
    def name(self) -> str:
        """Where mail goes, safe to log."""
        ...

    def send(self, message: EmailMessage) -> str:
        """Send; return the server's acceptance; raise when it was not accepted."""
        ...


@dataclass
class DispatchResult:
    """What one dispatch run did."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    capped: list[int] = field(default_factory=list)
    would_send: list[int] = field(default_factory=list)


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(240, 2 ** max(attempts - 1, 0)))


def _start_of_london_day(now: datetime) -> datetime:
    local = now.astimezone(LONDON)
    return datetime.combine(local.date(), time(0, 0), tzinfo=LONDON)


def dispatch(
    uow: UnitOfWork,
    sender: Sender,
    compose: Callable[[OutboxItem], EmailMessage],
    now: datetime,
    *,
    daily_cap: int = 50,
    max_attempts: int = 8,
    dry_run: bool = False,
) -> DispatchResult:
    """Send every pending outbox row that is due at ``now``."""
    result = DispatchResult()
    day_start = _start_of_london_day(now)
    with uow:
        sent_today = Counter(
            address
            for recipients in uow.session.scalars(
                select(OutboxItem.recipients).where(
                    OutboxItem.status == OutboxStatus.SENT.value, OutboxItem.sent_at >= day_start
                )
            )
            for address in recipients
        )
        due = list(
            uow.session.scalars(
                select(OutboxItem.id)
                .where(
                    OutboxItem.status == OutboxStatus.PENDING.value,
                    or_(OutboxItem.not_before.is_(None), OutboxItem.not_before <= now),
                )
                .order_by(OutboxItem.id)
            )
        )
    for item_id in due:
        with uow:
            item = uow.session.get(OutboxItem, item_id)
            if item is None or item.status != OutboxStatus.PENDING.value:
                continue
            over = [a for a in item.recipients if sent_today[a] >= daily_cap]
            if over:
                # Held, not dropped: it goes tomorrow, when the count starts again.
                result.capped.append(item.id)
                item.not_before = day_start + timedelta(days=1, hours=7)
                audit.record(uow.session, now, "email held: daily cap", case_id=item.case_id, to=over)
                if not dry_run:
                    uow.commit()
                continue
            if dry_run:
                result.would_send.append(item.id)
                continue
            try:
                accepted = sender.send(compose(item))
            except Exception as exc:  # any refusal: record it, keep the row, carry on with the others
                item.attempts += 1
                item.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                temporary = bool(getattr(exc, "temporary", True))
                if temporary and item.attempts < max_attempts:
                    item.not_before = now + _backoff(item.attempts)
                    result.retrying.append(item.id)
                else:
                    item.status = OutboxStatus.FAILED.value
                    result.failed.append(item.id)
                    log.warning("outbox %s failed for good: %s", item.id, item.last_error)
                audit.record(uow.session, now, "email not sent", case_id=item.case_id, error=item.last_error)
                uow.commit()
                continue
            item.status = OutboxStatus.SENT.value
            item.sent_at = now
            item.attempts += 1
            item.transport_id = accepted[:1000]
            for address in item.recipients:
                sent_today[address] += 1
            audit.record(
                uow.session,
                now,
                "email sent",
                case_id=item.case_id,
                task_id=item.task_id,
                template=item.purpose,
                to=list(item.recipients),
                via=sender.name,
            )
            uow.commit()
            result.sent.append(item.id)
    return result
