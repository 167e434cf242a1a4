"""The command line as a new user meets it: help, version, config, database, calendar, demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from inboxbot import __version__
from inboxbot.adapters.db.engine import make_engine
from inboxbot.adapters.db.models import StoredMessage
from inboxbot.resources import demo_mailbox
from inboxbot.service.unit_of_work import UnitOfWork
from tests.support.cli import run

Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("INBOXBOT_CONFIG", "INBOXBOT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_help_lists_every_command(capsys: Capsys) -> None:
    result = run(capsys, "--help")
    assert result.code == 0
    for command in ("demo", "calendar", "config", "db"):
        assert f"  {command} " in result.out


def test_version(capsys: Capsys) -> None:
    assert run(capsys, "--version").out.strip() == f"inboxbot {__version__}"


def test_python_dash_m_and_the_console_script_work() -> None:
    by_module = subprocess.run(
        [sys.executable, "-m", "inboxbot", "calendar", "add", "2026-12-24", "1"],
        capture_output=True,
        text=True,
    )
    assert (by_module.returncode, by_module.stdout) == (0, "2026-12-29\n")
    script = Path(sys.executable).parent / "inboxbot"
    by_script = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert by_script.stdout.strip() == f"inboxbot {__version__}"


def test_calendar_add_and_holidays(capsys: Capsys) -> None:
    assert run(capsys, "calendar", "add", "2026-04-02", "1").out == "2026-04-07\n"
    assert run(capsys, "calendar", "between", "2026-04-02", "2026-04-07").out == "1\n"
    lines = run(capsys, "calendar", "holidays", "2026").out.splitlines()
    assert lines[0] == "2026-01-01 New Year's Day"
    assert lines[-1] == "2026-12-28 Boxing Day (observed)"
    assert len(lines) == 8


def test_calendar_uses_the_configured_closure_days(capsys: Capsys, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[calendar]\nclosure_days = [{ date = 2026-12-29, name = "Christmas shutdown" }]\n')
    assert run(capsys, "--config", str(config), "calendar", "add", "2026-12-24", "1").out == "2026-12-30\n"
    assert (
        "2026-12-29 Christmas shutdown" in run(capsys, "-c", str(config), "calendar", "holidays", "2026").out
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["calendar", "add", "2026-02-30", "1"], "DATE must be a date"),
        (["calendar", "add", "tomorrow", "1"], "DATE must be a date"),
        (["calendar", "add", "2026-03-02", "-1"], "N must be between 0 and 10000"),
        (["calendar", "add", "2026-03-02", "99999999"], "N must be between"),
        (["calendar", "add", "9999-12-30", "5"], "outside the calendar"),
        (["calendar", "holidays", "12"], "YEAR must be between"),
    ],
)
def test_bad_calendar_input_is_one_line_and_exit_2(capsys: Capsys, args: list[str], fragment: str) -> None:
    result = run(capsys, *args)
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1
    assert fragment in result.err


def test_config_check(capsys: Capsys, tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[calendar]\ncutoff = "16:00"\n')
    assert run(capsys, "config", "check", str(good)).code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text('[calendar]\ncutof = "16:00"\n')
    result = run(capsys, "config", "check", str(bad))
    assert result.code == 2
    assert result.err.strip() == f"config error: {bad}: calendar.cutof: unknown key"
    assert "Traceback" not in result.err


def test_a_bad_config_stops_every_command_with_exit_2(capsys: Capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[calendar\n")
    result = run(capsys, "--config", str(bad), "calendar", "add", "2026-03-02", "1")
    assert result.code == 2
    assert "not valid TOML" in result.err


def test_unreachable_database_is_one_line_exit_1(capsys: Capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOXBOT_DATABASE_URL", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    result = run(capsys, "db", "upgrade")
    assert result.code == 1
    assert result.err.startswith("error: cannot connect to postgresql+psycopg://nobody:***@127.0.0.1:1/none")
    assert "secret" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_db_upgrade_dry_run_then_upgrade(
    capsys: Capsys, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INBOXBOT_DATABASE_URL", database_url)
    assert "would upgrade" in run(capsys, "db", "upgrade", "--dry-run").out
    assert "revision empty" in run(capsys, "db", "status").out
    assert "upgraded" in run(capsys, "db", "upgrade").out
    assert "up to date" in run(capsys, "db", "upgrade").out
    assert "behind" not in run(capsys, "db", "status").out


def test_demo_stores_the_sample_mailbox_once(
    capsys: Capsys, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("sqlite"):
        monkeypatch.setenv("INBOXBOT_DATABASE_URL", database_url)
    expected = len([p for p in (demo_mailbox() / "cur").iterdir() if not p.name.startswith(".")])
    assert expected >= 15

    first = run(capsys, "demo")
    assert first.code == 0, first.err
    assert f"{expected} new messages" in first.out
    written = len(list(Path("inboxbot-data/outbox").glob("*.eml")))
    assert written > 50  # task emails, reminders, invites, alerts over the two months
    second = run(capsys, "demo")
    assert "0 new messages, 0 emails written" in " ".join(second.out.split())
    assert len(list(Path("inboxbot-data/outbox").glob("*.eml"))) == written

    url = (
        database_url if not database_url.startswith("sqlite") else "sqlite:///inboxbot-data/inboxbot.sqlite3"
    )
    with UnitOfWork(make_engine(url)) as uow:
        assert uow.session.scalar(select(func.count()).select_from(StoredMessage)) == expected
    assert Path("inboxbot-data/outbox").is_dir()
