"""What the bot does about one registered message: pure planning, no I/O.

The plan lists the tasks to open and the emails to send, each with a dedupe
key that is unique for that effect, so applying the same plan twice (a re-run,
a crash and retry) sends nothing twice. Untrusted or unknown mail only ever
produces one alert to the Resident Experience Team.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from inboxbot.domain.kinds import MessageKind, Ombudsman
from inboxbot.domain.triage import needs_a_person

OMBUDSMAN_NAMES = {
    Ombudsman.LGSCO: "Local Government and Social Care Ombudsman",
    Ombudsman.HOS: "Housing Ombudsman Service",
}

# What the service area is asked to do, per kind of message.
TASK_TITLES = {
    MessageKind.NOTIFICATION: "Provide the information the Ombudsman has asked for",
    MessageKind.INFORMATION_REQUEST: "Provide the further information the Ombudsman has asked for",
    MessageKind.DRAFT_DECISION: "Send any comments on the draft decision",
    MessageKind.FINAL_DECISION: "Carry out the Ombudsman's order or recommendation",
    MessageKind.PUBLIC_REPORT: "Consider the public report and tell the Ombudsman what the council will do",
    MessageKind.PORTAL_MESSAGE: "Read the new message on the Ombudsman's portal",
}


@dataclass(frozen=True)
class Deadline:
    """A deadline the message set, with the order or request it belongs to."""

    due: date
    text: str


@dataclass(frozen=True)
class MessageFacts:
    """What planning needs to know of one message."""

    message_id: int
    kind: MessageKind
    trusted: bool
    automatic: bool
    quarantined: bool
    ombudsman: Ombudsman | None
    due: date | None
    deadlines: Sequence[Deadline] = ()
    why_unknown: str = ""


@dataclass(frozen=True)
class CaseFacts:
    """What planning needs to know of the case the message joined (None: it joined none)."""

    case_id: int
    service_area: str | None
    closed: bool


@dataclass(frozen=True)
class PlannedTask:
    """A task to open; ``key`` makes it unique per message."""

    key: str
    kind: str
    title: str
    detail: str
    due: date | None
    for_ret: bool = False  # a job for the Resident Experience Team, not the service area


@dataclass(frozen=True)
class PlannedEmail:
    """An email to put in the outbox; ``dedupe_key`` makes it unique per effect."""

    dedupe_key: str
    template: str
    audience: tuple[
        str, ...
    ]  # roles: "service_area", "head_of_service", "slt_director", "ret", "hrc", "ombudsman"
    reason: str = ""


@dataclass(frozen=True)
class Plan:
    """Everything to do about one message, and why."""

    tasks: tuple[PlannedTask, ...] = ()
    emails: tuple[PlannedEmail, ...] = ()
    close_case: bool = False
    notes: tuple[str, ...] = field(default=())


def plan(message: MessageFacts, case: CaseFacts | None, *, acknowledge: bool) -> Plan:
    """The tasks and emails one message calls for.

    ``acknowledge``: the council acknowledges new complaints to this Ombudsman.
    """
    if needs_a_person(message.kind, message.trusted, message.quarantined):
        reason = _triage_reason(message)
        return Plan(
            emails=(PlannedEmail(f"msg{message.message_id}:triage", "triage", ("ret",), reason),),
            notes=(f"triage: {reason}",),
        )
    kind = message.kind
    if kind in (MessageKind.AUTO_REPLY, MessageKind.OTHER, MessageKind.CASE_UPDATE):
        return Plan(notes=(f"{kind.value}: logged, nothing sent",))
    if case is None:
        reason = "about a case the bot cannot find or open"
        return Plan(
            emails=(PlannedEmail(f"msg{message.message_id}:triage", "triage", ("ret",), reason),),
            notes=(f"triage: {reason}",),
        )
    emails: list[PlannedEmail] = []
    tasks: list[PlannedTask] = []
    if case.service_area is None:
        emails.append(
            PlannedEmail(
                f"case{case.case_id}:needs-area", "triage", ("ret",), "the case needs a service area"
            )
        )
    if kind is MessageKind.CASE_CLOSED:
        emails.append(PlannedEmail(f"case{case.case_id}:closed", "case_closed_notice", ("service_area",)))
        return Plan(
            emails=tuple(emails), close_case=True, notes=("the Ombudsman has finished with the case",)
        )
    if kind in (MessageKind.CHASER_FIRST, MessageKind.CHASER_FINAL):
        level = kind.value
        audience: tuple[str, ...] = ("hrc", "head_of_service")
        if kind is MessageKind.CHASER_FINAL:
            audience = (*audience, "slt_director")
        emails.append(PlannedEmail(f"case{case.case_id}:{level}", f"alert_{level}", audience))
        tasks.append(
            PlannedTask(
                f"msg{message.message_id}:0",
                "priority",
                "Priority: the Ombudsman has chased this case",
                "The Ombudsman says something is overdue. Send what is outstanding today.",
                message.due,
            )
        )
        return Plan(
            tasks=tuple(tasks), emails=tuple(emails), notes=(f"{level}: alerts sent once per case and level",)
        )
    if kind is MessageKind.PUBLIC_REPORT:
        emails.append(
            PlannedEmail(
                f"case{case.case_id}:public_report",
                "alert_public_report",
                ("hrc", "head_of_service", "slt_director"),
            )
        )
    if kind is MessageKind.FINAL_DECISION and message.deadlines:
        for index, deadline in enumerate(message.deadlines):
            tasks.append(
                PlannedTask(
                    f"msg{message.message_id}:{index}",
                    "order",
                    TASK_TITLES[kind],
                    deadline.text,
                    deadline.due,
                )
            )
    elif kind in TASK_TITLES:
        detail = "; ".join(d.text for d in message.deadlines)
        tasks.append(
            PlannedTask(
                f"msg{message.message_id}:0",
                kind.value,
                TASK_TITLES[kind],
                detail,
                message.due,
                for_ret=kind is MessageKind.PORTAL_MESSAGE,
            )
        )
    if kind is MessageKind.NOTIFICATION and acknowledge and not message.automatic:
        emails.append(PlannedEmail(f"case{case.case_id}:acknowledgement", "acknowledgement", ("ombudsman",)))
    return Plan(tasks=tuple(tasks), emails=tuple(emails), notes=(f"{kind.value}: {len(tasks)} task(s)",))


def _triage_reason(message: MessageFacts) -> str:
    if message.quarantined:
        return "the message could not be read"
    if message.kind is MessageKind.UNKNOWN:
        return message.why_unknown or "the bot could not tell what the message is"
    return "the sender could not be verified as the Ombudsman"
