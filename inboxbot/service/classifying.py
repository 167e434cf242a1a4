"""Putting the judgement together from the configuration, and running it on raw mail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from inboxbot.adapters.rulefiles import load_rules
from inboxbot.domain.classify import Classification, ClassifySettings, classify, classify_many
from inboxbot.domain.envelope import thread_ids
from inboxbot.domain.kinds import MessageKind, Ombudsman
from inboxbot.domain.mailtext import MailText, parse
from inboxbot.resources import rules_dir

if TYPE_CHECKING:  # the workers import this module, and need no configuration code
    from inboxbot.config import Settings


def classify_settings(settings: Settings) -> ClassifySettings:
    """The rules, calendar and trust settings the configuration describes (reads the rule files)."""
    section = settings.classification
    domains = {d: Ombudsman.LGSCO for d in section.lgsco_domains} | {
        d: Ombudsman.HOS for d in section.hos_domains
    }
    return ClassifySettings.build(
        load_rules(section.rules_dir or rules_dir()),
        settings.working_calendar(),
        authserv_ids=frozenset(section.authserv_ids),
        council_domains=frozenset(section.council_domains),
        ombudsman_domains=domains,
        council_ref_pattern=section.council_ref_pattern,
        default_due_days={MessageKind(k): v for k, v in section.default_due_days.items()},
    )


@dataclass(frozen=True)
class Outcome:
    """A classification, or the error that stopped one."""

    classification: Classification | None
    error: str | None = None


def _failure(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def _read(raw: bytes) -> MailText | str:
    """The parsed message, or why it cannot be classified; never raises."""
    try:
        mail = parse(raw)
        problem = mail.unreadable_reason()
    except Exception as exc:  # one bad message must never stop the others
        return _failure(exc)
    return mail if problem is None else problem


def classify_raw(raw: bytes, settings: ClassifySettings, received: datetime | None = None) -> Outcome:
    """Parse and classify raw bytes; any failure becomes an error, never an exception."""
    mail = _read(raw)
    if isinstance(mail, str):
        return Outcome(None, mail)
    try:
        return Outcome(classify(mail, settings, received))
    except Exception as exc:  # one bad message must never stop the others
        return Outcome(None, _failure(exc))


def judgement_record(result: Classification) -> dict[str, Any]:
    """The judgement as stored on the message: what ``explain --json`` shows, and why."""
    return {
        **result.as_json(),
        "trust_reason": result.trust_reason,
        "spoof_suspected": result.spoof_suspected,
        "automatic": result.automatic,
        "reference_reason": result.reference_reason,
        "deadline_evidence": [d.evidence for d in result.deadlines],
        "also_matched": [m.rule_id for m in result.decision.matches if m.rule_id != result.rule],
        "conflict": result.decision.conflict,
    }


@dataclass(frozen=True)
class Judged:
    """What the database records of one message's classification: the columns and the
    audit detail, or the error that quarantines it. Plain data, so it can come back
    from a worker process cheaply."""

    columns: dict[str, Any]
    detail: dict[str, Any]
    error: str | None = None
    thread: tuple[str, ...] = ()  # the Message-IDs it replies to, newest first, for registering

    @classmethod
    def failed(cls, error: str) -> Judged:
        """A message that could not be classified."""
        return cls({}, {"error": error}, error)


def judge(raw: bytes, settings: ClassifySettings, received: datetime | None = None) -> Judged:
    """Classify raw bytes into what is recorded of them; never raises."""
    outcome = classify_raw(raw, settings, received)
    if outcome.classification is None:
        return Judged.failed(outcome.error or "unknown error")
    return _judged(raw, outcome.classification)


# Messages are parsed, then classified together, in groups of at most this much raw mail: a
# group's parsed messages are held at once, as well as its bytes.
GROUP_BYTES = 4 * 1024 * 1024


def judge_many(items: Sequence[tuple[bytes, datetime | None]], settings: ClassifySettings) -> list[Judged]:
    """:func:`judge` for each (raw, received) pair, in order; never raises.

    Each group of messages is parsed, then classified a stage at a time
    (:func:`classify_many`): about a fifth faster than one message at a time.
    """
    judged: list[Judged] = []
    group: list[tuple[bytes, datetime | None]] = []
    size = 0
    for item in items:
        if group and size + len(item[0]) > GROUP_BYTES:
            judged += _judge_group(group, settings)
            group, size = [], 0
        group.append(item)
        size += len(item[0])
    if group:
        judged += _judge_group(group, settings)
    return judged


def _judge_group(group: Sequence[tuple[bytes, datetime | None]], settings: ClassifySettings) -> list[Judged]:
    read = [_read(raw) for raw, _ in group]
    mails = [mail for mail in read if isinstance(mail, MailText)]
    times = [received for (_, received), mail in zip(group, read, strict=True) if isinstance(mail, MailText)]
    try:
        results = iter(classify_many(mails, settings, times))
    except Exception:  # one message's failure must not take the group with it: each on its own
        return [judge(raw, settings, received) for raw, received in group]
    return [
        Judged.failed(mail) if isinstance(mail, str) else _judged(raw, next(results))
        for (raw, _), mail in zip(group, read, strict=True)
    ]


def _judged(raw: bytes, judgement: Classification) -> Judged:
    try:
        columns = {
            "kind": judgement.kind.value,
            "trusted": judgement.trusted,
            "ombudsman": judgement.ombudsman.value if judgement.ombudsman else None,
            "ombudsman_ref": judgement.ombudsman_ref,
            "council_ref": judgement.council_ref,
            "classification": judgement_record(judgement),
        }
    except Exception as exc:  # one bad message must never stop the others
        return Judged.failed(_failure(exc))
    return Judged(
        columns,
        {"kind": judgement.kind.value, "rule": judgement.rule, "trusted": judgement.trusted},
        thread=tuple(thread_ids(raw)),
    )
