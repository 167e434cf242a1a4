"""Taking mail in: store, classify, register, then file each message in the mailbox.

The order matters: the raw bytes are committed first (ingest), the judgement is
recorded next (processing), then the message is registered against its case and
acted on, and only then is it moved in the mailbox, so a crash at any point loses
nothing and a re-run finishes the job.

The steps overlap: while the source is still being read, messages already stored
are being classified (in worker processes, for a backfill). Registering waits
until everything is stored, because it goes oldest first over all of it, and
then takes each message as soon as its judgement is recorded.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import StoredMessage
from inboxbot.domain.classify import ClassifySettings
from inboxbot.domain.kinds import MessageKind, MessageState
from inboxbot.domain.triage import needs_a_person
from inboxbot.service import audit
from inboxbot.service.actions import Acting
from inboxbot.service.ingest import IngestResult, ingest, record_source_error
from inboxbot.service.ports import ClosableSource, FetchedMessage, FilingSource, MailSource, WatchableSource
from inboxbot.service.processing import Judging, ProcessResult, Workers, in_order, stored_ids
from inboxbot.service.register import RegisterResult, register_classified
from inboxbot.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Filing:
    """Where to file mail after processing; None leaves it where it is."""

    processed_folder: str | None = None
    triage_folder: str | None = None

    def folder_for(self, message: StoredMessage) -> str | None:
        """The folder ``message`` belongs in."""
        kind = MessageKind(message.kind) if message.kind else None
        quarantined = message.state == MessageState.QUARANTINED.value
        if needs_a_person(kind, message.trusted, quarantined):
            return self.triage_folder
        return self.processed_folder


@dataclass
class IntakeResult:
    """What one intake run did."""

    ingested: IngestResult
    processed: ProcessResult = field(default_factory=ProcessResult)
    registered: RegisterResult = field(default_factory=RegisterResult)
    filed: int = 0
    filing_errors: list[str] = field(default_factory=list)


def file_messages(
    uow: UnitOfWork, source: MailSource, filing: Filing, now: Callable[[], datetime]
) -> tuple[int, list[str]]:
    """Move every processed message of ``source`` not yet filed into its folder.

    A message that cannot be moved stays where it is and is tried again next time.
    """
    if not isinstance(source, FilingSource) or not (filing.processed_folder or filing.triage_folder):
        return 0, []
    with uow:
        pending = uow.session.scalars(
            select(StoredMessage.id).where(
                StoredMessage.source == source.name,
                StoredMessage.moved_to.is_(None),
                StoredMessage.state.in_(
                    [
                        MessageState.CLASSIFIED.value,
                        MessageState.PROCESSED.value,
                        MessageState.QUARANTINED.value,
                    ]
                ),
            )
        ).all()
    filed, errors = 0, []
    for message_id in pending:
        with uow:
            message = uow.session.get(StoredMessage, message_id)
            if message is None:
                continue
            folder = filing.folder_for(message)
            if folder is None:
                continue
            try:
                source.move(message.source_key, folder)
            except Exception as exc:  # one stuck message must not stop the others
                errors.append(f"message {message.id}: {exc}")
                log.warning("could not file message %s in %s: %s", message.id, folder, exc)
                continue
            message.moved_to = folder
            audit.record(uow.session, now(), "message filed", message_id=message.id, folder=folder)
            uow.commit()
            filed += 1
    return filed, errors


def _stored_from(uow: UnitOfWork, source: str) -> int:
    """How many messages were stored from ``source`` before."""
    with uow:
        return (
            uow.session.scalar(
                select(func.count()).select_from(StoredMessage).where(StoredMessage.source == source)
            )
            or 0
        )


def _registration_order(session: Session) -> list[int]:
    """Every message still to be registered (classified, or stored and about to be), oldest first."""
    states = [MessageState.STORED.value, MessageState.CLASSIFIED.value]
    return list(
        session.scalars(
            select(StoredMessage.id)
            .where(StoredMessage.state.in_(states))
            .order_by(StoredMessage.received_at, StoredMessage.id)
        )
    )


def take_in(
    source: MailSource,
    uow: UnitOfWork,
    judgement: ClassifySettings,
    now: Callable[[], datetime],
    *,
    filing: Filing | None = None,
    service_keywords: Mapping[str, Sequence[str]] | None = None,
    acting: Acting | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    on_message: Callable[[FetchedMessage, bool], None] | None = None,
    workers: Workers | None = None,
    on_registered: Callable[[int, int], None] | None = None,
    holds: int | None = None,
) -> IntakeResult:
    """Store new mail from ``source``, classify it, register it against cases, and file it.

    ``workers`` says how many processes may classify (none: this one does);
    ``on_message`` is told of each message read, ``on_registered`` how many of how
    many have been registered (or passed over, when quarantined). ``holds``, how many
    messages the source holds when that is known, lets a backfill start its workers
    before the first message arrives.
    """
    if dry_run:
        return IntakeResult(ingest(source, uow, now, limit=limit, dry_run=True, on_message=on_message))
    with Judging(uow, judgement, now, workers) as judging:
        if holds is not None:
            judging.expect(holds - _stored_from(uow, source.name))
        ingested = ingest(source, uow, now, limit=limit, on_message=on_message, on_stored=judging.add)
        # Anything stored or classified earlier but not finished (a crash between steps) is picked up too.
        judging.add_ids(stored_ids(uow))
        with uow:
            order = _registration_order(uow.session)
        judging.prioritise(order)
        registered = register_classified(
            uow,
            now,
            service_keywords or {},
            acting,
            message_ids=in_order(judging, order),
            on_done=None if on_registered is None else lambda done: on_registered(done, len(order)),
            threads=judging.threads,
        )
        processed = judging.finish()
    filed, errors = file_messages(uow, source, filing or Filing(), now)
    return IntakeResult(ingested, processed, registered, filed, errors)


def watch(
    open_mailbox: Callable[[], MailSource],
    uow: UnitOfWork,
    judgement: ClassifySettings,
    now: Callable[[], datetime],
    stop: threading.Event,
    *,
    filing: Filing | None = None,
    service_keywords: Mapping[str, Sequence[str]] | None = None,
    acting: Acting | None = None,
    poll_seconds: float = 60.0,
    max_backoff: float = 300.0,
    on_round: Callable[[IntakeResult], None] | None = None,
    workers: Workers | None = None,
) -> None:
    """Take in mail until ``stop`` is set: IDLE where the source can push, polling otherwise.

    A lost connection or an unreadable mailbox is logged and recorded for
    ``inboxbot status``, then retried with a growing pause; new mail that came in
    meanwhile is taken on the next round, because ingest resumes from its position.
    """
    failures = 0
    source: MailSource | None = None
    while not stop.is_set():
        try:
            if source is None:
                source = open_mailbox()
            result = take_in(
                source,
                uow,
                judgement,
                now,
                filing=filing,
                service_keywords=service_keywords,
                acting=acting,
                workers=workers,
            )
            failures = 0
            if on_round is not None:
                on_round(result)
            if isinstance(source, WatchableSource):
                # Wake every few seconds (IDLE is simply re-issued) so a stop request is noticed promptly.
                source.wait_for_new(min(poll_seconds, 10.0))
            else:
                stop.wait(poll_seconds)
        except Exception as exc:  # the watcher must outlive any one fault of the server
            failures += 1
            pause = min(max_backoff, 2.0 ** min(failures, 10))
            name = source.name if source is not None else "mailbox"
            log.warning("mailbox %s: %s; trying again in %.0f s", name, exc, pause)
            record_source_error(uow, name, f"{type(exc).__name__}: {exc}", now())
            if isinstance(source, ClosableSource):
                with contextlib.suppress(Exception):
                    source.close()
            source = None
            stop.wait(pause)
    if isinstance(source, ClosableSource):
        source.close()
