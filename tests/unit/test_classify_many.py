"""Classifying many messages a stage at a time gives what one at a time gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inboxbot.domain import classify as classify_module
from inboxbot.domain.classify import classify, classify_many
from inboxbot.domain.mailtext import parse
from inboxbot.resources import demo_mailbox
from inboxbot.service import classifying
from inboxbot.service.classifying import judge, judge_many
from tests.support.judgement import judgement

ROOT = Path(__file__).parents[2]
MAIL = sorted(
    [
        *(ROOT / "tests" / "corpus").glob("*.eml"),
        *(ROOT / "tests" / "holdout").glob("*.eml"),
        *demo_mailbox().rglob("*.eml"),
    ]
)
# Mail that does not parse or cannot be read, among the rest.
BROKEN = [b"", b"\xff\xfe\x00garbage", b"Subject: no body, no sender"]


def receipt_times(count: int) -> list[datetime | None]:
    """Some messages with a time of receipt (a bank holiday, a weekend, a weekday), some without."""
    start = datetime(2026, 4, 3, 16, 30, tzinfo=UTC)  # Good Friday
    return [None if i % 3 == 0 else start + timedelta(hours=7 * i) for i in range(count)]


def test_many_messages_classify_as_each_alone() -> None:
    mails = [parse(path.read_bytes()) for path in MAIL]
    times = receipt_times(len(mails))
    together = classify_many(mails, judgement(), times)
    alone = [classify(mail, judgement(), when) for mail, when in zip(mails, times, strict=True)]
    assert len(together) == len(MAIL) > 150
    assert together == alone
    assert classify_many(mails, judgement()) == [classify(mail, judgement()) for mail in mails]


def test_a_time_for_each_message_or_none() -> None:
    mails = [parse(MAIL[0].read_bytes())]
    assert classify_many([], judgement()) == []
    with pytest.raises(ValueError, match="2 receipt times for 1 messages"):
        classify_many(mails, judgement(), [None, None])


def items() -> list[tuple[bytes, datetime | None]]:
    raws = [path.read_bytes() for path in MAIL]
    raws[5:5] = BROKEN  # broken messages between good ones
    return list(zip(raws, receipt_times(len(raws)), strict=True))


@pytest.mark.parametrize("group_bytes", [classifying.GROUP_BYTES, 5000, 1])
def test_judging_many_records_what_judging_each_records(
    monkeypatch: pytest.MonkeyPatch, group_bytes: int
) -> None:
    monkeypatch.setattr(classifying, "GROUP_BYTES", group_bytes)
    given = items()
    together = judge_many(given, judgement())
    assert together == [judge(raw, judgement(), when) for raw, when in given]
    assert together[5].error is not None  # the empty message, in among the rest


def test_a_group_that_fails_is_judged_a_message_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    given = items()
    expected = [judge(raw, judgement(), when) for raw, when in given]

    def fails(*args: object) -> object:
        raise RuntimeError("a stage failed on one message")

    monkeypatch.setattr(classifying, "classify_many", fails)
    assert judge_many(given, judgement()) == expected


def test_each_stage_runs_over_every_message_before_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    for stage in ("assess_sender", "detect_automatic", "_all_references", "_deadlines"):
        real = getattr(classify_module, stage)

        def spy(*args: object, _real: object = real, _stage: str = stage) -> object:
            order.append(_stage)
            return _real(*args)  # type: ignore[operator]

        monkeypatch.setattr(classify_module, stage, spy)
    mails = [parse(path.read_bytes()) for path in MAIL[:4]]
    classify_many(mails, judgement())
    assert order == [stage for stage in dict.fromkeys(order) for _ in mails]


def test_the_time_given_is_the_time_of_receipt() -> None:
    mails = [parse(path.read_bytes()) for path in MAIL]
    given = datetime(2026, 12, 24, 17, 30, tzinfo=UTC)  # after the cut-off, before Christmas
    results = classify_many(mails, judgement(), [given] * len(mails))
    assert all(result.received == given for result in results)
    defaults = [r for r in results if r.due_source == "default"]
    assert defaults
    for result in defaults:
        days = judgement().default_due_days[result.kind]
        assert result.due == judgement().calendar.due_after_receipt(given, days)


def test_the_order_of_the_messages_does_not_matter() -> None:
    mails = [parse(path.read_bytes()) for path in MAIL]
    times = receipt_times(len(mails))
    forwards = classify_many(mails, judgement(), times)
    backwards = classify_many(mails[::-1], judgement(), times[::-1])
    assert backwards[::-1] == forwards
