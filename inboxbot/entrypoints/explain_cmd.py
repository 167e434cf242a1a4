"""``inboxbot explain`` and ``inboxbot check-rules``: the bot's judgement, shown.

Neither touches the database or the network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from inboxbot.adapters.mail.files import EmlFolderSource, MaildirSource
from inboxbot.adapters.rulefiles import load_rules
from inboxbot.config import load_settings
from inboxbot.domain.calendar import LONDON
from inboxbot.domain.references import find_references
from inboxbot.domain.rules import run_examples
from inboxbot.entrypoints.context import UsageProblem, state
from inboxbot.resources import rules_dir
from inboxbot.service.classifying import Outcome, classify_raw, classify_settings


def parse_instant(text: str, what: str = "--received") -> datetime:
    """An ISO date-time from the command line; without an offset it is London time."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageProblem(f"{what} must be a date and time like 2026-03-02T09:15 (got {text!r})") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=LONDON)


def message_files(paths: list[Path]) -> Iterator[tuple[str, bytes | None, str | None]]:
    """(name, bytes or None, read error) for every message under the given paths."""
    for path in paths:
        if path.is_file():
            try:
                yield str(path), path.read_bytes(), None
            except OSError as exc:
                yield str(path), None, f"cannot read: {exc.strerror}"
        elif (path / "cur").is_dir() or (path / "new").is_dir():
            for fetched in MaildirSource(path).fetch():
                yield str(path / fetched.label), fetched.raw, None
        else:
            for fetched in EmlFolderSource(path).fetch():
                yield str(path / fetched.label), fetched.raw, None


def _check_paths(paths: list[Path]) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageProblem(f"no such file or folder: {', '.join(missing)}")


def _json_line(name: str, outcome: Outcome) -> str:
    if outcome.classification is None:
        record: dict[str, object] = {
            "file": name,
            "kind": "unknown",
            "ombudsman": None,
            "ombudsman_ref": None,
            "council_ref": None,
            "due": None,
            "due_source": None,
            "deadlines": [],
            "trusted": False,
            "rule": None,
            "evidence": None,
            "error": outcome.error,
        }
    else:
        record = {"file": name, **outcome.classification.as_json()}
    return json.dumps(record, ensure_ascii=False)


def _show(console: Console, name: str, outcome: Outcome) -> None:
    console.rule(name, align="left", style="dim")
    result = outcome.classification
    if result is None:
        console.print(f"  kind        unknown (could not be read: {outcome.error})")
        return
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    rule = f" (rule {result.rule})" if result.rule else ""
    table.add_row("kind", f"{result.kind.value}{rule}")
    table.add_row("evidence", result.evidence)
    others = [m for m in result.decision.matches if m.rule_id != result.rule]
    if others:
        table.add_row(
            "also matched",
            ", ".join(f"{m.rule_id} -> {m.kind.value} (priority {m.priority})" for m in others),
        )
    trust = "yes" if result.trusted else ("NO - suspected spoof" if result.spoof_suspected else "no")
    table.add_row("trusted", f"{trust}: {result.trust_reason}")
    if result.automatic:
        table.add_row("automatic", result.automatic)
    ombudsman = result.ombudsman.value.upper() if result.ombudsman else "none"
    ref = result.ombudsman_ref or "no case reference"
    table.add_row("ombudsman", f"{ombudsman}, {ref} ({result.reference_reason})")
    background = [r for r in result.references if r.background]
    if background:
        table.add_row("ignored", ", ".join(f"{r.ref} (background)" for r in background))
    table.add_row("council ref", result.council_ref or "none")
    if result.received:
        table.add_row("received", result.received.astimezone(LONDON).strftime("%a %d %b %Y %H:%M %Z"))
    due = f"{result.due.isoformat()} ({result.due_source})" if result.due else "none"
    table.add_row("due", due)
    for deadline in result.deadlines:
        table.add_row(
            "deadline", f"{deadline.due.isoformat()}: {deadline.evidence} - {_short(deadline.text)}"
        )
    console.print(table)


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explain(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help=".eml files, folders of them, or Maildirs.", show_default=False)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per message per line.")] = False,
    received: Annotated[
        str | None, typer.Option("--received", help="Treat every message as received at this ISO time.")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config file (TOML).")] = None,
) -> None:
    """Show how messages are classified: kind, rule, evidence, references, deadlines, trust."""
    _check_paths(paths)
    when = parse_instant(received) if received else None
    settings = load_settings(config) if config else state(ctx).settings()
    judgement = classify_settings(settings)
    console = Console(highlight=False, soft_wrap=not as_json)
    for name, raw, error in message_files(paths):
        outcome = Outcome(None, error) if raw is None else classify_raw(raw, judgement, when)
        if as_json:
            typer.echo(_json_line(name, outcome))
        else:
            _show(console, name, outcome)


def check_rules(
    ctx: typer.Context,
    folder: Annotated[Path | None, typer.Argument(help="Rules folder; default the configured one.")] = None,
) -> None:
    """Validate every rule file and run each rule's examples through the whole rule set."""
    configured = state(ctx).settings().classification.rules_dir
    target = folder or configured or rules_dir()
    rules = load_rules(target)
    results = run_examples(rules, lambda text: bool(find_references(text, "body")))
    failures = [r for r in results if not r.passed]
    for failure in failures:
        typer.echo(
            f"{failure.source}: rule {failure.rule_id}: example {failure.example.subject!r} "
            f"expected {failure.example.kind.value}, got {failure.decision.kind.value} "
            f"({failure.decision.explain()})",
            err=True,
        )
    typer.echo(f"{len(rules.rules)} rules, {len(results)} examples, {len(failures)} failed ({target})")
    if failures:
        raise typer.Exit(1)
