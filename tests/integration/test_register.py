"""Registering messages against cases, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from inboxbot.adapters.db.models import Case, StoredMessage
from inboxbot.domain.casework import guess_service_area
from inboxbot.service.intake import take_in
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_intake import judgement
from tests.support.fakes import FakeMailbox

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
