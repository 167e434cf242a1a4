"""The kept Ombudsman spreadsheet: rewritten after every change, and only then (both databases)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import func, select

from inboxbot.adapters.db.models import Event
from inboxbot.adapters.spreadsheet import KeptSpreadsheet
from inboxbot.entrypoints.context import CliState
from inboxbot.service import audit
from inboxbot.service.spreadsheet_keeper import keep_spreadsheet_current
from tests.support.cli import run
from tests.support.sample import sample_council

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=LONDON)  # a Wednesday
Capsys = pytest.CaptureFixture[str]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: Capsys) -> CliState:
    return CliState(config_path=sample_council(tmp_path, monkeypatch, database_url, capsys))


@pytest.fixture
def sheet(tmp_path: Path) -> KeptSpreadsheet:
    return KeptSpreadsheet(tmp_path / "reports" / "ombudsman-cases.xlsx")


def keep(cli: CliState, sheet: KeptSpreadsheet, now: datetime = NOW) -> bool:
    return keep_spreadsheet_current(cli.uow(), sheet, cli.settings().working_calendar(), now)


def rows_by_reference(path: Path) -> dict[str, dict[str, object]]:
    """The spreadsheet as a person opening it sees it: one dict per case, by Ombudsman reference."""
    workbook = openpyxl.load_workbook(path)  # not read-only: that drops a row's empty last cells
    header, *rows = list(workbook["Ombudsman cases"].iter_rows(values_only=True))
    named = [dict(zip((str(h) for h in header), row, strict=True)) for row in rows]
    return {str(row["Ombudsman reference"]): row for row in named}


def test_rewritten_after_a_change_and_not_otherwise(
    cli: CliState, sheet: KeptSpreadsheet, capsys: Capsys
) -> None:
    assert keep(cli, sheet)  # never written before
    assert rows_by_reference(sheet.path)["25 011 863"]["Service area"] in ("", None)
    written = sheet.path.stat().st_mtime_ns
    assert not keep(cli, sheet)
    assert not keep(cli, sheet, NOW + timedelta(hours=1))  # later the same day, still nothing new
    assert sheet.path.stat().st_mtime_ns == written
    # Someone in RET gives the case its service area: an audited change.
    assert run(capsys, "case", "assign", "25 011 863", "Housing Repairs").code == 0
    assert keep(cli, sheet)
    assert rows_by_reference(sheet.path)["25 011 863"]["Service area"] == "Housing Repairs"
    assert sheet.path.stat().st_mtime_ns != written
    assert not keep(cli, sheet)


def test_a_new_day_rewrites_it_because_open_cases_count_working_days_to_today(
    cli: CliState, sheet: KeptSpreadsheet
) -> None:
    assert keep(cli, sheet)
    before = rows_by_reference(sheet.path)["202512345"]["Working days taken"]
    assert keep(cli, sheet, NOW + timedelta(days=1))  # Thursday: nothing else changed
    after = rows_by_reference(sheet.path)["202512345"]["Working days taken"]
    assert isinstance(before, int)
    assert after == before + 1


def test_an_event_committed_after_a_higher_one_is_not_missed(cli: CliState, sheet: KeptSpreadsheet) -> None:
    """On PostgreSQL event ids are handed out on insert, not on commit: a long transaction can
    commit event N after event N+1 was seen. Both are given ids by hand here, in that order."""
    with cli.uow() as uow:
        top = int(uow.session.scalar(select(func.max(Event.id))) or 0)
        uow.session.add(Event(id=top + 2, at=NOW, actor=audit.BOT, action="test: a short transaction"))
        uow.commit()
    assert keep(cli, sheet)
    with cli.uow() as uow:
        uow.session.add(
            Event(id=top + 1, at=NOW, actor=audit.BOT, action="test: the long transaction commits")
        )
        uow.commit()
    assert keep(cli, sheet)  # the highest id is the same, but there is one more event


def test_a_deleted_or_replaced_spreadsheet_is_written_again(cli: CliState, sheet: KeptSpreadsheet) -> None:
    assert keep(cli, sheet)
    sheet.path.unlink()
    assert keep(cli, sheet)
    assert "202512345" in rows_by_reference(sheet.path)
    sheet.path.write_bytes(b"saved over by someone")
    assert keep(cli, sheet)
    assert "202512345" in rows_by_reference(sheet.path)
    sheet.mark_file.write_text("{not json")
    assert keep(cli, sheet)
    assert not keep(cli, sheet)
