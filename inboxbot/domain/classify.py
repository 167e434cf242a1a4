"""The bot's judgement on one message: what it is, which case, by when, and
whether the sender can be trusted. Pure: the caller passes the rules, the
calendar and, when it knows better than the headers, the time of receipt.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from inboxbot.domain import headers
from inboxbot.domain.calendar import WorkingCalendar, london_date
from inboxbot.domain.caseless import Caseless
from inboxbot.domain.deadlines import Deadline, find_deadlines
from inboxbot.domain.kinds import MessageKind, Ombudsman
from inboxbot.domain.mailtext import MailText
from inboxbot.domain.references import (
    Reference,
    choose_reference,
    council_reference_pattern,
    find_council_reference,
    find_references,
)
from inboxbot.domain.rules import Decision, Facts, RuleSet
from inboxbot.domain.trust import (
    DEFAULT_OMBUDSMAN_DOMAINS,
    AutomaticVerdict,
    SenderVerdict,
    TrustSettings,
    assess_sender,
    detect_automatic,
)

# Working days allowed when a message sets no deadline of its own.
DEFAULT_DUE_DAYS: Mapping[MessageKind, int] = {
    MessageKind.NOTIFICATION: 20,
    MessageKind.INFORMATION_REQUEST: 15,
    MessageKind.DRAFT_DECISION: 10,
    MessageKind.FINAL_DECISION: 20,
    MessageKind.PUBLIC_REPORT: 65,
    MessageKind.CHASER_FIRST: 5,
    MessageKind.CHASER_FINAL: 5,
    MessageKind.PORTAL_MESSAGE: 2,
}

_HEADERS_FOR_RULES = (
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "list-id",
    "content-type",
    "x-ms-exchange-inbox-rules-loop",
)


@dataclass(frozen=True)
class ClassifySettings:
    """Everything the judgement depends on besides the message."""

    rules: RuleSet
    calendar: WorkingCalendar
    trust: TrustSettings
    council_ref: Caseless = field(default_factory=lambda: council_reference_pattern(r"CAS-\d{6,7}"))
    default_due_days: Mapping[MessageKind, int] = field(default_factory=lambda: dict(DEFAULT_DUE_DAYS))

    @classmethod
    def build(
        cls,
        rules: RuleSet,
        calendar: WorkingCalendar | None = None,
        *,
        authserv_ids: frozenset[str] = frozenset({"mx.northmere.gov.uk"}),
        ombudsman_domains: Mapping[str, Ombudsman] | None = None,
        council_domains: frozenset[str] = frozenset(),
        council_ref_pattern: str = r"CAS-\d{6,7}",
        default_due_days: Mapping[MessageKind, int] | None = None,
    ) -> ClassifySettings:
        """Settings with the usual defaults filled in."""
        return cls(
            rules=rules,
            calendar=calendar or WorkingCalendar.build(),
            trust=TrustSettings(
                authserv_ids=frozenset(a.lower() for a in authserv_ids),
                ombudsman_domains=dict(ombudsman_domains or DEFAULT_OMBUDSMAN_DOMAINS),
                council_domains=frozenset(d.lower() for d in council_domains),
            ),
            council_ref=council_reference_pattern(council_ref_pattern),
            default_due_days=dict(DEFAULT_DUE_DAYS if default_due_days is None else default_due_days),
        )


@dataclass(frozen=True)
class Classification:
    """What the bot decided about one message, and why."""

    kind: MessageKind
    decision: Decision
    ombudsman: Ombudsman | None
    ombudsman_ref: str | None
    reference_reason: str
    council_ref: str | None
    deadlines: tuple[Deadline, ...]
    due: date | None
    due_source: str | None  # explicit, relative or default
    trusted: bool
    trust_reason: str
    spoof_suspected: bool
    automatic: str | None
    received: datetime | None
    references: tuple[Reference, ...] = ()

    @property
    def rule(self) -> str | None:
        """The id of the rule that decided."""
        return self.decision.rule_id

    @property
    def evidence(self) -> str:
        """The deciding evidence, or why nothing decided."""
        if self.decision.rule_id is None:
            return self.decision.explain()
        return "; ".join(str(e) for e in self.decision.evidence)

    def as_json(self) -> dict[str, Any]:
        """The fields of ``inboxbot explain --json`` (without ``file``)."""
        return {
            "kind": self.kind.value,
            "ombudsman": self.ombudsman.value if self.ombudsman else None,
            "ombudsman_ref": self.ombudsman_ref,
            "council_ref": self.council_ref,
            "due": self.due.isoformat() if self.due else None,
            "due_source": self.due_source,
            "deadlines": [{"due": d.due.isoformat(), "text": d.text} for d in self.deadlines],
            "trusted": self.trusted,
            "rule": self.rule,
            "evidence": self.evidence,
        }


def _ombudsman_of_address(text: str, domains: Mapping[str, Ombudsman]) -> Ombudsman | None:
    lowered = text.lower()
    for domain, ombudsman in domains.items():
        if re.search(rf"@(?:[\w-]+\.)*{re.escape(domain)}\b", lowered):
            return ombudsman
    return None


def _which_ombudsman(
    mail: MailText, sender: SenderVerdict, reference: Reference | None, settings: ClassifySettings
) -> Ombudsman | None:
    if sender.ombudsman is not None:
        return sender.ombudsman
    forwarded = _forwarded_ombudsman(mail, settings)
    if forwarded is not None:
        return forwarded
    if reference is not None:
        return reference.ombudsman
    return None


def _forwarded_ombudsman(mail: MailText, settings: ClassifySettings) -> Ombudsman | None:
    """The Ombudsman of the first forwarded part sent from an Ombudsman's address, if any."""
    for part in mail.forwarded:
        found = _ombudsman_of_address(part.sender, settings.trust.ombudsman_domains)
        if found is not None:
            return found
    return None


