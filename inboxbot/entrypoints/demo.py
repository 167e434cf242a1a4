"""``inboxbot demo``: the whole job on the bundled sample mailbox, with no set-up."""

from __future__ import annotations

from dataclasses import replace

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from inboxbot.adapters.db.engine import safe_url
from inboxbot.adapters.db.models import StoredMessage
from inboxbot.adapters.mail.files import MaildirSource
from inboxbot.config import DirectorySettings, ServiceArea, Settings
from inboxbot.domain.calendar import LONDON
from inboxbot.domain.classify import ClassifySettings
from inboxbot.entrypoints.context import state, utc_now
from inboxbot.entrypoints.mail_cmd import service_keywords
from inboxbot.entrypoints.wiring import acting, composer, transport
from inboxbot.resources import demo_mailbox
from inboxbot.service.classifying import classify_settings
from inboxbot.service.dispatch import dispatch
from inboxbot.service.intake import take_in

# The sample mailbox belongs to the fictional Northmere Borough Council, whose
# gateway stamps Authentication-Results as this.
DEMO_GATEWAY = "mx.northmere.gov.uk"
DEMO_DOMAIN = "northmere.gov.uk"
# The sample council's people and service areas, used when no directory is configured.
DEMO_SERVICE_AREAS = {
    "Adult Social Care": ["care", "carer", "social care", "care package"],
    "Housing Repairs": ["repair", "repairs", "damp", "mould", "leak"],
    "Council Tax": ["council tax", "summons", "single person discount"],
    "Planning": ["planning", "enforcement", "extension"],
}


def _demo_area(name: str, keywords: list[str]) -> ServiceArea:
    slug = name.lower().replace(" ", "-")
    return ServiceArea(
        name=name,
        task_recipients=[f"{slug}.complaints@{DEMO_DOMAIN}"],
        head_of_service=f"Head of {name} <{slug}.head@{DEMO_DOMAIN}>",
        slt_director=f"Executive Director <director.{slug}@{DEMO_DOMAIN}>",
        keywords=keywords,
    )


DEMO_DIRECTORY = DirectorySettings(
    shared_mailbox=f"Resident Experience Team <ombudsman@{DEMO_DOMAIN}>",
    head_of_resident_contact=f"Head of Resident Contact <resident.contact@{DEMO_DOMAIN}>",
    acknowledge={"lgsco": "intake@lgo.org.uk", "hos": "casework@housing-ombudsman.org.uk"},
    service_areas=[_demo_area(name, words) for name, words in DEMO_SERVICE_AREAS.items()],
)


def demo_judgement(settings: Settings) -> ClassifySettings:
    """The configured judgement, trusting the sample council's gateway when none is configured."""
    judgement = classify_settings(settings)
    if judgement.trust.authserv_ids:
        return judgement
    trust = replace(
        judgement.trust, authserv_ids=frozenset({DEMO_GATEWAY}), council_domains=frozenset({DEMO_DOMAIN})
    )
    return replace(judgement, trust=trust)


def _short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def demo(ctx: typer.Context) -> None:
    """Ingest and classify the bundled sample mailbox, then show what the bot decided."""
    cli = state(ctx)
    settings = cli.settings()
    source = MaildirSource(demo_mailbox())
    if not settings.directory.service_areas:
        settings = settings.model_copy(update={"directory": DEMO_DIRECTORY})
    intake = take_in(
        source,
        cli.uow(),
        demo_judgement(settings),
        utc_now,
        service_keywords=service_keywords(settings),
        acting=acting(settings),
    )
    result, processed = intake.ingested, intake.processed
    sender = transport(settings)
    sent = dispatch(cli.uow(), sender, composer(settings), utc_now(), daily_cap=settings.outgoing.daily_cap)

    out = Console(highlight=False)
    table = Table(title="Sample mailbox: what inboxbot decided", title_justify="left", show_lines=False)
    for name, justify in (("#", "right"), ("Received", "left"), ("Subject", "left"), ("Kind", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("Case")
    table.add_column("Due")
    table.add_column("Trusted")
    table.add_column("Rule and evidence")
    with cli.uow() as uow:
        messages = uow.session.scalars(
            select(StoredMessage)
            .where(StoredMessage.source == source.name)
            .order_by(StoredMessage.received_at, StoredMessage.id)
        ).all()
        for message in messages:
            judgement = message.classification or {}
            when = message.received_at.astimezone(LONDON).strftime("%d %b %H:%M")
            due = judgement.get("due") or ""
            if due:
                due = f"{due} ({judgement.get('due_source')})"
            case = judgement.get("ombudsman_ref") or judgement.get("council_ref") or ""
            why = f"{judgement.get('rule') or '-'}: {judgement.get('evidence') or ''}"
            trusted = {True: "yes", False: "no", None: ""}[message.trusted]
            kind = message.kind or message.state
            table.add_row(
                str(message.id), when, _short(message.subject, 38), kind, case, due, trusted, _short(why, 60)
            )
    out.print(table)
    out.print(
        f"{len(result.stored)} new, {result.duplicates} already stored, "
        f"{len(processed.classified)} classified, "
        f"{len(processed.quarantined)} quarantined; database: {safe_url(settings.effective_database_url)}"
    )
    out.print(
        f"{len(intake.registered.opened)} cases opened, {len(intake.registered.linked)} messages registered "
        "against cases; see them with: inboxbot cases, inboxbot case REF"
    )
    out.print(f"{len(sent.sent)} emails written to the outgoing mail folder: {settings.outbox_folder}")
    out.print(
        f"Why a message got its kind: inboxbot explain <file>  (the sample mailbox is in {demo_mailbox()})"
    )
