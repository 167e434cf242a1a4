"""Planning what to do about one message: pure, so every branch is checked here."""

from __future__ import annotations

from datetime import date

import pytest

from inboxbot.domain.kinds import MessageKind, Ombudsman
from inboxbot.domain.planning import CaseFacts, Deadline, MessageFacts, Plan, plan

CASE = CaseFacts(case_id=7, service_area="Housing Repairs", closed=False)


def facts(kind: MessageKind, **changes: object) -> MessageFacts:
    values: dict[str, object] = {
        "message_id": 42,
        "kind": kind,
        "trusted": True,
        "automatic": False,
        "quarantined": False,
        "ombudsman": Ombudsman.HOS,
        "due": date(2026, 4, 7),
    }
    values.update(changes)
    return MessageFacts(**values)  # type: ignore[arg-type]


def keys(result: Plan) -> list[str]:
    return [e.dedupe_key for e in result.emails]


def test_a_notification_opens_one_task_and_acknowledges_when_configured() -> None:
    result = plan(facts(MessageKind.NOTIFICATION), CASE, acknowledge=True)
    assert [(t.key, t.kind, t.due) for t in result.tasks] == [("msg42:0", "notification", date(2026, 4, 7))]
    assert keys(result) == ["case7:acknowledgement"]
    assert keys(plan(facts(MessageKind.NOTIFICATION), CASE, acknowledge=False)) == []


def test_an_automatic_notification_is_never_acknowledged() -> None:
    assert keys(plan(facts(MessageKind.NOTIFICATION, automatic=True), CASE, acknowledge=True)) == []


def test_a_final_decision_gets_one_task_per_order_each_with_its_due_date() -> None:
    orders = (
        Deadline(date(2026, 5, 16), "1. apologise within one month"),
        Deadline(date(2026, 7, 16), "2. review the procedure within three months"),
        Deadline(date(2026, 4, 30), "3. pay £300 by 30 April 2026"),
    )
    result = plan(facts(MessageKind.FINAL_DECISION, deadlines=orders), CASE, acknowledge=True)
    assert [(t.key, t.due, t.detail) for t in result.tasks] == [
        ("msg42:0", date(2026, 5, 16), "1. apologise within one month"),
        ("msg42:1", date(2026, 7, 16), "2. review the procedure within three months"),
        ("msg42:2", date(2026, 4, 30), "3. pay £300 by 30 April 2026"),
    ]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (MessageKind.CHASER_FIRST, ("hrc", "head_of_service")),
        (MessageKind.CHASER_FINAL, ("hrc", "head_of_service", "slt_director")),
    ],
)
def test_chasers_alert_the_ladder_once_per_case_and_level(
    kind: MessageKind, expected: tuple[str, ...]
) -> None:
    result = plan(facts(kind), CASE, acknowledge=True)
    [alert] = result.emails
    assert alert.dedupe_key == f"case7:{kind.value}"  # a second chaser of the same level reuses the key
    assert alert.audience == expected
    assert [t.kind for t in result.tasks] == ["priority"]


def test_a_public_report_alerts_at_once_and_opens_a_task() -> None:
    result = plan(facts(MessageKind.PUBLIC_REPORT), CASE, acknowledge=False)
    assert keys(result) == ["case7:public_report"]
    assert result.emails[0].audience == ("hrc", "head_of_service", "slt_director")
    assert len(result.tasks) == 1


def test_closure_closes_the_case_and_tells_the_service_area() -> None:
    result = plan(facts(MessageKind.CASE_CLOSED), CASE, acknowledge=True)
    assert result.close_case
    assert keys(result) == ["case7:closed"]
    assert result.tasks == ()


@pytest.mark.parametrize(
    "message",
    [
        facts(MessageKind.CHASER_FINAL, trusted=False),
        facts(MessageKind.CASE_CLOSED, trusted=False),
        facts(MessageKind.UNKNOWN),
        facts(MessageKind.NOTIFICATION, quarantined=True),
    ],
)
def test_untrusted_unknown_or_unreadable_mail_only_alerts_ret(message: MessageFacts) -> None:
    result = plan(message, CASE, acknowledge=True)
    assert result.tasks == ()
    assert not result.close_case
    assert [(e.template, e.audience) for e in result.emails] == [("triage", ("ret",))]


@pytest.mark.parametrize("kind", [MessageKind.AUTO_REPLY, MessageKind.OTHER, MessageKind.CASE_UPDATE])
def test_mail_that_asks_nothing_is_logged_only(kind: MessageKind) -> None:
    assert plan(facts(kind, trusted=False), CASE, acknowledge=True).emails == ()
    assert plan(facts(kind), CASE, acknowledge=True).tasks == ()


def test_a_case_without_a_service_area_asks_ret_to_assign_it() -> None:
    result = plan(facts(MessageKind.NOTIFICATION), CaseFacts(7, None, False), acknowledge=False)
    assert keys(result) == ["case7:needs-area"]
    assert len(result.tasks) == 1


def test_a_portal_message_is_a_job_for_ret() -> None:
    [task] = plan(facts(MessageKind.PORTAL_MESSAGE), CASE, acknowledge=False).tasks
    assert task.for_ret