def _headers(mail: MailText) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for name in _HEADERS_FOR_RULES:
        raw = headers.raw_values(mail.message, name)
        if raw is not None and all(value.isascii() for value in raw):
            values: Sequence[object] = raw
        else:  # as the email package renders them (undecodable bytes become unknown-8bit)
            try:
                values = mail.message.get_all(name) or []
            except Exception:
                values = []
        result[name] = tuple(" ".join(str(v).split()) for v in values)
    return result


def _all_references(mail: MailText) -> list[Reference]:
    found = find_references(mail.subject, "subject") + find_references(mail.newest, "body")
    for part in mail.forwarded:
        found += find_references(part.subject, "forwarded") + find_references(part.text, "forwarded")
    found += find_references(" ".join(mail.attachment_names), "attachment")
    found += find_references(mail.attachment_text, "attachment")
    found += find_references(mail.quoted, "quoted")
    return found


def _due(
    kind: MessageKind, deadlines: tuple[Deadline, ...], received: datetime | None, settings: ClassifySettings
) -> tuple[date | None, str | None]:
    if kind not in settings.default_due_days:
        return None, None
    if deadlines:
        earliest = min(d.due for d in deadlines)
        sources = {d.source for d in deadlines if d.due == earliest}
        return earliest, "explicit" if "explicit" in sources else "relative"
    if received is None:
        return None, None
    return settings.calendar.due_after_receipt(received, settings.default_due_days[kind]), "default"


def classify(mail: MailText, settings: ClassifySettings, received: datetime | None = None) -> Classification:
    """Decide kind, case references, deadlines and trust for one message.

    ``received`` overrides the time read from the headers (the mail server's
    arrival time is better than any header when the caller has it).
    """
    return classify_many([mail], settings, [received])[0]


@dataclass(frozen=True)
class _Case:
    """The case reference chosen for a message, why, and the Ombudsman it is with."""

    reference: Reference | None
    reason: str
    ombudsman: Ombudsman | None


def classify_many(
    mails: Sequence[MailText], settings: ClassifySettings, received: Sequence[datetime | None] | None = None
) -> list[Classification]:
    """:func:`classify` for each message (``received``, when given, holds one time or None for
    each), done a stage at a time over all of them.

    The results are the same as one message at a time. Each stage (sender trust, references,
    rules, deadlines) runs over every message before the next begins: about a fifth less time
    on the corpus than one message at a time (benchmarks/classify.py). Most likely each
    stage's code and data (compiled patterns, the rules' automaton) then keep the CPU's caches
    to themselves; this machine gives no counters to show it.
    """
    times = [None] * len(mails) if received is None else list(received)
    if len(times) != len(mails):
        raise ValueError(f"{len(times)} receipt times for {len(mails)} messages")
    senders = [assess_sender(mail.message, settings.trust) for mail in mails]
    automatics = [detect_automatic(mail.message, settings.trust.ombudsman_domains) for mail in mails]
    references = [_all_references(mail) for mail in mails]
    cases = [_case(*found, settings) for found in zip(mails, senders, references, strict=True)]
    decisions = [
        _from_whom(settings.rules.decide(_facts(mail, automatic, case)), mail, sender, settings)
        for mail, automatic, case, sender in zip(mails, automatics, cases, senders, strict=True)
    ]
    cases = [
        _about_no_case(mail, sender, case, decision.kind, settings)
        for mail, sender, case, decision in zip(mails, senders, cases, decisions, strict=True)
    ]
    whens = [when or mail.received or mail.date for mail, when in zip(mails, times, strict=True)]
    deadlines = [
        _deadlines(mail, decision.kind, when, settings)
        for mail, decision, when in zip(mails, decisions, whens, strict=True)
    ]
    council_refs = [
        find_council_reference(
            settings.council_ref,
            # A forwarded or returned message's subject too: a bounce returns the council's own
            # "27 001 102 - Council response - CAS-2210456".
            (
                mail.subject,
                mail.newest,
                *(f"{p.subject}\n{p.text}" for p in mail.forwarded),
                mail.attachment_text,
                mail.quoted,
                # Older mail quoted below a signature without a marker we know (Lotus Notes, "Sent
                # from my iPhone" over the original) is taken as signature; its reference still counts.
                mail.signature,
            ),
        )
        for mail in mails
    ]
    return [
        _classification(
            decisions[i],
            cases[i],
            council_refs[i],
            deadlines[i],
            whens[i],
            senders[i],
            automatics[i],
            references[i],
            settings,
        )
        for i in range(len(mails))
    ]


