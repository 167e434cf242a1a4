"""The database tables, as SQLAlchemy 2 typed models.

Every instant is an aware UTC datetime (:class:`UtcDateTime`); due dates are
plain dates because they are London working days, not instants.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

from inboxbot.adapters.db.types import UtcDateTime
from inboxbot.domain.kinds import CaseStatus, MessageState, OutboxStatus, TaskStatus

# Named constraints so Alembic can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}  # noqa: RUF012


class MessageBody(Base):
    """The raw bytes of a stored message, exactly as they arrived.

    They are a table of their own because they never change while the message's own
    row changes at every step: SQLite rewrites a whole row, large value and all, on
    every update that changes its length, which was most of the cost of a backfill's
    updates.
    """

    __tablename__ = "message_bodies"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class StoredMessage(Base):
    """One message as it arrived: the raw bytes are kept before anything else happens.

    ``raw`` reads them from :class:`MessageBody`, when asked for (it is deferred);
    they are written there.
    """

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("source", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(300))
    source_key: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    raw: Mapped[bytes] = column_property(
        select(MessageBody.raw)
        .where(MessageBody.message_id == id)
        .correlate_except(MessageBody)
        .scalar_subquery(),
        deferred=True,
    )
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]
    ingested_at: Mapped[datetime]
    subject: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(String(998))
    kind: Mapped[str | None] = mapped_column(String(32), index=True)
    trusted: Mapped[bool | None] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), default=MessageState.STORED.value, index=True)
    error: Mapped[str | None] = mapped_column(Text)
    classification: Mapped[dict[str, Any] | None]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    moved_to: Mapped[str | None] = mapped_column(String(300))  # mailbox folder it was filed in
    # The references the judgement found, as columns so a new case can gather earlier mail about it.
    ombudsman: Mapped[str | None] = mapped_column(String(8))
    ombudsman_ref: Mapped[str | None] = mapped_column(String(32), index=True)
    council_ref: Mapped[str | None] = mapped_column(String(64), index=True)

    case: Mapped[Case | None] = relationship(back_populates="messages")


class Case(Base):
    """A complaint the Ombudsman is dealing with, and the council's original complaint."""

    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("ombudsman", "ombudsman_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ombudsman: Mapped[str | None] = mapped_column(String(8))
    ombudsman_ref: Mapped[str | None] = mapped_column(String(32))
    council_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    service_area: Mapped[str | None] = mapped_column(String(100), index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN.value, index=True)
    next_due: Mapped[date | None] = mapped_column(Date)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    messages: Mapped[list[StoredMessage]] = relationship(back_populates="case")
    tasks: Mapped[list[Task]] = relationship(back_populates="case", order_by="Task.id")


class Task(Base):
    """Something a service area (or RET) must do for a case by a due date."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    plan_key: Mapped[str | None] = mapped_column(String(100), unique=True)  # the planned effect it came from
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)
    service_area: Mapped[str | None] = mapped_column(String(100))
    due: Mapped[date | None] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.OPEN.value, index=True)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by: Mapped[str | None] = mapped_column(String(320))
    note: Mapped[str | None] = mapped_column(Text)
    source_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    last_reminder_on: Mapped[date | None] = mapped_column(Date)
    invite_sequence: Mapped[int] = mapped_column(Integer, default=0)
    invite_due: Mapped[date | None] = mapped_column(Date)

    case: Mapped[Case] = relationship(back_populates="tasks")


class Event(Base):
    """The audit trail: who or what changed what, and when."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any] | None]


class OutboxItem(Base):
    """An email, invite or alert the bot has decided to send.

    Written in the same transaction as the decision; ``dedupe_key`` is unique so
    deciding twice cannot send twice.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    transport_id: Mapped[str | None] = mapped_column(Text)  # what the server said when it accepted it
    created_at: Mapped[datetime]
    not_before: Mapped[datetime | None]
    recipients: Mapped[list[Any]]
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    ics: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any] | None]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class Complaint(Base):
    """A complaint from the council's own complaints register, imported from its CSV export.

    An Ombudsman case is about one of these: its service area is where a new case goes.
    """

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    council_ref: Mapped[str] = mapped_column(String(64), unique=True)  # upper case, as references are found
    service_area: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(Text)
    received_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    imported_at: Mapped[datetime]  # the import that last changed the row


class SourcePosition(Base):
    """How far ingest has got in one mail source: the high-water mark a restart resumes from."""

    __tablename__ = "source_positions"

    source: Mapped[str] = mapped_column(String(300), primary_key=True)
    position: Mapped[str | None] = mapped_column(Text)
    last_contact_at: Mapped[datetime | None]  # the last time the source answered
    last_error: Mapped[str | None] = mapped_column(Text)


def table(model: type[Base]) -> Table:
    """The Core table behind a model, for statements built once and bound many times."""
    return cast(Table, model.__table__)
