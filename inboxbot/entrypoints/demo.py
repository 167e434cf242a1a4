"""``inboxbot demo``: the whole job on the bundled sample mailbox, with no set-up."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from inboxbot.adapters.db.engine import safe_url
from inboxbot.adapters.db.models import OutboxItem, StoredMessage
from inboxbot.adapters.mail.files import MaildirSource
from inboxbot.adapters.report_email import render_kpis
from inboxbot.adapters.sending import FileTransport
from inboxbot.adapters.spreadsheet import write_ombudsman_spreadsheet
from inboxbot.config import DirectorySettings, ServiceArea, Settings
from inboxbot.domain.calendar import LONDON
from inboxbot.domain.classify import ClassifySettings
from inboxbot.domain.periods import quarter_of
from inboxbot.entrypoints.context import CliState, state, utc_now
from inboxbot.entrypoints.mail_cmd import service_keywords
from inboxbot.entrypoints.wiring import acting, composer, invites, sending_rules
from inboxbot.resources import demo_mailbox
from inboxbot.service.classifying import classify_settings
from inboxbot.service.kpis import quarterly_kpis
from inboxbot.service.overdue import overdue_report, ret_report_email
from inboxbot.service.replay import ClockedSource, replay
from inboxbot.service.spreadsheet_rows import case_rows

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
    """Play the bundled sample mailbox's story (March-April 2026) with a simulated clock: classify,
    register, give tasks, remind, invite, escalate and close, writing every email to the outbox folder."""
    cli = state(ctx)
    settings = cli.settings()
    if not settings.directory.service_areas:
        settings = settings.model_copy(update={"directory": DEMO_DIRECTORY})
    source = ClockedSource(MaildirSource(demo_mailbox()))
    calendar = settings.working_calendar()
    last = source.last_arrival
    start = (
        date(2026, 3, 2) if last is None else min(r.astimezone(LONDON).date() for r, _ in source.arrivals())
    )
    end = calendar.add_working_days((last or utc_now()).astimezone(LONDON).date(), 5)
    sender = FileTransport(settings.outbox_folder, clock=lambda: source.now)
    err = Console(stderr=True)
    with err.status("playing the sample mailbox's story...") as status:
        story = replay(
            source,
            cli.uow(),
            demo_judgement(settings),
            acting(settings),
            invites(),
            sending_rules(settings),
            sender,
            composer(settings),
            start=start,
            end=end,
            calendar=calendar,
            keywords=service_keywords(settings),
            on_day=lambda day: status.update(f"playing the story: {day:%a %d %b %Y}"),
        )
    reports = _write_reports(cli, settings, date(2026, 4, 6))
    out = Console(highlight=False)
    out.print(_classification_table(cli, source.name))
    out.print(_sent_table(cli))
    out.print(
        f"Played {story.days} days ({start:%d %b} to {end:%d %b %Y}, simulated): "
        f"{story.messages} new messages, "
        f"{len(story.sent)} emails written to {settings.outbox_folder}; database: "
        f"{safe_url(settings.effective_database_url)}"
    )
    out.print("Reports written next to the outbox: " + ", ".join(str(p) for p in reports))
    out.print("Look further with: inboxbot cases, inboxbot case 25004217, inboxbot tasks, inboxbot triage")
    out.print(
        f"Why a message got its kind: inboxbot explain <file> (the sample mailbox is in {demo_mailbox()})"
    )


def _classification_table(cli: CliState, source: str) -> Table:
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
            .where(StoredMessage.source == source)
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
    return table


def _sent_table(cli: CliState) -> Table:
    table = Table(title="What went to whom, and when (simulated clock)", title_justify="left")
    table.add_column("Sent")
    table.add_column("To")
    table.add_column("Subject")
    with cli.uow() as uow:
        for item in uow.session.scalars(
            select(OutboxItem).where(OutboxItem.status == "sent").order_by(OutboxItem.sent_at, OutboxItem.id)
        ):
            when = item.sent_at.astimezone(LONDON).strftime("%a %d %b %H:%M") if item.sent_at else ""
            invite = " (+ invite)" if item.ics else ""
            table.add_row(when, _short(", ".join(item.recipients), 44), _short(item.subject, 70) + invite)
    return table


def _write_reports(cli: CliState, settings: Settings, monday: date) -> list[Path]:
    """The Monday report, the spreadsheet and the quarterly KPIs (with charts) as files."""
    folder = settings.data_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    calendar = settings.working_calendar()
    _subject, _text, html = ret_report_email(overdue_report(cli.uow(), calendar, monday))
    weekly = folder / f"overdue-{monday.isoformat()}.html"
    weekly.write_text(html, encoding="utf-8")
    sheet = write_ombudsman_spreadsheet(
        case_rows(cli.uow(), calendar, monday), folder / "ombudsman-cases.xlsx"
    )
    quarter = quarter_of(date(2026, 3, 31))
    _subject, _qtext, qhtml, images = render_kpis(quarterly_kpis(cli.uow(), calendar, quarter))
    for cid, png in images.items():
        name = f"kpis-2026-Q1-{cid.split('@')[0]}.png"
        (folder / name).write_bytes(png)
        qhtml = qhtml.replace(f"cid:{cid}", name)
    kpis = folder / "kpis-2026-Q1.html"
    kpis.write_text(qhtml, encoding="utf-8")
    return [weekly, sheet, kpis]