def _case(
    mail: MailText, sender: SenderVerdict, references: list[Reference], settings: ClassifySettings
) -> _Case:
    reference, reason = choose_reference(references, sender.ombudsman)
    ombudsman = _which_ombudsman(mail, sender, reference, settings)
    if reference is not None and ombudsman is not None and reference.ombudsman != ombudsman:
        # A reference in the other Ombudsman's format is only kept when nothing better exists.
        reference, reason = choose_reference(references, ombudsman)
    return _Case(reference, reason, ombudsman)


def _facts(mail: MailText, automatic: AutomaticVerdict | None, case: _Case) -> Facts:
    return Facts(
        # A reply keeps the subject of the message it answers ("RE: Final chaser"), so
        # only a new or forwarded message's subject says what this message is.
        subject="" if mail.subject_prefix == "re" else mail.subject,
        body=mail.body,
        attachment_names=mail.attachment_names,
        attachment_text=mail.attachment_text,
        headers=_headers(mail),
        ombudsman=case.ombudsman,
        automatic=automatic.kind if automatic else None,
        has_reference=case.reference is not None,
        sender_domain=mail.sender_domain,
    )


# What a person writes about a case can be read for what it says, but only the Ombudsman sends these.
_ONLY_FROM_THE_OMBUDSMAN = frozenset(MessageKind) - {
    MessageKind.AUTO_REPLY,
    MessageKind.OTHER,
    MessageKind.UNKNOWN,
}


def _from_whom(
    decision: Decision, mail: MailText, sender: SenderVerdict, settings: ClassifySettings
) -> Decision:
    """The rules' decision, or ``unknown`` when it names an Ombudsman's kind of message that the
    Ombudsman did not write: an officer's reply to a task email asking for an extension, an MP's
    letter asking the council for information, a calendar decline. The message does not come
    from the Ombudsman, nor claim to, nor pass on a message that does. A person reads it."""
    if decision.kind not in _ONLY_FROM_THE_OMBUDSMAN or sender.ombudsman is not None:
        return decision
    if _forwarded_ombudsman(mail, settings) is not None:
        return decision
    why = (
        f"{decision.rule_id} reads it as {decision.kind.value}, but the Ombudsman did not write it "
        f"({sender.reason}): a person should read it"
    )
    return replace(decision, kind=MessageKind.UNKNOWN, rule_id=None, evidence=(), conflict=why)


def _about_no_case(
    mail: MailText, sender: SenderVerdict, case: _Case, kind: MessageKind, settings: ClassifySettings
) -> _Case:
    if kind in (MessageKind.AUTO_REPLY, MessageKind.OTHER) and (
        case.reference is not None and case.reference.found_in != "subject"
    ):
        # A bounce quotes whatever it bounced and a newsletter cites case studies: only a
        # reference in the subject says which case such a message is about.
        reason = "not about a case (only a reference in the subject would count)"
        return _Case(None, reason, _which_ombudsman(mail, sender, None, settings))
    return case


def _deadlines(
    mail: MailText, kind: MessageKind, when: datetime | None, settings: ClassifySettings
) -> tuple[Deadline, ...]:
    if kind not in settings.default_due_days or when is None:
        return ()
    letter = london_date(mail.date) if mail.date else london_date(when)
    text = "\n\n".join(t for t in (mail.body, mail.attachment_text) if t)
    is_decision = kind in (MessageKind.FINAL_DECISION, MessageKind.PUBLIC_REPORT)
    return tuple(
        find_deadlines(
            text, letter_date=letter, received=when, calendar=settings.calendar, is_decision=is_decision
        )
    )


def _classification(
    decision: Decision,
    case: _Case,
    council_ref: str | None,
    deadlines: tuple[Deadline, ...],
    when: datetime | None,
    sender: SenderVerdict,
    automatic: AutomaticVerdict | None,
    references: list[Reference],
    settings: ClassifySettings,
) -> Classification:
    kind = decision.kind
    due, due_source = _due(kind, deadlines, when, settings)
    return Classification(
        kind=kind,
        decision=decision,
        ombudsman=case.ombudsman,
        ombudsman_ref=case.reference.ref if case.reference else None,
        reference_reason=case.reason,
        council_ref=council_ref,
        deadlines=deadlines,
        due=due,
        due_source=due_source,
        trusted=sender.trusted,
        trust_reason=sender.reason,
        spoof_suspected=sender.spoof_suspected,
        automatic=automatic.kind if automatic else None,
        received=when,
        references=tuple(references),
    )
