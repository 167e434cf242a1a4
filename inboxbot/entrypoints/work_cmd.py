"""``inboxbot tick``, ``inboxbot tasks`` and ``inboxbot task done``: the time-based work and the tasks."""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxbot.adapters.db.models import Case, Task
from inboxbot.domain.kinds import TaskStatus
from inboxbot.entrypoints.calendar_cmd import parse_date
from inboxbot.entrypoints.context import UsageProblem, state, utc_now
from inboxbot.entrypoints.explain_cmd import parse_instant
from inboxbot.entrypoints.wiring import acting, composer, invites, sending_rules, transport
from inboxbot.service import audit
from inboxbot.service.actions import refresh_next_due
from inboxbot.service.dispatch import dispatch
from inboxbot.service.tick import tick
from inboxbot.service.unit_of_work import DryRunUnitOfWork, UnitOfWork

task_app = typer.Typer(help="One task: mark it done, or move its due date.", no_args_is_help=True)


def tick_cmd(
    ctx: typer.Context,
    now: Annotated[
        str | None, typer.Option("--now", help="Act as if it were this ISO time (London if no offset).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be queued and sent; change nothing.")
    ] = False,
) -> None:
    """Do all work due now: reminders, invites, overdue alerts, then send the outbox. Safe to repeat."""
    cli = state(ctx)
    settings = cli.settings()
    when = parse_instant(now, "--now") if now else utc_now()
    uow: UnitOfWork = DryRunUnitOfWork(cli.engine()) if dry_run else cli.uow()
    queued = tick(
        uow, acting(settings), invites(), settings.working_calendar(), sending_rules(settings), when
    )
    sender = transport(settings)
    try:
        sent = dispatch(
            uow, sender, composer(settings), when, daily_cap=settings.outgoing.daily_cap, dry_run=dry_run
        )
    finally:
        sender.close()
    if dry_run:
        typer.echo(
            f"dry run: would queue {len(queued.queued)} ({', '.join(queued.queued) or 'nothing'}); "
            f"would send {len(sent.would_send)} already in the outbox"
        )
        return
    typer.echo(
        f"queued {len(queued.queued)}; sent {len(sent.sent)}, retrying {len(sent.retrying)}, "
        f"failed {len(sent.failed)}, held by the daily cap {len(sent.capped)} (via {sender.name})"
    )


def tasks_cmd(
    ctx: typer.Context,
    only_open: Annotated[bool, typer.Option("--open", help="Only open tasks.")] = False,
    area: Annotated[str | None, typer.Option("--area", help="Only this service area.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per task per line.")] = False,
) -> None:
    """List tasks with their due dates."""
    with state(ctx).uow() as uow:
        query = select(Task, Case).join(Case, Task.case_id == Case.id).order_by(Task.due, Task.id)
        if only_open:
            query = query.where(Task.status == TaskStatus.OPEN.value)
        if area:
            query = query.where(Task.service_area == area)
        rows = [
            {
                "id": task.id,
                "token": task.token,
                "case": case.ombudsman_ref or case.council_ref,
                "service_area": task.service_area,
                "title": task.title,
                "due": task.due.isoformat() if task.due else None,
                "status": task.status,
            }
            for task, case in uow.session.execute(query).tuples()
        ]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    table = Table("#", "Token", "Case", "Service area", "Task", "Due", "Status")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["token"]),
            str(row["case"] or ""),
            str(row["service_area"] or "RET"),
            str(row["title"]),
            str(row["due"] or ""),
            str(row["status"]),
        )
    Console().print(table if rows else "no tasks")


@task_app.command("done")
def task_done(
    ctx: typer.Context,
    task_ref: Annotated[str, typer.Argument(metavar="ID", help="Task number or token (e.g. 12 or T7QK2M).")],
    note: Annotated[str | None, typer.Option("--note", help="What was done, for the case record.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would change.")] = False,
) -> None:
    """Mark a task done (the next tick cancels its calendar invite)."""
    with state(ctx).uow() as uow:
        task = _find_task(uow.session, task_ref)
        if task.status != TaskStatus.OPEN.value:
            raise UsageProblem(f"task {task.token} is already {task.status}")
        if dry_run:
            typer.echo(f"dry run: task {task.token} ({task.title}) would be marked done")
            return
        now = utc_now()
        who = getpass.getuser()
        task.status, task.done_at, task.done_by, task.note = TaskStatus.DONE.value, now, who, note
        case = uow.session.get(Case, task.case_id)
        if case is not None:
            # The case's next due date is its earliest open task's: without this `cases --overdue`
            # would go on listing the case by the date of a task that is done.
            refresh_next_due(uow.session, case)
        audit.record(
            uow.session, now, "task done", actor=who, case_id=task.case_id, task_id=task.id, note=note
        )
        uow.commit()
        typer.echo(f"task {task.token} done")


@task_app.command("due")
def task_due(
    ctx: typer.Context,
    task_ref: Annotated[str, typer.Argument(metavar="ID", help="Task number or token.")],
    new_due: Annotated[str, typer.Argument(metavar="DATE", help="The new due date, e.g. 2026-04-21.")],
    note: Annotated[
        str | None, typer.Option("--note", help="Why it moved (an extension agreed, say).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would change.")] = False,
) -> None:
    """Move a task's due date (the next tick re-sends its calendar invite with the new date)."""
    day = parse_date(new_due)
    with state(ctx).uow() as uow:
        task = _find_task(uow.session, task_ref)
        if task.status != TaskStatus.OPEN.value:
            raise UsageProblem(f"task {task.token} is {task.status}; only an open task's due date can move")
        if dry_run:
            typer.echo(f"dry run: task {task.token} would be due {day.isoformat()} instead of {task.due}")
            return
        now, who, before = utc_now(), getpass.getuser(), task.due
        task.due = day
        case = uow.session.get(Case, task.case_id)
        if case is not None:
            refresh_next_due(uow.session, case)
        audit.record(
            uow.session, now, "due date moved", actor=who, case_id=task.case_id, task_id=task.id,
            before=str(before), after=day.isoformat(), note=note,
        )  # fmt: skip
        uow.commit()
        typer.echo(f"task {task.token} now due {day.isoformat()}")


def _find_task(session: Session, task_ref: str) -> Task:
    text = task_ref.strip()
    query = (
        select(Task).where(Task.id == int(text))
        if text.isdigit()
        else select(Task).where(Task.token == text.upper())
    )
    task = session.scalars(query).first()
    if task is None:
        raise UsageProblem(f"no task {task_ref!r}")
    return task
