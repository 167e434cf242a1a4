"""Registering messages against cases, on SQLite and PostgreSQL."""

from __future__ import annotations

import email.parser
import email.policy
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import Case, Event, OutboxItem, StoredMessage, Task
from inboxbot.domain.casework import guess_service_area
from inboxbot.domain.envelope import thread_ids
from inboxbot.domain.kinds import MessageState
from inboxbot.domain.planning import Plan
from inboxbot.service import actions, register
from inboxbot.service.actions import Acting
from inboxbot.service.ingest import ingest
from inboxbot.service.intake import IntakeResult, take_in
from inboxbot.service.processing import Judging, classify_stored, stored_ids
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_actions import ACTING
from tests.support.fakes import FakeMailbox
from tests.support.judgement import judgement

CORPUS = Path(__file__).parents[1] / "corpus"
AREAS = {
    "Council Tax": ["council tax", "single person discount", "summons"],
    "Housing Repairs": ["damp", "mould", "repair", "repairs"],
    "Adult Social Care": ["care package", "carer", "care and support"],
}


def clock() -> datetime:
    return datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def take(uow: UnitOfWork, *names: str) -> None:
    messages = [(f"{i:04d}", (CORPUS / name).read_bytes()) for i, name in enumerate(names, start=1)]
    mailbox = FakeMailbox(messages)
    take_in(mailbox, uow, judgement(), clock, service_keywords=AREAS)


def cases(uow: UnitOfWork) -> list[Case]:
    with uow:
        found = list(uow.session.scalars(select(Case).order_by(Case.id)))
        uow.session.expunge_all()
        return found


def case_of(uow: UnitOfWork) -> dict[str, int | None]:
    with uow:
        rows = uow.session.execute(select(StoredMessage.subject, StoredMessage.case_id)).all()
        return {subject or "": case_id for subject, case_id in rows}


