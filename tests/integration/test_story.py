"""The council's process end to end, on a real SMTP server and both databases, with the clock
moved forward a day at a time through March and April 2026 (the clocks change on 29 March;
Easter is 3-6 April): the sample mailbox's LGSCO case 25 004 217 from notification to closure."""

from __future__ import annotations

import email
import email.policy
import itertools
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from inboxbot.adapters.db.models import Case, StoredMessage, Task
from inboxbot.adapters.invites import invite
from inboxbot.adapters.mail.files import MaildirSource
from inboxbot.adapters.messages import Templates
from inboxbot.adapters.sending import SmtpSettings, SmtpTransport
from inboxbot.config import Settings
from inboxbot.domain.calendar import WorkingCalendar
from inboxbot.domain.kinds import CaseStatus, TaskStatus
from inboxbot.domain.schedule import SendingRules
from inboxbot.entrypoints.demo import DEMO_DIRECTORY, DEMO_SERVICE_AREAS, demo_judgement
from inboxbot.entrypoints.wiring import composer
from inboxbot.resources import demo_mailbox
from inboxbot.service.actions import Acting
from inboxbot.service.dispatch import dispatch
from inboxbot.service.intake import take_in
from inboxbot.service.ports import FetchedMessage
from inboxbot.service.tick import tick
from inboxbot.service.unit_of_work import UnitOfWork
from tests.support.mail import make_message
from tests.support.smtp import SmtpServer

LONDON = ZoneInfo("Europe/London")
CAL = WorkingCalendar.build()
ASC = "adult-social-care.complaints@northmere.gov.uk"
ASC_HEAD = "adult-social-care.head@northmere.gov.uk"
SLT = "director.adult-social-care@northmere.gov.uk"
HRC = "resident.contact@northmere.gov.uk"
RET = "ombudsman@northmere.gov.uk"


class Arrivals:
    """The sample mailbox, letting each message in only once the clock has reached it."""

    name = "story://mailbox"

    def __init__(self) -> None:
        self.waiting = list(MaildirSource(demo_mailbox()).fetch())
        self.now = datetime(2026, 3, 1, tzinfo=LONDON)

    def count(self) -> int:
        return len(self.waiting)

    def add(self, key: str, raw: bytes) -> None:
        self.waiting.append(FetchedMessage(key=key, raw=raw))

    def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
        for fetched in list(self.waiting):
            parsed = email.message_from_bytes(fetched.raw)
            received = email.utils.parsedate_to_datetime(str(parsed["Date"]))
            if received <= self.now:
                self.waiting.remove(fetched)
                yield fetched


def sent_to(server: SmtpServer, address: str) -> list[EmailMessage]:
    found = []
    for received in server.messages:
        if address in received.rcpt_tos:
            found.append(email.message_from_bytes(received.raw, policy=email.policy.default))
    return found


def is_invite(message: EmailMessage) -> bool:
    return any(part.get_content_type() == "text/calendar" for part in message.walk())


