"""``inboxbot cases`` and ``inboxbot case``: the case register and each case's timeline."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import Case, Event, StoredMessage
from inboxbot.domain.calendar import LONDON
from inboxbot.domain.kinds import CaseStatus
from inboxbot.domain.references import canonical_lgsco
from inboxbot.domain.triage import HARMLESS
from inboxbot.entrypoints import complaints_cmd
from inboxbot.entrypoints.context import UsageProblem, state, utc_now
from inboxbot.entrypoints.wiring import acting
from inboxbot.service.replies import assign_service_area


def _when(value: Any) -> str:
    return value.astimezone(LONDON).strftime("%d %b %Y %H:%M") if value else ""


def find_case(session: Session, ref: str) -> Case:
    """The case named by an Ombudsman reference, a council reference or #id; UsageProblem if none."""
    text = ref.strip()
    if text.startswith("#") and text[1:].isdigit():
        case = session.get(Case, int(text[1:]))
    else:
        lgsco = canonical_lgsco(text)
        wanted = [text, text.upper()] + ([lgsco] if lgsco else [])
        case = session.scalars(
            select(Case)
            .where((Case.ombudsman_ref.in_(wanted)) | (Case.council_ref.in_(wanted)))
            .order_by(Case.opened_at.desc())
        ).first()
    if case is None:
        raise UsageProblem(f"no case {ref!r} (give an Ombudsman reference, a council reference or #id)")
    return case


def _row(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "ombudsman": case.ombudsman,
        "ombudsman_ref": case.ombudsman_ref,
        "council_ref": case.council_ref,
        "service_area": case.service_area,
        "status": case.status,
        "opened": case.opened_at.isoformat(),
        "next_due": case.next_due.isoformat() if case.next_due else None,
        "subject": case.subject,
    }


def cases_cmd(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[import FILE.csv]", help="import FILE.csv: load the council's complaints register."
        ),
    ] = None,
    only_open: Annotated[bool, typer.Option("--open", help="Only cases still open.")] = False,
    area: Annotated[str | None, typer.Option("--area", help="Only this service area.")] = None,
    triage: Annotated[bool, typer.Option("--triage", help="Only cases with no service area yet.")] = False,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open cases with a task past its due date.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per case per line.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With import: only say what would change.")
    ] = False,
) -> None:
    """List the cases; `cases import FILE.csv` loads the council's complaints register."""
    if words:
        if words[0] != "import":
            raise UsageProblem(f"unknown action {words[0]!r} (usage: inboxbot cases import FILE.csv)")
        complaints_cmd.cases_import(ctx, words[1:], dry_run)
        return
    if dry_run:
        raise UsageProblem("--dry-run goes with: inboxbot cases import FILE.csv --dry-run")
    with state(ctx).uow() as uow:
        query = select(Case).order_by(Case.opened_at, Case.id)
        if only_open:
            query = query.where(Case.status == CaseStatus.OPEN.value)
        if area:
            query = query.where(Case.service_area == area)
        if triage:
            query = query.where(Case.service_area.is_(None))
        if overdue:
            today = utc_now().astimezone(LONDON).date()
            query = query.where(Case.status == CaseStatus.OPEN.value, Case.next_due < today)
        rows = [_row(case) for case in uow.session.scalars(query)]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table("#", "Ombudsman", "Reference", "Council ref", "Service area", "Status", "Opened", "Subject")
    for row in rows:
        table.add_row(
            str(row["id"]),
            (row["ombudsman"] or "").upper(),
            row["ombudsman_ref"] or "",
            row["council_ref"] or "",
            row["service_area"] or "(needs a service area)",
            row["status"],
            row["opened"][:10],
            (row["subject"] or "")[:50],
        )
    Console().print(table if rows else "no cases")


