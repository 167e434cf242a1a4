"""Retention: closed cases go with their mail; an anonymised record stays (both databases)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from inboxbot.adapters.db.models import Case, Event, MessageBody, StoredMessage
from inboxbot.service.purge import purge_closed
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_actions import take

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def count(uow: UnitOfWork, model: type[Case] | type[StoredMessage] | type[MessageBody]) -> int:
    with uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def test_closed_cases_are_purged_and_open_ones_kept(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml", "lgsco-case-closed-03.eml", "hos-notification-01.eml")
    assert count(uow, Case) == 2
    messages_before = count(uow, StoredMessage)
    assert count(uow, MessageBody) == messages_before
    dry = purge_closed(uow, date(2026, 12, 1), NOW, dry_run=True)
    assert (len(dry.cases), dry.messages) == (1, 2)
    assert count(uow, Case) == 2  # a dry run keeps everything
    assert purge_closed(uow, date(2026, 1, 1), NOW).cases == []  # closed after the cut-off: kept
    done = purge_closed(uow, date(2026, 12, 1), NOW)
    assert len(done.cases) == 1
    assert count(uow, Case) == 1
    assert count(uow, StoredMessage) == messages_before - 2
    assert count(uow, MessageBody) == messages_before - 2, "a purged message's bytes go with it"
    with uow:
        record = uow.session.scalars(select(Event).where(Event.action == "case purged")).one()
        assert record.detail is not None
        assert set(record.detail) == {"ombudsman", "opened", "closed", "messages"}
        assert "25 018 406" not in str(record.detail)
