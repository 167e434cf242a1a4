"""``inboxbot tasks``, ``task done``, ``task due`` and ``tick`` from the command line (both databases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.sample import sample_council

Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _mail_taken_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: Capsys
) -> None:
    sample_council(tmp_path, monkeypatch, database_url, capsys)


def tasks(capsys: Capsys) -> list[dict[str, object]]:
    return [json.loads(line) for line in run(capsys, "tasks", "--json").out.splitlines()]


def test_moving_a_due_date_resends_the_invite_and_done_cancels_it(capsys: Capsys, tmp_path: Path) -> None:
    repairs = [t for t in tasks(capsys) if t["service_area"] == "Housing Repairs" and t["status"] == "open"]
    task = repairs[0]
    token = str(task["token"])
    due = str(task["due"])
    # The invite goes three working days before the due date.
    first = run(capsys, "tick", "--now", f"{due}T09:30")
    assert first.code == 0, first.err
    assert run(capsys, "tick", "--now", f"{due}T09:30").out.startswith("queued 0;")
    moved = run(capsys, "task", "due", token, "2026-06-30", "--note", "extension agreed")
    assert moved.out.strip() == f"task {token} now due 2026-06-30"
    update = run(capsys, "tick", "--now", f"{due}T10:30", "--dry-run")
    assert f"task{task['id']}:invite:1" in update.out
    assert (
        run(capsys, "task", "done", token, "--note", "sent to the Ombudsman").out.strip()
        == f"task {token} done"
    )
    cancel = run(capsys, "tick", "--now", f"{due}T11:30", "--dry-run")
    assert f"task{task['id']}:invite:cancel" in cancel.out
    outbox = list((tmp_path / "inboxbot-data" / "outbox").glob("*.eml"))
    assert any("METHOD:REQUEST" in p.read_text(errors="replace") for p in outbox)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["task", "done", "TNOPE1"], "no task 'TNOPE1'"),
        (["task", "due", "1", "31/02/2026"], "DATE must be a date"),
        (["tick", "--now", "yesterday"], "--now must be a date and time"),
    ],
)
def test_bad_task_commands(capsys: Capsys, args: list[str], fragment: str) -> None:
    result = run(capsys, *args)
    assert result.code == 2
    assert fragment in result.err


def test_a_case_whose_tasks_are_all_done_is_no_longer_overdue(capsys: Capsys) -> None:
    # The sample mailbox's due dates are in spring 2026, long past: its open cases are overdue.
    overdue = [json.loads(line) for line in run(capsys, "cases", "--overdue", "--json").out.splitlines()]
    assert overdue, "the sample council has no overdue case to test with"
    case = overdue[0]
    reference = case["ombudsman_ref"] or case["council_ref"]
    open_tasks = [t for t in tasks(capsys) if t["case"] == reference and t["status"] == "open"]
    assert open_tasks
    for task in open_tasks:
        assert run(capsys, "task", "done", str(task["token"])).code == 0
    after = [json.loads(line) for line in run(capsys, "cases", "--overdue", "--json").out.splitlines()]
    assert case["id"] not in [row["id"] for row in after]
    cases = [json.loads(line) for line in run(capsys, "cases", "--json").out.splitlines()]
    assert next(row for row in cases if row["id"] == case["id"])["next_due"] is None