def case_cmd(
    ctx: typer.Context,
    words: Annotated[
        list[str],
        typer.Argument(metavar="REF | assign REF AREA", help="A case reference, or: assign REF AREA."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With assign: only say what would change.")
    ] = False,
    audit_only: Annotated[
        bool, typer.Option("--audit", help="Only the audit trail: who changed what.")
    ] = False,
) -> None:
    """One case: `case REF` shows its timeline; `case assign REF AREA` gives it a service area."""
    if words[0] == "assign":
        if len(words) != 3:
            raise UsageProblem("usage: inboxbot case assign REF AREA")
        case_assign(ctx, words[1], words[2], dry_run)
        return
    if len(words) != 1:
        raise UsageProblem("usage: inboxbot case REF (or: inboxbot case assign REF AREA)")
    case_show(ctx, words[0], as_json, audit_only)


def case_show(ctx: typer.Context, ref: str, as_json: bool, audit_only: bool = False) -> None:
    """The case's timeline: every message and everything done, in order."""
    with state(ctx).uow() as uow:
        case = find_case(uow.session, ref)
        messages = uow.session.scalars(
            select(StoredMessage).where(StoredMessage.case_id == case.id).order_by(StoredMessage.received_at)
        ).all()
        events = uow.session.scalars(
            select(Event).where(Event.case_id == case.id).order_by(Event.at, Event.id)
        ).all()
        timeline = sorted(
            [
                {
                    "at": m.received_at.isoformat(),
                    "what": "message",
                    "kind": m.kind,
                    "trusted": m.trusted,
                    "subject": m.subject,
                    "message": m.id,
                }
                for m in messages
            ]
            + [
                {"at": e.at.isoformat(), "what": e.action, "who": e.actor, "detail": e.detail} for e in events
            ],
            key=lambda item: str(item["at"]),
        )
        summary = _row(case)
    if audit_only:
        timeline = [item for item in timeline if item["what"] != "message"]
    if as_json:
        typer.echo(json.dumps({**summary, "timeline": timeline}, default=str))
        return
    out = Console(highlight=False, soft_wrap=True)
    area = summary["service_area"] or "no service area yet (inboxbot case assign)"
    out.print(
        f"case #{summary['id']}: {(summary['ombudsman'] or '').upper()} {summary['ombudsman_ref'] or ''} "
        f"council ref {summary['council_ref'] or 'none'}; {area}; {summary['status']}"
    )
    for item in timeline:
        when = _when(_parse(str(item["at"])))
        if item["what"] == "message":
            trust = "" if item["trusted"] else " (unverified sender)"
            out.print(f"  {when}  message #{item['message']} {item['kind']}{trust}: {item['subject'] or ''}")
        else:
            detail = item.get("detail") or {}
            extra = (
                "; ".join(f"{k}: {v}" for k, v in detail.items() if v is not None)
                if isinstance(detail, dict)
                else ""
            )
            out.print(f"  {when}  {item['what']} by {item['who']}" + (f" ({extra})" if extra else ""))


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def case_assign(ctx: typer.Context, ref: str, area: str, dry_run: bool) -> None:
    """Give a case its service area (a case the bot could not place waits in triage)."""
    cli = state(ctx)
    known = cli.settings().directory.area(area)
    if known is None:
        names = ", ".join(a.name for a in cli.settings().directory.service_areas) or "none configured"
        raise UsageProblem(f"no service area {area!r} in the directory (known: {names})")
    with cli.uow() as uow:
        case = find_case(uow.session, ref)
        before = case.service_area
        if dry_run:
            typer.echo(
                f"dry run: case #{case.id} would move from {before or 'no service area'} to {known.name}"
            )
            return
        assign_service_area(
            uow.session, case, known.name, getpass.getuser(), acting(cli.settings()), utc_now()
        )
        uow.commit()
        typer.echo(f"case #{case.id}: service area {known.name}")


def triage_cmd(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """What waits for a person: cases with no service area, and messages the bot would not act on."""
    with state(ctx).uow() as uow:
        cases = [_row(c) for c in uow.session.scalars(select(Case).where(Case.service_area.is_(None)))]
        messages = [
            {
                "message": m.id,
                "received": m.received_at.isoformat(),
                "kind": m.kind,
                "trusted": m.trusted,
                "state": m.state,
                "subject": m.subject,
                "why": (m.classification or {}).get("evidence") or m.error,
            }
            for m in uow.session.scalars(
                select(StoredMessage)
                .where(
                    (StoredMessage.state == "quarantined")
                    | (StoredMessage.kind == "unknown")
                    | (
                        (StoredMessage.trusted.is_(False))
                        & StoredMessage.kind.not_in([kind.value for kind in HARMLESS])
                    )
                )
                .order_by(StoredMessage.received_at)
            )
        ]
    if as_json:
        for item in [*({"case": c} for c in cases), *messages]:
            typer.echo(json.dumps(item, default=str))
        return
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"{len(cases)} cases need a service area (inboxbot case assign REF AREA):")
    for c in cases:
        out.print(
            f"  #{c['id']} {(c['ombudsman'] or '').upper()} {c['ombudsman_ref'] or ''} {c['subject'] or ''}"
        )
    out.print(f"{len(messages)} messages need a person:")
    for m in messages:
        sender = "unverified sender" if m["trusted"] is False else m["state"]
        out.print(f"  message #{m['message']} {m['kind'] or m['state']} ({sender}): {m['subject'] or ''}")
