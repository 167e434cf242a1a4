"""Taking messages from a mail source into the database, raw bytes first.

Messages are stored in batches, each committed in one transaction together with
the source's resume point, before anything else is done with them, so a crash or
a bad message later in the pipeline cannot lose one. A message already stored
(same bytes, same place in the same source, or same Message-ID with the same
body) is skipped, so re-running is harmless.

The source is read in a thread of its own: waiting for the server overlaps
storing, and the thread never reads more than a few batches ahead.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import MessageBody, SourcePosition, StoredMessage, table
from inboxbot.domain.envelope import Envelope, read_envelope
from inboxbot.domain.kinds import MessageState
from inboxbot.service import audit
from inboxbot.service.ports import FetchedMessage, MailSource, ResumableSource
from inboxbot.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# Messages stored per transaction. A batch is stored as soon as the source has nothing
# more ready, so a slow source or a trickle of new mail is never held back to fill one.
STORE_BATCH = 100
# How many messages the reading thread may hold ahead of storing (bounds memory).
READ_AHEAD = STORE_BATCH


@dataclass
class IngestResult:
    """What one ingest run did."""

    stored: list[int] = field(default_factory=list)  # ids of newly stored messages
    would_store: list[str] = field(default_factory=list)  # dry run: keys that would be stored
    duplicates: int = 0
    seen: int = 0


@dataclass(frozen=True)
class NewMessage:
    """A message just stored, with its bytes still at hand for classifying."""

    message_id: int
    raw: bytes
    received_at: datetime


def _body_digest(raw: bytes) -> str:
    """Hash of everything after the header block: the same message delivered twice
    differs only in its trace headers."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        _head, found, body = raw.partition(separator)
        if found:
            return hashlib.sha256(body).hexdigest()
    return hashlib.sha256(b"").hexdigest()


# Statements built once: a 10,000-message backfill runs each of them many times, and
# building them anew each time (rather than binding new values) was most of the cost.
_MESSAGES = table(StoredMessage)
_BODIES = table(MessageBody)
_POSITIONS = table(SourcePosition)
_FIND_SAME = select(_MESSAGES.c.id).where(
    or_(
        _MESSAGES.c.sha256 == bindparam("sha"),
        and_(_MESSAGES.c.source == bindparam("source"), _MESSAGES.c.source_key == bindparam("key")),
    )
)
_WITH_BODIES = _MESSAGES.join(_BODIES, _BODIES.c.message_id == _MESSAGES.c.id)
_FIND_TWINS = (
    select(_BODIES.c.raw).select_from(_WITH_BODIES).where(_MESSAGES.c.message_id == bindparam("message_id"))
)
_KNOWN_SHAS = select(_MESSAGES.c.sha256).where(_MESSAGES.c.sha256.in_(bindparam("shas", expanding=True)))
_KNOWN_KEYS = select(_MESSAGES.c.source_key).where(
    _MESSAGES.c.source == bindparam("source"), _MESSAGES.c.source_key.in_(bindparam("keys", expanding=True))
)
_KNOWN_TWINS = (
    select(_MESSAGES.c.message_id, _BODIES.c.raw)
    .select_from(_WITH_BODIES)
    .where(_MESSAGES.c.message_id.in_(bindparam("message_ids", expanding=True)))
)
_INSERT_MESSAGE = insert(_MESSAGES).returning(_MESSAGES.c.id)
# Each row comes back with its key ((source, source_key) is unique), not in the order given:
# SQLite can only keep that order by inserting a batch one row per statement.
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.source_key, _MESSAGES.c.id)
_INSERT_BODIES = insert(_BODIES)
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


def _message_row(
    source: str, fetched: FetchedMessage, sha: str, envelope: Envelope, now: datetime
) -> dict[str, object]:
    return {
        "source": source,
        "source_key": fetched.key,
        "message_id": envelope.message_id,
        "sha256": sha,
        "size": len(fetched.raw),
        "received_at": fetched.received_at or envelope.received_at or now,
        "ingested_at": now,
        "subject": envelope.subject,
        "sender": envelope.sender,
        "state": MessageState.STORED.value,
    }


def _record_stored(session: Session, source: str, key: str, message_id: int, now: datetime) -> None:
    audit.record(session, now, "message stored", message_id=message_id, source=source, key=key)


def _store_one(uow: UnitOfWork, source: str, fetched: FetchedMessage, now: datetime) -> NewMessage | None:
    sha = hashlib.sha256(fetched.raw).hexdigest()
    envelope = read_envelope(fetched.raw)
    with uow:
        session = uow.session
        if _already_stored(session, source, fetched, sha, envelope.message_id):
            if fetched.position is not None:
                _save_position(session, source, fetched.position, now)
                uow.commit()
            return None
        connection = session.connection()
        row = _message_row(source, fetched, sha, envelope, now)
        try:
            message_id = connection.execute(_INSERT_MESSAGE, row).scalar_one()
            connection.execute(_INSERT_BODIES, {"message_id": message_id, "raw": fetched.raw})
            _record_stored(session, source, fetched.key, message_id, now)
            _save_position(session, source, fetched.position, now)
            uow.commit()
        except IntegrityError:
            # Another worker stored the same message between our check and insert.
            uow.rollback()
            return None
        log.debug("stored message %s from %s", message_id, source)
        return NewMessage(int(message_id), fetched.raw, row["received_at"])  # type: ignore[arg-type]


