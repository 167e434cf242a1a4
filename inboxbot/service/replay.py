"""Replaying a mailbox against a simulated clock: the demo's story, days in minutes.

Each message is let in once the simulated clock reaches the time it was
received; at a few moments each day the bot takes in what has arrived, does
the time-based work and sends. Nothing here reads the real clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage

from inboxbot.adapters.db.models import OutboxItem
from inboxbot.domain.calendar import LONDON, WorkingCalendar
from inboxbot.domain.classify import ClassifySettings
from inboxbot.domain.envelope import read_envelope
from inboxbot.domain.schedule import SendingRules
from inboxbot.service.actions import Acting
from inboxbot.service.dispatch import Sender, dispatch
from inboxbot.service.intake import take_in
from inboxbot.service.ports import FetchedMessage, MailSource
from inboxbot.service.tick import InviteBuilder, tick
from inboxbot.service.unit_of_work import UnitOfWork

MOMENTS = (time(9, 0), time(13, 0), time(17, 30))


class ClockedSource:
    """A mail source whose messages appear only once the simulated clock reaches them."""

    def __init__(self, source: MailSource) -> None:
        self.name = source.name
        self._waiting = [(self._received(f), f) for f in source.fetch()]
        self.now = datetime.min.replace(tzinfo=LONDON)

    @staticmethod
    def _received(fetched: FetchedMessage) -> datetime:
        return (
            fetched.received_at
            or read_envelope(fetched.raw).received_at
            or datetime.min.replace(tzinfo=LONDON)
        )

    def count(self) -> int:
        return len(self._waiting)

    def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
        """Every message received by ``now``."""
        for received, fetched in list(self._waiting):
            if received <= self.now:
                yield fetched

    def arrivals(self) -> list[tuple[datetime, FetchedMessage]]:
        """Every message with the time it arrives."""
        return list(self._waiting)

    @property
    def last_arrival(self) -> datetime | None:
        """When the last message arrives."""
        return max((received for received, _ in self._waiting), default=None)


@dataclass
class ReplayResult:
    """What the replay did, day by day."""

    days: int = 0
    messages: int = 0
    sent: list[tuple[datetime, int]] = field(default_factory=list)  # (when, outbox id)


def replay(
    source: ClockedSource,
    uow: UnitOfWork,
    judgement: ClassifySettings,
    acting: Acting,
    invite: InviteBuilder,
    rules: SendingRules,
    sender: Sender,
    compose: Callable[[OutboxItem], EmailMessage],
    *,
    start: date,
    end: date,
    calendar: WorkingCalendar,
    keywords: Mapping[str, Sequence[str]],
    on_day: Callable[[date], None] | None = None,
) -> ReplayResult:
    """Run the bot from ``start`` to ``end`` (London days) with the clock moved forward."""
    result = ReplayResult()
    day = start
    while day <= end:
        for moment in MOMENTS:
            now = datetime.combine(day, moment, tzinfo=LONDON)
            source.now = now
            intake = take_in(source, uow, judgement, _fixed(now), service_keywords=keywords, acting=acting)
            result.messages += len(intake.ingested.stored)
            tick(uow, acting, invite, calendar, rules, now)
            sent = dispatch(uow, sender, compose, now)
            result.sent.extend((now, item) for item in sent.sent)
        result.days += 1
        if on_day is not None:
            on_day(day)
        day += timedelta(days=1)
    return result


def _fixed(now: datetime) -> Callable[[], datetime]:
    return lambda: now
