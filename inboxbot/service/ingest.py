"""Taking messages from a mail source into the database, raw bytes first.

Each message is stored and committed in its own transaction before anything
else is done with it, so a crash or a bad message later in the pipeline cannot
lose it. A message already stored (same bytes, same place in the same source,
or same Message-ID with the same body) is skipped, so re-running is harmless.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import Event, SourcePosition, StoredMessage, table
from inboxbot.domain.envelope import read_envelope
from inboxbot.domain.kinds import MessageState
from inboxbot.service import audit
from inboxbot.service.ports import FetchedMessage, MailSource, ResumableSource
from inboxbot.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    """What one ingest run did."""

    stored: list[int] = field(default_factory=list)  # ids of newly stored messages
    would_store: list[str] = field(default_factory=list)  # dry run: keys that would be stored
    duplicates: int = 0
    seen: int = 0


def _body_digest(raw: bytes) -> str:
    """Hash of everything after the header block: the same message delivered twice
    differs only in its trace headers."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        _head, found, body = raw.partition(separator)
        if found:
            return hashlib.sha256(body).hexdigest()
    return hashlib.sha256(b"").hexdigest()


# Statements built once: a 10,000-message backfill runs each of them per message, and
# building them anew each time (rather than binding new values) was most of the cost.
_MESSAGES = table(StoredMessage)
_POSITIONS = table(SourcePosition)
_EVENTS = table(Event)
_FIND_SAME = select(_MESSAGES.c.id).where(
    or_(
        _MESSAGES.c.sha256 == bindparam("sha"),
        and_(_MESSAGES.c.source == bindparam("source"), _MESSAGES.c.source_key == bindparam("key")),
    )
)
_FIND_TWINS = select(_MESSAGES.c.raw).where(_MESSAGES.c.message_id == bindparam("message_id"))
_INSERT_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
_INSERT_EVENT = insert(_EVENTS)
_UPDATE_POSITION = (
    update(_POSITIONS)
    .where(_POSITIONS.c.source == bindparam("the_source"))
    .values(position=func.coalesce(bindparam("new_position"), _POSITIONS.c.position))
)


def _already_stored(
    session: Session, source: str, fetched: FetchedMessage, sha: str, message_id: str | None
) -> bool:
    connection = session.connection()
    if connection.execute(_FIND_SAME, {"sha": sha, "source": source, "key": fetched.key}).first() is not None:
        return True
    if message_id is None:
        return False
    digest = _body_digest(fetched.raw)
    twins = connection.execute(_FIND_TWINS, {"message_id": message_id}).scalars()
    return any(_body_digest(raw) == digest for raw in twins)


def _save_position(session: Session, source: str, position: str | None, now: datetime) -> None:
    connection = session.connection()
    values = {"the_source": source, "new_position": position, "last_contact_at": now, "last_error": None}
    if connection.execute(_UPDATE_POSITION, values).rowcount == 0:
        connection.execute(
            insert(_POSITIONS),
            {"source": source, "position": position, "last_contact_at": now, "last_error": None},
        )


def load_position(uow: UnitOfWork, source: str) -> str | None:
    """Where the last ingest of ``source`` got to, or None for a first run."""
    with uow:
        row = uow.session.get(SourcePosition, source)
        return row.position if row else None


def record_source_error(uow: UnitOfWork, source: str, error: str, now: datetime) -> None:
    """Remember that ``source`` could not be read, for ``inboxbot status``."""
    with uow:
        row = uow.session.get(SourcePosition, source)
        if row is None:
            row = SourcePosition(source=source)
            uow.session.add(row)
        row.last_error = error
        uow.commit()


def store_message(uow: UnitOfWork, source: str, fetched: FetchedMessage, now: datetime) -> int | None:
    """Store one message and commit, with the source's new resume point in the same
    transaction; its id, or None when it was already stored."""
    sha = hashlib.sha256(fetched.raw).hexdigest()
    envelope = read_envelope(fetched.raw)
    with uow:
        session = uow.session
        if _already_stored(session, source, fetched, sha, envelope.message_id):
            if fetched.position is not None:
                _save_position(session, source, fetched.position, now)
                uow.commit()
            return None
        # Core inserts rather than ORM objects: this runs once per message of a
        # 10,000-message backfill, and the ORM's bookkeeping would be most of the cost.
        connection = session.connection()
        try:
            message_id = connection.execute(
                _INSERT_MESSAGE,
                {
                    "source": source,
                    "source_key": fetched.key,
                    "message_id": envelope.message_id,
                    "sha256": sha,
                    "raw": fetched.raw,
                    "size": len(fetched.raw),
                    "received_at": fetched.received_at or envelope.received_at or now,
                    "ingested_at": now,
                    "subject": envelope.subject,
                    "sender": envelope.sender,
                    "state": MessageState.STORED.value,
                },
            ).scalar_one()
            connection.execute(
                _INSERT_EVENT,
                {
                    "at": now,
                    "actor": audit.BOT,
                    "action": "message stored",
                    "message_id": message_id,
                    "detail": {"source": source, "key": fetched.key},
                },
            )
            _save_position(session, source, fetched.position, now)
            uow.commit()
        except IntegrityError:
            # Another worker stored the same message between our check and insert.
            uow.rollback()
            return None
        log.debug("stored message %s from %s", message_id, source)
        return int(message_id)


def ingest(
    source: MailSource,
    uow: UnitOfWork,
    now: Callable[[], datetime],
    *,
    limit: int | None = None,
    dry_run: bool = False,
    on_message: Callable[[FetchedMessage, bool], None] | None = None,
) -> IngestResult:
    """Store every new message from ``source``.

    ``now`` is called for each message (a clock, so a long backfill gets true
    ingest times); ``on_message`` is told of each message and whether it was new.
    With ``dry_run`` nothing is written and ``would_store`` lists what would be.
    """
    result = IngestResult()
    after = None if dry_run else load_position(uow, source.name)
    complete = True
    for fetched in source.fetch(after):
        if limit is not None and len(result.stored) + len(result.would_store) >= limit:
            complete = False
            break
        result.seen += 1
        if dry_run:
            sha = hashlib.sha256(fetched.raw).hexdigest()
            with uow:
                is_new = not _already_stored(
                    uow.session, source.name, fetched, sha, read_envelope(fetched.raw).message_id
                )
            if is_new:
                result.would_store.append(fetched.label or fetched.key)
        else:
            stored_id = store_message(uow, source.name, fetched, now())
            is_new = stored_id is not None
            if stored_id is not None:
                result.stored.append(stored_id)
        if not is_new:
            result.duplicates += 1
        if on_message is not None:
            on_message(fetched, is_new)
    if complete and not dry_run:
        # A source that only knows its resume point at the end (Graph delta link) gives it now.
        final = source.position if isinstance(source, ResumableSource) else None
        with uow:
            _save_position(uow.session, source.name, final, now())
            uow.commit()
    return result
