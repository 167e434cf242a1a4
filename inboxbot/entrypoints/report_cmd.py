"""``inboxbot report`` and ``inboxbot export xlsx``: reports as files, and as emails through the outbox."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer
from sqlalchemy import select

from inboxbot.adapters.db.models import OutboxItem
from inboxbot.adapters.report_email import Rendered, render_annual, render_kpis
from inboxbot.adapters.spreadsheet import write_ombudsman_spreadsheet
from inboxbot.config import Settings
from inboxbot.domain.calendar import LONDON
from inboxbot.domain.kinds import OutboxStatus
from inboxbot.domain.periods import Period, parse_period, previous_quarter, year
from inboxbot.entrypoints.calendar_cmd import parse_date
from inboxbot.entrypoints.context import CliState, UsageProblem, state, utc_now
from inboxbot.entrypoints.wiring import composer, transport
from inboxbot.service import audit
from inboxbot.service.dispatch import dispatch
from inboxbot.service.kpis import annual_report, quarterly_kpis
from inboxbot.service.overdue import area_report_email, overdue_report, ret_report_email
from inboxbot.service.spreadsheet_rows import case_rows

export_app = typer.Typer(help="Export the case register.", no_args_is_help=True)
Which = Literal["weekly", "daily", "quarterly", "annual"]


def _today(text: str | None) -> date:
    return parse_date(text, "--today") if text else utc_now().astimezone(LONDON).date()


def _write(path: Path, subject: str, text: str, html: str) -> None:
    """A report file: HTML for .html/.htm, plain text otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = html if path.suffix.lower() in (".html", ".htm") else f"{subject}\n\n{text}"
    path.write_text(body, encoding="utf-8")


def _queue(
    cli: CliState,
    key: str,
    recipients: list[str],
    subject: str,
    text: str,
    html: str,
    images: dict[str, bytes] | None = None,
) -> bool:
    """Put a report in the outbox (once per key); False when it was there already."""
    now = utc_now()
    with cli.uow() as uow:
        if uow.session.scalar(select(OutboxItem.id).where(OutboxItem.dedupe_key == key)) is not None:
            return False
        headers = (
            {"images": {cid: base64.b64encode(png).decode() for cid, png in images.items()}}
            if images
            else None
        )
        uow.session.add(
            OutboxItem(
                dedupe_key=key,
                purpose="report",
                created_at=now,
                recipients=sorted(set(recipients)),
                subject=subject,
                body_text=text,
                body_html=html,
                headers=headers,
                status=OutboxStatus.PENDING.value,
            )
        )
        audit.record(uow.session, now, "report queued", key=key, to=sorted(set(recipients)))
        uow.commit()
    return True


def send_outbox(cli: CliState, settings: Settings) -> int:
    """Send everything due in the outbox (reports carry their charts as inline images)."""
    sender = transport(settings)
    try:
        return len(
            dispatch(
                cli.uow(), sender, composer(settings), utc_now(), daily_cap=settings.outgoing.daily_cap
            ).sent
        )
    finally:
        sender.close()


def queue_overdue(cli: CliState, settings: Settings, which: str, day: date) -> int:
    """Queue the weekly (areas and RET) or daily (areas that want it) overdue report for ``day``."""
    directory = settings.directory
    report = overdue_report(cli.uow(), settings.working_calendar(), day)
    queued = 0
    for area in directory.service_areas:
        if which == "weekly" or area.daily_report:
            subject, text, html = area_report_email(report, area.name)
            who = [*area.task_recipients, area.head_of_service]
            queued += _queue(cli, f"report:{which}:{day}:{area.name}", who, subject, text, html)
    ret = [a for a in (directory.shared_mailbox, directory.head_of_resident_contact) if a]
    if which == "weekly" and ret:
        subject, text, html = ret_report_email(report)
        queued += _queue(cli, f"report:weekly:{day}:ret", ret, subject, text, html)
    return queued


def render_period(cli: CliState, settings: Settings, which: str, chosen: Period) -> Rendered:
    """The quarterly KPI or annual report for ``chosen``."""
    if which == "quarterly":
        return render_kpis(quarterly_kpis(cli.uow(), settings.working_calendar(), chosen))
    return render_annual(annual_report(cli.uow(), settings.working_calendar(), chosen))


def queue_period(cli: CliState, settings: Settings, which: str, chosen: Period) -> int:
    """Queue the quarterly or annual report for ``chosen`` to RET, the Head of Resident Contact and SLT."""
    directory = settings.directory
    subject, text, html, images = render_period(cli, settings, which, chosen)
    ret = [a for a in (directory.shared_mailbox, directory.head_of_resident_contact) if a]
    slt = sorted({area.slt_director for area in directory.service_areas})
    return int(_queue(cli, f"report:{which}:{chosen.label}", [*ret, *slt], subject, text, html, images))


def report_cmd(
    ctx: typer.Context,
    which: Annotated[Which, typer.Argument(help="weekly, daily, quarterly or annual.")],
    period: Annotated[
        str | None,
        typer.Option("--period", help="quarterly: 2026-Q1; annual: 2026 or 2025-26. Default: the last one."),
    ] = None,
    today: Annotated[
        str | None, typer.Option("--today", help="weekly/daily: report as of this date.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the report here (.html or text).")] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Email it (through the outbox) to those it is for.")
    ] = False,
) -> None:
    """Make a report: weekly/daily overdue tasks per service area and for RET, quarterly KPIs, annual."""
    cli = state(ctx)
    settings = cli.settings()
    if which in ("weekly", "daily"):
        day = _today(today)
        subject, text, html = ret_report_email(overdue_report(cli.uow(), settings.working_calendar(), day))
        typer.echo(text)
        if out:
            _write(out, subject, text, html)
        if send:
            queued = queue_overdue(cli, settings, which, day)
            typer.echo(
                f"queued {queued} report emails; sent {send_outbox(cli, settings)} emails from the outbox"
            )
        return
    chosen = _period(which, period)
    subject, text, html, images = render_period(cli, settings, which, chosen)
    typer.echo(text)
    if out:
        _write(out, subject, text, html)
        for cid, png in images.items():
            out.with_name(f"{out.stem}-{cid.split('@')[0]}.png").write_bytes(png)
    if send:
        queued = queue_period(cli, settings, which, chosen)
        typer.echo(f"queued {queued} report emails; sent {send_outbox(cli, settings)} emails from the outbox")


def _period(which: str, text: str | None) -> Period:
    if text:
        try:
            return parse_period(text)
        except ValueError as exc:
            raise UsageProblem(f"--period: {exc}") from None
    today = utc_now().astimezone(LONDON).date()
    return previous_quarter(today) if which == "quarterly" else year(today.year - 1)


@export_app.command("xlsx")
def export_xlsx(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write; default DATA_DIR/ombudsman-cases.xlsx.")
    ] = None,
) -> None:
    """Write the Ombudsman spreadsheet: one row per case."""
    cli = state(ctx)
    settings = cli.settings()
    path = out or settings.data_dir / "ombudsman-cases.xlsx"
    rows = case_rows(cli.uow(), settings.working_calendar(), utc_now().astimezone(LONDON).date())
    written = write_ombudsman_spreadsheet(rows, path)
    typer.echo(f"{len(rows)} cases written to {written}")
