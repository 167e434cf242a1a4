"""The vocabulary: what a message can be, and the states things move through."""

from __future__ import annotations

from enum import StrEnum


class MessageKind(StrEnum):
    """What an incoming message is (exact strings from the design reference)."""

    NOTIFICATION = "notification"
    INFORMATION_REQUEST = "information_request"
    DRAFT_DECISION = "draft_decision"
    FINAL_DECISION = "final_decision"
    PUBLIC_REPORT = "public_report"
    CHASER_FIRST = "chaser_first"
    CHASER_FINAL = "chaser_final"
    CASE_CLOSED = "case_closed"
    CASE_UPDATE = "case_update"
    PORTAL_MESSAGE = "portal_message"
    AUTO_REPLY = "auto_reply"
    OTHER = "other"
    UNKNOWN = "unknown"


class Ombudsman(StrEnum):
    """The two Ombudsmen whose mail the bot works."""

    LGSCO = "lgsco"
    HOS = "hos"


class MessageState(StrEnum):
    """How far a stored message has got through the pipeline."""

    STORED = "stored"  # raw bytes are safe; nothing else done yet
    CLASSIFIED = "classified"
    PROCESSED = "processed"  # registered against a case and its actions planned
    QUARANTINED = "quarantined"  # a step failed; the error is kept and RET can retry


class CaseStatus(StrEnum):
    """Whether a case is still being worked."""

    OPEN = "open"
    CLOSED = "closed"


class TaskStatus(StrEnum):
    """Where a task given to a service area (or to RET) stands."""

    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class OutboxStatus(StrEnum):
    """Where an outgoing email, invite or alert stands."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after retries; stays visible until someone acts
    CANCELLED = "cancelled"
