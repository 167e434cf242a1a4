"""Putting the judgement together from the configuration, and running it on raw mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from inboxbot.adapters.rulefiles import load_rules
from inboxbot.config import Settings
from inboxbot.domain.classify import Classification, ClassifySettings, classify
from inboxbot.domain.kinds import MessageKind, Ombudsman
from inboxbot.domain.mailtext import parse
from inboxbot.resources import rules_dir


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


def classify_raw(raw: bytes, settings: ClassifySettings, received: datetime | None = None) -> Outcome:
    """Parse and classify raw bytes; any failure becomes an error, never an exception."""
    try:
        mail = parse(raw)
        problem = mail.unreadable_reason()
        if problem is not None:
            return Outcome(None, problem)
        return Outcome(classify(mail, settings, received))
    except Exception as exc:  # one bad message must never stop the others
        return Outcome(None, f"{type(exc).__name__}: {exc}")
