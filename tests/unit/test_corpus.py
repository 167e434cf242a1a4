"""Accuracy on the labelled corpus: the bot's judgement against a careful human's.

Prints accuracy per kind and per field. Fails when kind accuracy is below 97%,
when any case reference is wrong, or when any untrusted message comes out trusted.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from inboxbot.domain.classify import Classification, classify
from inboxbot.domain.mailtext import parse
from inboxbot.resources import demo_mailbox
from tests.support.judgement import judgement

CORPUS = Path(__file__).parents[1] / "corpus"
# The sample mailbox's labels, so the demo is held to the same standard.
DEMO_LABELS = demo_mailbox().parent / "mailbox_labels.toml"


@dataclass(frozen=True)
class Labelled:
    file: str
    label: dict[str, Any]
    result: Classification


def _judge(labels_file: Path, folder: Path) -> tuple[Labelled, ...]:
    settings = judgement()
    labels = tomllib.loads(labels_file.read_text(encoding="utf-8"))["message"]
    return tuple(
        Labelled(lbl["file"], lbl, classify(parse((folder / lbl["file"]).read_bytes()), settings))
        for lbl in labels
    )


@cache
def judged() -> tuple[Labelled, ...]:
    return _judge(CORPUS / "labels.toml", CORPUS)


HOLDOUT = Path(__file__).parents[1] / "holdout"


@cache
def judged_holdout() -> tuple[Labelled, ...]:
    return _judge(HOLDOUT / "labels.toml", HOLDOUT)


@cache
def judged_demo() -> tuple[Labelled, ...]:
    return _judge(DEMO_LABELS, demo_mailbox() / "cur")


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def actual_fields(result: Classification) -> dict[str, Any]:
    return {
        "kind": result.kind.value,
        "ombudsman": result.ombudsman.value if result.ombudsman else None,
        "ombudsman_ref": result.ombudsman_ref,
        "council_ref": result.council_ref,
        "due": _iso(result.due),
        "due_source": result.due_source,
        "deadlines": sorted({d.due.isoformat() for d in result.deadlines}),
        "trusted": result.trusted,
    }


def expected_fields(label: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": label["kind"],
        "ombudsman": label.get("ombudsman"),
        "ombudsman_ref": label.get("ombudsman_ref"),
        "council_ref": label.get("council_ref"),
        "due": _iso(label.get("due")),
        "due_source": label.get("due_source"),
        "deadlines": sorted({d.isoformat() for d in label.get("deadlines", [])}),
        "trusted": label["trusted"],
    }


def mismatches(items: tuple[Labelled, ...] | None = None) -> dict[str, list[tuple[str, Any, Any]]]:
    wrong: dict[str, list[tuple[str, Any, Any]]] = {}
    for item in judged() if items is None else items:
        expected, actual = expected_fields(item.label), actual_fields(item.result)
        for name, value in expected.items():
            if actual[name] != value:
                wrong.setdefault(name, []).append((item.file, value, actual[name]))
    return wrong


def test_corpus_is_big_and_varied_enough() -> None:
    kinds = Counter(item.label["kind"] for item in judged())
    assert len(judged()) >= 120
    assert set(kinds) == {
        "notification", "information_request", "draft_decision", "final_decision", "public_report",
        "chaser_first", "chaser_final", "case_closed", "case_update", "portal_message", "auto_reply",
        "other", "unknown",
    }  # fmt: skip


def test_accuracy_report(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the figures; the thresholds are in the tests below."""
    items = judged()
    wrong = mismatches()
    with capsys.disabled():
        print(f"\ncorpus: {len(items)} messages")
        for name in expected_fields(items[0].label):
            bad = len(wrong.get(name, []))
            print(f"  {name:<14} {100 * (len(items) - bad) / len(items):6.1f}%  ({bad} wrong)")
        per_kind = Counter(item.label["kind"] for item in items)
        bad_kind = Counter(expected for _, expected, _ in wrong.get("kind", []))
        for kind, total in sorted(per_kind.items()):
            print(f"  kind {kind:<20} {100 * (total - bad_kind[kind]) / total:6.1f}%  of {total}")
        for name, rows in sorted(wrong.items()):
            for file, expected, actual in rows:
                print(f"    {name}: {file}: expected {expected!r}, got {actual!r}")
    assert items


def test_kind_accuracy_is_at_least_97_percent() -> None:
    wrong = mismatches().get("kind", [])
    accuracy = 1 - len(wrong) / len(judged())
    assert accuracy >= 0.97, wrong


def test_no_reference_is_wrong() -> None:
    wrong = mismatches()
    assert wrong.get("ombudsman_ref", []) == []
    assert wrong.get("council_ref", []) == []


def test_no_untrusted_message_comes_out_trusted() -> None:
    leaked = [item.file for item in judged() if item.result.trusted and not item.label["trusted"]]
    assert leaked == []


def test_due_dates_are_mostly_right() -> None:
    wrong = mismatches().get("due", [])
    assert 1 - len(wrong) / len(judged()) >= 0.95, wrong


def test_the_sample_mailbox_is_classified_as_labelled() -> None:
    assert len(judged_demo()) >= 15
    wrong = mismatches(judged_demo())
    assert wrong == {}


def test_the_held_out_set_meets_the_same_bar() -> None:
    """Written blind to the rules (tests/holdout/README.md). Kinds right on each round's first run:
    87%, 83%, 90%, 80%, 88%, 85%, 90%, 90%, 88%, 93%, 87%, 80%, 80%, 90%, 90%, 93%, 97%, 88%, 90%,
    80%, 88%, 88%, 90%, 80%, 75%, 90%, 93%."""
    items = judged_holdout()
    wrong = mismatches(items)
    assert len(items) >= 40
    assert 1 - len(wrong.get("kind", [])) / len(items) >= 0.97, wrong.get("kind")
    assert 1 - len(wrong.get("due", [])) / len(items) >= 0.95, wrong.get("due")
    assert wrong.get("ombudsman_ref", []) == []
    assert wrong.get("council_ref", []) == []
    assert [i.file for i in items if i.result.trusted and not i.label["trusted"]] == []
