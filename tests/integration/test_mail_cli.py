"""``inboxbot ingest``, ``quarantine`` and ``status`` from the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.mail import write_maildir

Capsys = pytest.CaptureFixture[str]
CORPUS = Path(__file__).parents[1] / "corpus"


@pytest.fixture(autouse=True)
def _in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INBOXBOT_CONFIG", raising=False)
    monkeypatch.setenv("INBOXBOT_DATABASE_URL", database_url)


def test_ingest_a_maildir_twice(capsys: Capsys, tmp_path: Path) -> None:
    maildir = write_maildir(
        tmp_path / "Maildir",
        [(CORPUS / name).read_bytes() for name in ("lgsco-notification-01.eml", "hos-notification-01.eml")]
        + [b"\x00\x01 not mail"],
    )
    first = run(capsys, "ingest", "--source", f"maildir:{maildir}")
    assert first.code == 0, first.err
    assert (
        first.out.strip() == "3 new, 0 already stored; 2 classified, 1 quarantined; 0 cases opened; 0 filed"
    )
    second = run(capsys, "ingest", "--source", f"maildir:{maildir}")
    assert (
        second.out.strip() == "0 new, 3 already stored; 0 classified, 0 quarantined; 0 cases opened; 0 filed"
    )

    status = json.loads(run(capsys, "status", "--json").out)
    assert status["messages"] == {"processed": 2, "quarantined": 1}
    assert status["sources"][0]["source"] == f"maildir:{maildir.resolve()}"
    assert status["sources"][0]["last_contact_at"] is not None

    listed = run(capsys, "quarantine", "list")
    assert "not an email message" in listed.out
    assert "would retry 1" in run(capsys, "quarantine", "retry", "--dry-run").out
    retried = run(capsys, "quarantine", "retry")
    assert retried.out.strip() == "0 classified, 1 still quarantined"


def test_dry_run_and_limit(capsys: Capsys, tmp_path: Path) -> None:
    folder = tmp_path / "emls"
    folder.mkdir()
    for name in ("lgsco-notification-01.eml", "hos-notification-01.eml", "lgsco-chaser-first-01.eml"):
        shutil.copy(CORPUS / name, folder / name)
    dry = run(capsys, "ingest", "-s", f"dir:{folder}", "--dry-run")
    assert dry.out.strip() == "dry run: 3 new messages would be stored, 0 already stored"
    assert run(capsys, "ingest", "-s", f"dir:{folder}", "--limit", "2").out.startswith("2 new")
    assert run(capsys, "ingest", "-s", f"dir:{folder}").out.startswith("1 new, 2 already stored")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("imaps://user:secret@mail.example/INBOX", "not in the source URL"),
        ("pop3://mail.example", "unknown mail source"),
        ("maildir:/no/such/folder", "is not a Maildir"),
        ("imap://user@mail.example/INBOX?security=rot13", "security must be"),
    ],
)
def test_bad_sources_are_one_clear_line(capsys: Capsys, source: str, fragment: str) -> None:
    result = run(capsys, "ingest", "--source", source)
    assert result.code in (1, 2)
    assert fragment in result.err
    assert "secret" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_no_source_configured(capsys: Capsys) -> None:
    result = run(capsys, "ingest")
    assert result.code == 2
    assert "no mail source" in result.err
