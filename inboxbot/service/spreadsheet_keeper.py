"""Keeping the Ombudsman spreadsheet up to date: rewritten after every change, and only then.

Every change to a case, a task or a message goes into the audit trail in the
same transaction, so "the audit trail has moved on since the spreadsheet was
written" is "the spreadsheet may be out of date". The spreadsheet remembers
how far the trail had got when it was written (an :class:`AuditMark`, kept by
the :class:`SpreadsheetFile`), and is rewritten when the trail has moved on.

The mark is the highest event id *and* the number of events. The id alone is
not enough on PostgreSQL: ids come from a sequence when a row is inserted, not
when it is committed, so a long transaction (the mailbox watcher's, say) can
commit event 100 after a short one committed event 101 was seen; the count
still goes up by one. The mark also carries the London day, because the
spreadsheet counts an open case's working days up to today.

The mark is read *before* the rows: a change committed in between is in the
file already and makes the next check rewrite it once more, which is harmless;
read after, it could be recorded as written when it was not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import func, select

from inboxbot.adapters.db.models import Event
from inboxbot.domain.calendar import WorkingCalendar, london_date
from inboxbot.service.spreadsheet_rows import CaseRow, case_rows
from inboxbot.service.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class AuditMark:
    """How far the audit trail had got (highest event id, number of events) on which London day."""

    last_event: int
    events: int
    day: date


class SpreadsheetFile(Protocol):
    """The spreadsheet on disk, and the mark of the audit trail it was written at."""

    def written_mark(self) -> AuditMark | None:
        """The mark the file was last written at; None when unknown (missing, or changed by someone else)."""
        ...

    def write(self, rows: Sequence[CaseRow], mark: AuditMark) -> None:
        """Replace the file with ``rows`` and remember ``mark``, in that order."""
        ...


def audit_mark(uow: UnitOfWork, day: date) -> AuditMark:
    """Where the audit trail is now."""
    with uow:
        last, count = uow.session.execute(select(func.max(Event.id), func.count(Event.id))).one()
    return AuditMark(int(last or 0), int(count), day)


def keep_spreadsheet_current(
    uow: UnitOfWork, sheet: SpreadsheetFile, calendar: WorkingCalendar, now: datetime
) -> bool:
    """Rewrite the spreadsheet when the audit trail or the day has moved on since it was written;
    True when it was rewritten."""
    today = london_date(now)
    mark = audit_mark(uow, today)  # before the rows: see the module docstring
    if sheet.written_mark() == mark:
        return False
    sheet.write(case_rows(uow, calendar, today), mark)
    return True