def day_of(message: EmailMessage) -> date:
    return email.utils.parsedate_to_datetime(str(message["Date"])).astimezone(LONDON).date()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_notification_to_closure(uow: UnitOfWork, smtp: SmtpServer) -> None:
    settings = Settings().model_copy(update={"directory": DEMO_DIRECTORY})
    judgement = demo_judgement(settings)
    acting = Acting(DEMO_DIRECTORY, Templates(), "Northmere Borough Council", CAL)
    sender = SmtpTransport(
        SmtpSettings(
            host="127.0.0.1", port=smtp.port, security="none", from_address="ombudsman@northmere.gov.uk"
        )
    )
    arrivals = Arrivals()
    replied = False
    token = ""
    day = date(2026, 3, 2)
    while day <= date(2026, 4, 30):
        for hour in (9, 12, 15, 18):
            now = datetime.combine(day, time(hour, 0), tzinfo=LONDON)
            arrivals.now = now
            take_in(
                arrivals, uow, judgement, clock_at(now), service_keywords=DEMO_SERVICE_AREAS, acting=acting
            )
            tick(uow, acting, invite, CAL, SendingRules(), now)
            dispatch(uow, sender, compose, now)
        if day == date(2026, 4, 14) and not replied:
            # The service area replies "done" to its task email, from an address allowed for the area.
            with uow:
                task = uow.session.scalars(select(Task).where(Task.kind == "notification")).one()
                token = task.token
            arrivals.add(
                "reply-1",
                make_message(
                    f"RE: [Case 25 004 217] [Task {token}] Provide the information",
                    "Done - chronology and care plan attached",
                    sender=f"Adult Social Care <{ASC}>",
                    date=datetime.combine(day, time(16, 0), tzinfo=LONDON),
                ),
            )
            replied = True
        day += timedelta(days=1)
    sender.close()

    # The service area got its task on the day of the notification, and reminders every 3 working days.
    to_area = sent_to(smtp, ASC)
    new_tasks = [m for m in to_area if "Reminder" not in str(m["Subject"]) and "[Task" in str(m["Subject"])]
    assert day_of(new_tasks[0]) == date(2026, 3, 2)
    reminders = sorted({day_of(m) for m in to_area if "Reminder" in str(m["Subject"]) and not is_invite(m)})
    assert reminders, "no reminders were sent"
    assert all(CAL.is_working_day(d) for d in reminders)
    assert date(2026, 4, 3) not in reminders  # Good Friday
    assert date(2026, 4, 6) not in reminders  # Easter Monday
    # An invite arrived three working days before the 30 March due date.
    invites = [m for m in to_area if is_invite(m)]
    assert date(2026, 3, 25) in {day_of(m) for m in invites}
    # The chasers climbed the ladder: the Head of Resident Contact and the head of service on the
    # first, the SLT executive director only on the genuine final chaser, and only once.
    assert sent_to(smtp, HRC)
    assert sent_to(smtp, ASC_HEAD)
    slt = [m for m in sent_to(smtp, SLT) if "25 004 217" in str(m["Subject"])]
    assert len(slt) == 1
    assert day_of(slt[0]) == date(2026, 4, 13)
    # The spoofed final chaser of 20 March alerted only the Resident Experience Team.
    assert [day_of(m) for m in sent_to(smtp, SLT)].count(date(2026, 3, 20)) == 0
    assert date(2026, 3, 20) in {day_of(m) for m in sent_to(smtp, RET)}
    # The acknowledgement went to the Ombudsman once.
    assert len(sent_to(smtp, "intake@lgo.org.uk")) == 1
    with uow:
        case = uow.session.scalars(select(Case).where(Case.ombudsman_ref == "25 004 217")).one()
        tasks = uow.session.scalars(select(Task).where(Task.case_id == case.id)).all()
        statuses = {t.kind: t.status for t in tasks if t.kind == "notification"}
        orders = [t for t in tasks if t.kind == "order"]
        assert case.status == CaseStatus.CLOSED.value
        assert statuses == {"notification": TaskStatus.DONE.value}
        assert len(orders) == 3
        assert all(t.status == TaskStatus.CANCELLED.value for t in orders)
        assert all(t.invite_due is None for t in tasks)
        messages = uow.session.scalars(select(StoredMessage).where(StoredMessage.case_id == case.id)).all()
        assert any("chronology" in (m.raw or b"").decode("utf-8", "replace") for m in messages)
    # Reminders for the notification's task ran every 3 working days and stopped once it was done.
    own = sorted(
        day_of(m)
        for m in to_area
        if "Reminder" in str(m["Subject"]) and f"[Task {token}]" in str(m["Subject"]) and not is_invite(m)
    )
    assert own
    assert max(own) <= date(2026, 4, 14)
    assert all(CAL.working_days_between(a, b) == 3 for a, b in itertools.pairwise(own)), own


def clock_at(now: datetime) -> Callable[[], datetime]:
    return lambda: now


compose = composer(Settings().model_copy(update={"directory": DEMO_DIRECTORY}))