def store_message(uow: UnitOfWork, source: str, fetched: FetchedMessage, now: datetime) -> int | None:
    """Store one message and commit, with the source's new resume point in the same
    transaction; its id, or None when it was already stored."""
    stored = _store_one(uow, source, fetched, now)
    return None if stored is None else stored.message_id


@dataclass
class _Seen:
    """What is known to be stored already: in the database, or earlier in this run."""

    shas: set[str] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)
    bodies: dict[str, set[str]] = field(default_factory=dict)  # Message-ID -> body digests

    def holds(self, fetched: FetchedMessage, sha: str, message_id: str | None) -> bool:
        if sha in self.shas or fetched.key in self.keys:
            return True
        if message_id is None or message_id not in self.bodies:
            return False  # the body is hashed only when this Message-ID is known already (seldom)
        return _body_digest(fetched.raw) in self.bodies[message_id]

    def add(self, fetched: FetchedMessage, sha: str, message_id: str | None) -> None:
        self.shas.add(sha)
        self.keys.add(fetched.key)
        if message_id is not None:
            self.bodies.setdefault(message_id, set()).add(_body_digest(fetched.raw))


def _seen_in_database(
    session: Session, source: str, batch: Sequence[tuple[FetchedMessage, str, Envelope]]
) -> _Seen:
    """Which of ``batch`` the database already holds: three queries for the whole batch."""
    connection = session.connection()
    seen = _Seen()
    seen.shas = set(connection.execute(_KNOWN_SHAS, {"shas": [sha for _, sha, _ in batch]}).scalars())
    seen.keys = set(
        connection.execute(
            _KNOWN_KEYS, {"source": source, "keys": [fetched.key for fetched, _, _ in batch]}
        ).scalars()
    )
    # Only messages not already matched need their Message-ID twins' bodies compared.
    unmatched = {
        envelope.message_id
        for fetched, sha, envelope in batch
        if envelope.message_id is not None and sha not in seen.shas and fetched.key not in seen.keys
    }
    if unmatched:
        for message_id, raw in connection.execute(_KNOWN_TWINS, {"message_ids": sorted(unmatched)}):
            seen.bodies.setdefault(message_id, set()).add(_body_digest(raw))
    return seen


@dataclass
class _Batch:
    """One batch decided: what is new, how far the source was consumed."""

    new: list[tuple[FetchedMessage, str, Envelope]]
    consumed: list[FetchedMessage]
    is_new: list[bool]


def _decide(
    session: Session,
    source: str,
    batch: Sequence[FetchedMessage],
    earlier: _Seen,
    room: int | None,
) -> _Batch:
    """Which messages of ``batch`` are new, stopping once ``room`` new ones are found."""
    facts = [
        (fetched, hashlib.sha256(fetched.raw).hexdigest(), read_envelope(fetched.raw)) for fetched in batch
    ]
    stored = _seen_in_database(session, source, facts)
    decided = _Batch([], [], [])
    for fetched, sha, envelope in facts:
        if room is not None and len(decided.new) >= room:
            break
        new = not (
            stored.holds(fetched, sha, envelope.message_id)
            or earlier.holds(fetched, sha, envelope.message_id)
        )
        if new:
            decided.new.append((fetched, sha, envelope))
            earlier.add(fetched, sha, envelope.message_id)
        decided.consumed.append(fetched)
        decided.is_new.append(new)
    return decided


def _write(
    uow: UnitOfWork, source: str, decided: _Batch, now: Callable[[], datetime]
) -> list[NewMessage] | None:
    """Insert the new messages of a batch and the resume point, in one transaction;
    None when another process stored one of them meanwhile (the caller then goes one by one)."""
    session = uow.session
    connection = session.connection()
    stored: list[NewMessage] = []
    if decided.new:
        rows = [_message_row(source, fetched, sha, envelope, now()) for fetched, sha, envelope in decided.new]
        try:
            by_key = dict(connection.execute(_INSERT_MESSAGES, rows).tuples().all())
            ids = [by_key[fetched.key] for fetched, _, _ in decided.new]
            bodies = [
                {"message_id": i, "raw": fetched.raw}
                for (fetched, _, _), i in zip(decided.new, ids, strict=True)
            ]
            connection.execute(_INSERT_BODIES, bodies)
        except IntegrityError:
            uow.rollback()
            return None
        for (fetched, _, _), message_id, row in zip(decided.new, ids, rows, strict=True):
            _record_stored(session, source, fetched.key, message_id, row["ingested_at"])  # type: ignore[arg-type]
        stored = [
            NewMessage(int(message_id), fetched.raw, row["received_at"])  # type: ignore[arg-type]
            for (fetched, _, _), message_id, row in zip(decided.new, ids, rows, strict=True)
        ]
    positions = [fetched.position for fetched in decided.consumed if fetched.position is not None]
    if positions or decided.new:
        _save_position(session, source, positions[-1] if positions else None, now())
    uow.commit()
    return stored


