"""Carrying out plans and sending the outbox, on SQLite and PostgreSQL (fake renderer and sender:
the real templates and SMTP are tested on their own)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from inboxbot.adapters.db.models import Case, OutboxItem, Task
from inboxbot.config import DirectorySettings, ServiceArea
from inboxbot.domain.kinds import CaseStatus, OutboxStatus, TaskStatus
from inboxbot.service.actions import Acting
from inboxbot.service.dispatch import dispatch
from inboxbot.service.intake import take_in
from inboxbot.service.unit_of_work import UnitOfWork
from tests.support.fakes import FakeMailbox
from tests.support.judgement import judgement

CORPUS = Path(__file__).parents[1] / "corpus"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DIRECTORY = DirectorySettings(
    shared_mailbox="ombudsman@northmere.gov.uk",
    head_of_resident_contact="hrc@northmere.gov.uk",
    acknowledge={"lgsco": "intake@lgo.org.uk"},
    service_areas=[
        ServiceArea(
            name="Council Tax",
            task_recipients=["ctax.complaints@northmere.gov.uk"],
            head_of_service="ctax.head@northmere.gov.uk",
            slt_director="resources.director@northmere.gov.uk",
            keywords=["council tax"],
        )
    ],
)


class EchoRenderer:
    def render(self, name: str, context: Mapping[str, object]) -> tuple[str, str, str]:
        case = context["case"]
        assert isinstance(case, Mapping)
        return f"[{case['ombudsman_ref']}] {name}", f"{name}: {context['reason']}", f"<p>{name}</p>"


class RecordingSender:
    name = "recording://"

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_next: list[Exception] = []

    def send(self, message: EmailMessage) -> str:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append(message)
        return f"250 ok {len(self.sent)}"


def compose(item: OutboxItem) -> EmailMessage:
    message = EmailMessage()
    message["To"] = ", ".join(item.recipients)
    message["Subject"] = item.subject
    message["X-Test-Dedupe-Key"] = item.dedupe_key
    message.set_content(item.body_text)
    return message


ACTING = Acting(DIRECTORY, EchoRenderer())


def clock() -> datetime:
    return NOW


_keys = itertools.count(1)


def take(uow: UnitOfWork, *names: str) -> None:
    # Fresh keys each call, as a real mailbox gives new mail new UIDs.
    messages = [(f"{next(_keys):06d}", (CORPUS / name).read_bytes()) for name in names]
    take_in(
        FakeMailbox(messages),
        uow,
        judgement(),
        clock,
        service_keywords={"Council Tax": ["council tax"]},
        acting=ACTING,
    )


def outbox(uow: UnitOfWork) -> dict[str, list[str]]:
    with uow:
        return {o.dedupe_key: list(o.recipients) for o in uow.session.scalars(select(OutboxItem))}


def test_a_notification_opens_a_task_tells_the_service_area_and_acknowledges(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")
    with uow:
        [task] = uow.session.scalars(select(Task)).all()
        [case] = uow.session.scalars(select(Case)).all()
        assert (task.kind, task.service_area, task.status) == (
            "notification",
            "Council Tax",
            TaskStatus.OPEN.value,
        )
        assert case.next_due == task.due
        assert task.token.startswith("T")
        task_id, case_id = task.id, case.id
    assert outbox(uow) == {
        f"task{task_id}:new": ["ctax.complaints@northmere.gov.uk"],
        f"case{case_id}:acknowledgement": ["intake@lgo.org.uk"],
    }


def test_chasers_alert_once_per_level_and_the_final_one_reaches_slt(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml", "lgsco-chaser-first-01.eml", "lgsco-chaser-final-01.eml")
    keys = outbox(uow)
    with uow:
        case_id = uow.session.scalars(select(Case.id)).one()
    assert keys[f"case{case_id}:chaser_first"] == ["ctax.head@northmere.gov.uk", "hrc@northmere.gov.uk"]
    assert "resources.director@northmere.gov.uk" in keys[f"case{case_id}:chaser_final"]
    # The same chaser again sends nothing new.
    before = len(keys)
    take(uow, "lgsco-chaser-final-01.eml")
    assert len(outbox(uow)) == before


def test_a_spoofed_final_chaser_alerts_nobody_but_ret(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-03.eml")
    before = outbox(uow)
    take(uow, "lgsco-chaser-final-05-lookalike.eml")
    new = {k: v for k, v in outbox(uow).items() if k not in before}
    assert list(new.values()) == [["ombudsman@northmere.gov.uk"]]
    assert next(iter(new)).endswith(":triage")


def test_closure_closes_the_case_and_cancels_its_tasks(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml", "lgsco-case-closed-03.eml")
    with uow:
        case = uow.session.scalars(select(Case)).one()
        assert case.status == CaseStatus.CLOSED.value
        assert {t.status for t in uow.session.scalars(select(Task))} == {TaskStatus.CANCELLED.value}
        assert case.next_due is None


def test_dispatch_sends_once_retries_temporary_failures_and_gives_up_on_permanent_ones(
    uow: UnitOfWork,
) -> None:
    take(uow, "lgsco-notification-01.eml")
    sender = RecordingSender()
    temporary = ConnectionRefusedError("try later")
    permanent = ValueError("550 no such user")
    permanent.temporary = False  # type: ignore[attr-defined]
    sender.fail_next = [temporary, permanent]
    first = dispatch(uow, sender, compose, NOW)
    assert (len(first.retrying), len(first.failed), len(first.sent)) == (1, 1, 0)
    assert dispatch(uow, sender, compose, NOW).sent == []  # the retry waits for its pause
    later = dispatch(uow, sender, compose, NOW + timedelta(minutes=5))
    assert len(later.sent) == 1
    assert dispatch(uow, sender, compose, NOW + timedelta(hours=1)).sent == []  # nothing twice
    with uow:
        statuses = sorted(o.status for o in uow.session.scalars(select(OutboxItem)))
    assert statuses == [OutboxStatus.FAILED.value, OutboxStatus.SENT.value]


def test_the_daily_cap_holds_mail_until_tomorrow(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml")
    sender = RecordingSender()
    result = dispatch(uow, sender, compose, NOW, daily_cap=0)
    assert len(result.capped) == 2
    assert sender.sent == []
    tomorrow = dispatch(uow, sender, compose, NOW + timedelta(days=1), daily_cap=5)
    assert len(tomorrow.sent) == 2


class Crash(BaseException):
    """The process dying: not an Exception, so nothing catches it on the way up."""


def test_a_crash_between_send_and_mark_resends_at_most_that_one_email(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml", "lgsco-chaser-first-01.eml")  # several emails waiting
    with uow:
        waiting = len(uow.session.scalars(select(OutboxItem)).all())
    assert waiting >= 3
    sender = RecordingSender()
    real_commit = uow.commit
    calls = {"n": 0}

    def commit_then_die() -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second email was accepted by the server; we die before marking it
            raise Crash
        real_commit()

    uow.commit = commit_then_die  # type: ignore[method-assign]
    with contextlib.suppress(Crash):
        dispatch(uow, sender, compose, NOW)
    uow.commit = real_commit  # type: ignore[method-assign]
    dispatch(uow, sender, compose, NOW)  # the restart
    keys = [str(m["X-Test-Dedupe-Key"]) for m in sender.sent]
    assert len(keys) == waiting + 1  # everything went, and exactly one went twice
    assert len(set(keys)) == waiting
    with uow:
        assert {o.status for o in uow.session.scalars(select(OutboxItem))} == {OutboxStatus.SENT.value}
