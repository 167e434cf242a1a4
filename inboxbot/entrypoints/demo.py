"""``inboxbot demo``: the whole job on the bundled sample mailbox, with no set-up."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from inboxbot.adapters.db.engine import safe_url
from inboxbot.adapters.db.models import StoredMessage
from inboxbot.adapters.mail.files import MaildirSource
from inboxbot.domain.calendar import LONDON
from inboxbot.entrypoints.context import state, utc_now
from inboxbot.resources import demo_mailbox
from inboxbot.service.ingest import ingest


def demo(ctx: typer.Context) -> None:
    """Ingest the bundled sample mailbox into the default database and show what was stored."""
    cli = state(ctx)
    settings = cli.settings()
    source = MaildirSource(demo_mailbox())
    result = ingest(source, cli.uow(), utc_now)
    settings.outbox_folder.mkdir(parents=True, exist_ok=True)

    out = Console(highlight=False)
    table = Table(title="Sample mailbox", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("Received (London)")
    table.add_column("From")
    table.add_column("Subject")
    with cli.uow() as uow:
        rows = uow.session.execute(
            select(StoredMessage.id, StoredMessage.received_at, StoredMessage.sender, StoredMessage.subject)
            .where(StoredMessage.source == source.name)
            .order_by(StoredMessage.received_at, StoredMessage.id)
        ).all()
    for message_id, received_at, sender, subject in rows:
        when = received_at.astimezone(LONDON).strftime("%a %d %b %Y %H:%M")
        table.add_row(str(message_id), when, sender or "(none)", subject or "(no subject)")
    out.print(table)
    out.print(
        f"{len(result.stored)} new, {result.duplicates} already stored; "
        f"database: {safe_url(settings.effective_database_url)}"
    )
    out.print(f"outgoing mail folder: {settings.outbox_folder}")
