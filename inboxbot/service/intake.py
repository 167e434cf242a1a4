"""Taking mail in: store, classify, then file each message in the mailbox.

The order matters: the raw bytes are committed first (ingest), the judgement is
recorded next (processing), and only then is the message moved in the mailbox,
so a crash at any point loses nothing and a re-run finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from inboxbot.adapters.db.models import StoredMessage
from inboxbot.domain.classify import ClassifySettings
from inboxbot.domain.kinds import MessageKind, MessageState
from inboxbot.domain.triage import needs_a_person
from inboxbot.service import audit
from inboxbot.service.ingest import IngestResult, ingest
from inboxbot.service.ports import FetchedMessage, FilingSource, MailSource
from inboxbot.service.processing import ProcessResult, classify_stored
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
                StoredMessage.state.in_([MessageState.CLASSIFIED.value, MessageState.QUARANTINED.value]),
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


def take_in(
    source: MailSource,
    uow: UnitOfWork,
    judgement: ClassifySettings,
    now: Callable[[], datetime],
    *,
    filing: Filing | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    on_message: Callable[[FetchedMessage, bool], None] | None = None,
) -> IntakeResult:
    """Store new mail from ``source``, classify it, and file it when configured."""
    ingested = ingest(source, uow, now, limit=limit, dry_run=dry_run, on_message=on_message)
    if dry_run:
        return IntakeResult(ingested)
    # Anything stored earlier but not classified (a crash between the two) is picked up too.
    processed = classify_stored(uow, judgement, now)
    filed, errors = file_messages(uow, source, filing or Filing(), now)
    return IntakeResult(ingested, processed, filed, errors)
