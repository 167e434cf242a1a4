"""``inboxbot cases`` and ``inboxbot case`` on the demo's cases (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inboxbot.resources import demo_mailbox
from tests.support.cli import run

Capsys = pytest.CaptureFixture[str]

DIRECTORY = """
[classification]
authserv_ids = ["mx.northmere.gov.uk"]
[[directory.service_areas]]
name = "Housing Repairs"
task_recipients = ["repairs.complaints@northmere.gov.uk"]
head_of_service = "Head of Repairs <repairs.head@northmere.gov.uk>"
slt_director = "Director of Place <place.director@northmere.gov.uk>"
keywords = ["repair", "damp", "mould"]
"""


@pytest.fixture(autouse=True)
def _demo_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: Capsys) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INBOXBOT_CONFIG", raising=False)
    monkeypatch.setenv("INBOXBOT_DATABASE_URL", database_url)
    config = tmp_path / "inboxbot.toml"
    config.write_text(DIRECTORY)
    monkeypatch.setenv("INBOXBOT_CONFIG", str(config))
    # The sample mailbox, taken in once (the demo's two-month replay is tested elsewhere).
    assert run(capsys, "ingest", "--source", f"maildir:{demo_mailbox()}").code == 0
    return config


def cases(capsys: Capsys, *args: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in run(capsys, "cases", "--json", *args).out.splitlines()]


def test_the_demo_opens_one_case_per_ombudsman_reference(capsys: Capsys) -> None:
    found = {c["ombudsman_ref"]: c for c in cases(capsys)}
    assert set(found) == {"25 004 217", "202512345", "25 011 863", "25 007 640"}
    assert found["202512345"]["service_area"] == "Housing Repairs"
    triage = {c["ombudsman_ref"] for c in cases(capsys, "--triage")}
    assert "202512345" not in triage
    assert "25 004 217" in triage  # no Adult Social Care in this directory: a person must place it


def test_a_case_timeline_in_any_reference_form(capsys: Capsys) -> None:
    for ref in ("25004217", "25-004-217", "CAS-204518", "cas-204518"):
        result = run(capsys, "case", ref, "--json")
        assert result.code == 0, result.err
        assert json.loads(result.out)["ombudsman_ref"] == "25 004 217"
    timeline = json.loads(run(capsys, "case", "25 004 217", "--json").out)["timeline"]
    kinds = [item["kind"] for item in timeline if item["what"] == "message"]
    assert kinds[0] == "notification"
    assert kinds[-1] == "case_closed"
    assert "chaser_final" in kinds


def test_assigning_a_service_area(capsys: Capsys) -> None:
    dry = run(capsys, "case", "assign", "25 004 217", "housing repairs", "--dry-run")
    assert "would move from no service area to Housing Repairs" in dry.out
    assert run(capsys, "case", "assign", "25 004 217", "Housing Repairs").code == 0
    assert {c["ombudsman_ref"]: c["service_area"] for c in cases(capsys)}["25 004 217"] == "Housing Repairs"
    timeline = json.loads(run(capsys, "case", "25 004 217", "--json").out)["timeline"]
    assigned = [item for item in timeline if item["what"] == "service area assigned"]
    assert assigned[0]["detail"] == {"before": None, "after": "Housing Repairs"}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["case", "99 999 999"], "no case"),
        (["case", "assign", "25 004 217", "Parks"], "no service area 'Parks'"),
        (["case", "assign", "25 004 217"], "usage: inboxbot case assign REF AREA"),
    ],
)
def test_bad_case_commands(capsys: Capsys, args: list[str], fragment: str) -> None:
    result = run(capsys, *args)
    assert result.code == 2
    assert fragment in result.err


def test_the_audit_trail_alone(capsys: Capsys) -> None:
    run(capsys, "case", "assign", "25 004 217", "Housing Repairs")
    timeline = json.loads(run(capsys, "case", "25 004 217", "--audit", "--json").out)["timeline"]
    assert timeline
    assert all(item["what"] != "message" for item in timeline)
    assert any(item["what"] == "service area assigned" and item["who"] for item in timeline)