def _one_by_one(
    uow: UnitOfWork, source: str, decided: _Batch, now: Callable[[], datetime]
) -> list[NewMessage]:
    """The slow way, for a batch that met a message another process stored meanwhile."""
    stored: list[NewMessage] = []
    for index, fetched in enumerate(decided.consumed):
        if decided.is_new[index]:
            one = _store_one(uow, source, fetched, now())
            decided.is_new[index] = one is not None
            if one is not None:
                stored.append(one)
    positions = [fetched.position for fetched in decided.consumed if fetched.position is not None]
    if positions:
        with uow:
            _save_position(uow.session, source, positions[-1], now())
            uow.commit()
    return stored


def _read_ahead(
    source: MailSource, after: str | None, stop: threading.Event
) -> Generator[FetchedMessage | None, None, None]:
    """``source.fetch(after)`` run in a thread, READ_AHEAD messages at most ahead of the caller.

    Yields None whenever nothing is ready yet, so the caller can store what it holds
    instead of waiting; an error of the source is raised here, after every message
    read before it.
    """
    ready: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=READ_AHEAD)

    def put(item: tuple[str, object]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        messages = source.fetch(after)
        try:
            for fetched in messages:
                if not put(("message", fetched)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the caller, who raises it in its own thread
            put(("error", exc))
        finally:
            close = getattr(messages, "close", None)
            if callable(close):
                close()

    reader = threading.Thread(target=read, name=f"read {source.name}", daemon=True)
    reader.start()
    try:
        while True:
            try:
                what, item = ready.get_nowait()
            except queue.Empty:
                yield None
                what, item = ready.get()
            if what == "end":
                return
            if what == "error":
                assert isinstance(item, BaseException)
                raise item
            assert isinstance(item, FetchedMessage)
            yield item
    finally:
        stop.set()
        reader.join()


def _batches(
    source: MailSource, after: str | None, size: int, stop: threading.Event
) -> Generator[list[FetchedMessage], None, None]:
    """The source's messages in batches of at most ``size``; a batch is handed over early
    when the source has nothing more ready."""
    messages = _read_ahead(source, after, stop)
    batch: list[FetchedMessage] = []
    try:
        while True:
            try:
                fetched = next(messages)
            except StopIteration:
                break
            except BaseException:
                # What was read before the source failed is still stored; then the error goes up.
                if batch:
                    yield batch
                raise
            if fetched is not None:
                batch.append(fetched)
            if batch and (fetched is None or len(batch) >= size):
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        messages.close()


def ingest(
    source: MailSource,
    uow: UnitOfWork,
    now: Callable[[], datetime],
    *,
    limit: int | None = None,
    dry_run: bool = False,
    on_message: Callable[[FetchedMessage, bool], None] | None = None,
    on_stored: Callable[[list[NewMessage]], None] | None = None,
    batch_size: int = STORE_BATCH,
) -> IngestResult:
    """Store every new message from ``source``.

    ``now`` is called for each message (a clock, so a long backfill gets true
    ingest times); ``on_message`` is told of each message and whether it was new;
    ``on_stored`` is handed each batch of new messages once it is committed, bytes
    and all, so they can be classified without reading them back.
    With ``dry_run`` nothing is written and ``would_store`` lists what would be.
    """
    result = IngestResult()
    after = None if dry_run else load_position(uow, source.name)
    complete = True
    # What a dry run would have stored so far. A real run only needs what it is storing in
    # the batch at hand: earlier batches are committed, so the database answers for them.
    earlier = _Seen()
    stop = threading.Event()
    batches = _batches(source, after, batch_size, stop)
    try:
        for batch in batches:
            room = None if limit is None else limit - len(result.stored) - len(result.would_store)
            if room == 0:
                complete = False  # the limit is reached and the source holds more
                break
            if not dry_run:
                earlier = _Seen()
            with uow:
                decided = _decide(uow.session, source.name, batch, earlier, room)
                stored = None if dry_run else _write(uow, source.name, decided, now)
            if dry_run:
                result.would_store.extend(fetched.label or fetched.key for fetched, _, _ in decided.new)
            elif stored is None:
                stored = _one_by_one(uow, source.name, decided, now)
            if stored is not None:
                result.stored.extend(m.message_id for m in stored)
            result.seen += len(decided.consumed)
            result.duplicates += decided.is_new.count(False)
            if on_message is not None:
                for fetched, is_new in zip(decided.consumed, decided.is_new, strict=True):
                    on_message(fetched, is_new)
            if stored and on_stored is not None:
                on_stored(stored)
            if len(decided.consumed) < len(batch):
                complete = False
                break
    finally:
        batches.close()
    if complete and not dry_run:
        # A source that only knows its resume point at the end (Graph delta link) gives it now.
        final = source.position if isinstance(source, ResumableSource) else None
        with uow:
            _save_position(uow.session, source.name, final, now())
            uow.commit()
    return result