def test_a_notification_opens_a_case_and_later_mail_joins_it(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-01.eml", "lgsco-information-request-01.eml", "lgsco-chaser-first-01.eml")
    [case] = cases(uow)
    assert (case.ombudsman, case.ombudsman_ref, case.council_ref) == ("lgsco", "25 018 406", "CAS-211034")
    assert case.service_area == "Council Tax"  # the notification is about council tax
    assert set(case_of(uow).values()) == {case.id}


def test_the_same_notification_forwarded_registers_on_the_same_case(uow: UnitOfWork) -> None:
    # Trusted draft decision opens the case; the forwards (untrusted) join it by reference.
    take(
        uow,
        "lgsco-draft-decision-05.eml",
        "lgsco-notification-11-fwd822.eml",
        "lgsco-information-request-05-fwd.eml",
    )
    [case] = cases(uow)
    assert case.ombudsman_ref == "26 002 744"
    assert list(case_of(uow).values()) == [case.id] * 3


def test_untrusted_mail_never_opens_a_case(uow: UnitOfWork) -> None:
    take(uow, "hos-chaser-final-05-lookalike.eml", "lgsco-chaser-first-05-spoof.eml")
    assert cases(uow) == []
    assert set(case_of(uow).values()) == {None}


def test_untrusted_mail_about_a_known_case_is_linked_to_it(uow: UnitOfWork) -> None:
    take(uow, "lgsco-notification-03.eml", "lgsco-chaser-final-05-lookalike.eml")
    [case] = cases(uow)
    assert list(case_of(uow).values()) == [case.id, case.id]


def test_a_reply_in_the_thread_joins_the_case_its_first_message_opened_in_the_same_chunk(
    uow: UnitOfWork,
) -> None:
    # No reference in the reply: only the thread ties it to the case, and the message it replies
    # to was registered moments before, in the same transaction.
    reply = (
        b"From: Intake Team <intake@lgo.org.uk>\r\nTo: ombudsman@northmere.gov.uk\r\n"
        b"Subject: Re: your email\r\nDate: Tue, 16 Dec 2025 09:00:00 +0000\r\n"
        b"Message-ID: <reply-1@lgo.org.uk>\r\nIn-Reply-To: <D76723B8AC6C5E1F@lgo.org.uk>\r\n"
        b"References: <D76723B8AC6C5E1F@lgo.org.uk>\r\n\r\nThank you, we have noted this.\r\n"
    )
    notification = (CORPUS / "lgsco-notification-01.eml").read_bytes()
    take_in(FakeMailbox([("0001", notification), ("0002", reply)]), uow, judgement(), clock)
    [case] = cases(uow)
    assert case_of(uow) == {"Complaint 25 018 406 - Mr K Asante - Northmere Borough Council": case.id,
                            "Re: your email": case.id}  # fmt: skip
    with uow:
        how = uow.session.scalars(
            select(Event.detail).where(Event.action == "message registered").order_by(Event.id)
        ).all()
    assert [(h or {}).get("how") for h in how] == ["opened by this message", "reply in a thread of the case"]


def test_a_reply_classified_in_an_earlier_run_joins_its_case_from_its_headers(uow: UnitOfWork) -> None:
    # Registered apart from classifying (a run that stopped between the two): nothing kept what
    # the reply replies to, so registering reads it from the stored bytes.
    reply = (
        b"From: Intake Team <intake@lgo.org.uk>\r\nTo: ombudsman@northmere.gov.uk\r\n"
        b"Subject: Re: your email\r\nDate: Tue, 16 Dec 2025 09:00:00 +0000\r\n"
        b"Message-ID: <reply-1@lgo.org.uk>\r\nIn-Reply-To: <D76723B8AC6C5E1F@lgo.org.uk>\r\n\r\nNoted.\r\n"
    )
    notification = (CORPUS / "lgsco-notification-01.eml").read_bytes()
    ingest(FakeMailbox([("0001", notification), ("0002", reply)]), uow, clock)
    classify_stored(uow, judgement(), clock)
    register.register_classified(uow, clock, {})
    [case] = cases(uow)
    assert set(case_of(uow).values()) == {case.id}


def test_registering_mail_classified_in_the_same_run_reads_no_raw_bytes_back(uow: UnitOfWork) -> None:
    # What each message replies to came back with its classification; untrusted mail opens no
    # case, so nothing else needs the bytes either.
    names = ("hos-chaser-final-05-lookalike.eml", "lgsco-chaser-first-05-spoof.eml", "hos-case-update-01.eml")
    ingest(FakeMailbox([(name, (CORPUS / name).read_bytes()) for name in names]), uow, clock)
    with Judging(uow, judgement(), clock) as judging:
        judging.add_ids(stored_ids(uow))
        judging.finish()
    reads: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "message_bodies" in statement:
            reads.append(statement)

    event.listen(uow.engine, "before_cursor_execute", record)
    try:
        register.register_classified(uow, clock, {}, threads=judging.threads)
    finally:
        event.remove(uow.engine, "before_cursor_execute", record)
    assert states(uow) == {MessageState.PROCESSED.value: 3}
    assert reads == [], reads


def test_a_case_without_a_clear_service_area_waits_for_a_person(uow: UnitOfWork) -> None:
    take(uow, "hos-notification-03.eml")
    [case] = cases(uow)
    assert case.service_area is None or case.service_area in AREAS


def test_guessing_the_service_area() -> None:
    assert guess_service_area("Damp and mould in the flat; repairs delayed.", AREAS)[0] == "Housing Repairs"
    assert guess_service_area("Nothing relevant.", AREAS) == (None, "no service area keyword found")
    area, why = guess_service_area("A repair to the carer's ramp", AREAS)
    assert area is None
    assert "more than one" in why


# Eight messages about two cases, with tasks and emails, registered four to a transaction.
STORY = [
    "lgsco-notification-01.eml",
    "lgsco-information-request-01.eml",
    "hos-notification-01.eml",
    "lgsco-chaser-first-01.eml",
    "hos-information-request-01.eml",
    "lgsco-case-closed-03.eml",
    "hos-chaser-first-01.eml",
    "lgsco-chaser-final-01.eml",
]


class FailOn:
    """``act`` that fails, after writing its effects, on the message registered ``position``-th."""

    def __init__(self, position: int, error: Exception) -> None:
        self.position, self.error = position, error
        self.seen: list[int] = []
        self.failing: int | None = None

    def __call__(
        self, session: Session, message: StoredMessage, case: Case | None, acting: Acting, at: datetime
    ) -> Plan:
        planned = actions.act(session, message, case, acting, at)
        if message.id not in self.seen:
            self.seen.append(message.id)
        if self.failing is None and len(self.seen) == self.position + 1:
            self.failing = message.id
        if message.id == self.failing:
            session.flush()
            raise self.error
        return planned


def take_story(uow: UnitOfWork) -> IntakeResult:
    messages = [(f"{i:04d}", (CORPUS / name).read_bytes()) for i, name in enumerate(STORY, start=1)]
    return take_in(FakeMailbox(messages), uow, judgement(), clock, service_keywords=AREAS, acting=ACTING)


def events_by_message(uow: UnitOfWork, action: str) -> Counter[int | None]:
    with uow:
        rows = uow.session.scalars(select(Event).where(Event.action == action)).all()
        return Counter(e.message_id for e in rows if (e.detail or {}).get("how") != "earlier mail")


def states(uow: UnitOfWork) -> Counter[str]:
    with uow:
        return Counter(uow.session.scalars(select(StoredMessage.state)))


@pytest.mark.parametrize("position", [0, 1, 3, 6, 7])  # first, inside, last of a chunk; last of all
def test_a_message_that_fails_registering_is_quarantined_alone_wherever_it_is_in_its_chunk(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch, position: int
) -> None:
    monkeypatch.setattr(register, "REGISTER_CHUNK", 4)
    fail = FailOn(position, ValueError("no template for this"))
    monkeypatch.setattr("inboxbot.service.register.act", fail)

    result = take_story(uow)

    assert fail.failing is not None
    assert result.registered.quarantined == [fail.failing]
    assert states(uow) == {MessageState.PROCESSED.value: 7, MessageState.QUARANTINED.value: 1}
    with uow:
        failed = uow.session.get(StoredMessage, fail.failing)
        assert failed is not None
        assert (failed.case_id, failed.error) == (None, "registering: ValueError: no template for this")
        assert not uow.session.scalars(select(Task).where(Task.source_message_id == fail.failing)).all()
        trail = uow.session.scalars(select(Event.action).where(Event.message_id == fail.failing)).all()
        assert sorted(trail) == ["message classified", "message quarantined", "message stored"]
        assert (uow.session.scalar(select(func.count()).select_from(OutboxItem)) or 0) > 0
    registered = events_by_message(uow, "message registered")
    assert fail.failing not in registered
    assert set(registered.values()) == {1}, "a message was registered twice"
    assert len(registered) >= 6
    assert set(events_by_message(uow, "case opened").values()) == {1}


def test_a_database_failure_stops_the_run_and_the_next_run_registers_the_rest_once(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not the message's fault: nothing is quarantined; the chunk it was in is rolled back whole.
    monkeypatch.setattr(register, "REGISTER_CHUNK", 4)
    fail = FailOn(5, OperationalError("UPDATE cases", {}, Exception("database is locked")))
    monkeypatch.setattr("inboxbot.service.register.act", fail)
    with pytest.raises(OperationalError):
        take_story(uow)
    assert states(uow) == {MessageState.PROCESSED.value: 4, MessageState.CLASSIFIED.value: 4}

    monkeypatch.undo()
    take_story(uow)

    assert states(uow) == {MessageState.PROCESSED.value: 8}
    registered = events_by_message(uow, "message registered")
    assert len(registered) >= 7
    assert set(registered.values()) == {1}
    assert set(events_by_message(uow, "case opened").values()) == {1}


def test_threads_are_read_from_the_header_as_the_mail_parser_reads_them() -> None:
    # Registering skips the header parser when neither header name appears at all.
    def parsed(raw: bytes) -> list[str]:
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        found = " ".join(str(headers.get(name, "")) for name in ("In-Reply-To", "References"))
        ids = [p for p in found.replace(">", "> ").split() if p.startswith("<") and p.endswith(">")]
        return list(dict.fromkeys(reversed(ids)))

    mail = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]
    mail += [raw.replace(b"\n", b"\r\n") for raw in mail]
    mail += [b"IN-REPLY-TO: <a@b>\r\nreferences: <c@d>\r\n <e@f>\r\n\r\nIn-Reply-To: <not@header>\r\n"]
    mail += [b"Subject: x\r\nReferences: <g@h>\r\n\r\nbody", b"Subject: x\r\nIn-reply-to: <i@j>\n\nbody"]
    threaded = [raw for raw in mail if thread_ids(raw)]
    assert len(threaded) > 10
    assert [thread_ids(raw) for raw in mail] == [parsed(raw) for raw in mail]
    assert thread_ids(mail[-3]) == ["<e@f>", "<c@d>", "<a@b>"]
