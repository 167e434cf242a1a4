"""``inboxbot report`` and ``inboxbot export xlsx`` on the sample mailbox (both databases)."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import openpyxl
import pytest

from tests.support.cli import run
from tests.support.sample import sample_council

Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _mail_taken_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: Capsys
) -> None:
    sample_council(tmp_path, monkeypatch, database_url, capsys)


def test_weekly_report_to_a_file_and_by_email_once(capsys: Capsys, tmp_path: Path) -> None:
    result = run(capsys, "report", "weekly", "--today", "2026-04-02", "--out", "weekly.html")
    assert result.code == 0, result.err
    assert "overdue" in result.out
    assert "<table" in Path("weekly.html").read_text()
    sent = run(capsys, "report", "weekly", "--today", "2026-04-02", "--send")
    assert "queued 2 report emails" in sent.out  # Housing Repairs, and RET
    again = run(capsys, "report", "weekly", "--today", "2026-04-02", "--send")
    assert "queued 0 report emails; sent 0 emails" in again.out


def test_a_week_with_nothing_overdue_says_so(capsys: Capsys) -> None:
    result = run(capsys, "report", "weekly", "--today", "2026-01-05")
    assert "No Ombudsman tasks are overdue or due in the next 3 working days." in result.out


def test_quarterly_kpis_with_charts_inline(capsys: Capsys, tmp_path: Path) -> None:
    result = run(capsys, "report", "quarterly", "--period", "2026-Q1", "--out", "q1.html", "--send")
    assert result.code == 0, result.err
    assert "Cases received: 4" in result.out
    assert Path("q1-cases-by-area.png").read_bytes().startswith(b"\x89PNG")
    [eml] = [
        p
        for p in (tmp_path / "inboxbot-data" / "outbox").glob("*.eml")
        if "2026 Q1" in p.read_text(errors="replace")
    ]
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 2
    assert "place@northmere.gov.uk" in str(message["To"])


def test_export_xlsx(capsys: Capsys, tmp_path: Path) -> None:
    result = run(capsys, "export", "xlsx", "--out", "cases.xlsx")
    assert result.out.startswith("4 cases written to ")
    sheet = openpyxl.load_workbook("cases.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 5  # header and four cases
    assert "202512345" in [str(r[1]) for r in rows]


def test_a_bad_period_is_one_line(capsys: Capsys) -> None:
    result = run(capsys, "report", "annual", "--period", "last year")
    assert result.code == 2
    assert result.err.startswith("error: --period:")
