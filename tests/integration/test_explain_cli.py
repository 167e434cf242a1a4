"""``inboxbot explain`` and ``inboxbot check-rules`` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inboxbot.resources import demo_mailbox, rules_dir
from tests.support.cli import run

Capsys = pytest.CaptureFixture[str]
CORPUS = Path(__file__).parents[1] / "corpus"
KEYS = {
    "file",
    "kind",
    "ombudsman",
    "ombudsman_ref",
    "council_ref",
    "due",
    "due_source",
    "deadlines",
    "trusted",
    "rule",
    "evidence",
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "inboxbot.toml"
    path.write_text(
        '[classification]\nauthserv_ids = ["mx.northmere.gov.uk"]\ncouncil_domains = ["northmere.gov.uk"]\n'
    )
    return path


@pytest.fixture(autouse=True)
def _in_empty_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INBOXBOT_CONFIG", raising=False)


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_has_exactly_the_documented_keys(capsys: Capsys, config: Path) -> None:
    result = run(
        capsys, "explain", "--json", "--config", str(config), str(CORPUS / "lgsco-notification-01.eml")
    )
    assert result.code == 0, result.err
    [record] = lines(result.out)
    assert set(record) == KEYS
    assert record["kind"] == "notification"
    assert record["ombudsman"] == "lgsco"
    assert record["ombudsman_ref"] == "25 018 406"
    assert record["trusted"] is True
    assert record["due_source"] == "relative"
    assert isinstance(record["deadlines"], list)
    assert record["deadlines"][0]["due"] == record["due"]


def test_folders_maildirs_and_files_mix(capsys: Capsys, config: Path, tmp_path: Path) -> None:
    folder = tmp_path / "some"
    folder.mkdir()
    for name in ("hos-chaser-final-01.eml", "auto-reply-ooo-01.eml"):
        shutil.copy(CORPUS / name, folder / name)
    result = run(
        capsys,
        "explain",
        "--json",
        "-c",
        str(config),
        str(folder),
        str(demo_mailbox()),
        str(CORPUS / "other-spam-05.eml"),
    )
    records = lines(result.out)
    assert len(records) == 2 + len(list((demo_mailbox() / "cur").iterdir())) + 1
    kinds = {Path(str(r["file"])).name: r["kind"] for r in records}
    assert kinds["hos-chaser-final-01.eml"] == "chaser_final"
    assert kinds["auto-reply-ooo-01.eml"] == "auto_reply"


def test_without_a_configured_gateway_nothing_is_trusted(capsys: Capsys) -> None:
    result = run(capsys, "explain", "--json", str(CORPUS / "lgsco-notification-01.eml"))
    assert lines(result.out)[0]["trusted"] is False


def test_received_moves_the_due_date(capsys: Capsys, config: Path) -> None:
    path = str(CORPUS / "lgsco-notification-01.eml")
    early = lines(
        run(capsys, "explain", "--json", "-c", str(config), "--received", "2026-03-02T09:00", path).out
    )[0]
    late = lines(
        run(capsys, "explain", "--json", "-c", str(config), "--received", "2026-03-02T17:30", path).out
    )[0]
    assert early["due"] == "2026-03-30"  # 20 working days after Monday 2 March
    assert late["due"] == "2026-03-31"  # after the cut-off, day 0 is Tuesday


def test_unreadable_and_malformed_messages_do_not_stop_the_run(
    capsys: Capsys, config: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a-garbage.eml").write_bytes(b"\x00\xff" * 50)
    unreadable = folder / "b-unreadable.eml"
    unreadable.write_bytes(b"x")
    unreadable.chmod(0)
    shutil.copy(CORPUS / "lgsco-notification-01.eml", folder / "c-good.eml")
    try:
        result = run(capsys, "explain", "--json", "-c", str(config), str(folder))
    finally:
        unreadable.chmod(0o600)
    records = {Path(str(r["file"])).name: r for r in lines(result.out)}
    assert result.code == 0
    assert records["a-garbage.eml"]["kind"] == "unknown"
    assert records["c-good.eml"]["kind"] == "notification"
    # Root can read anything; elsewhere the unreadable file is reported with an error.
    assert records["b-unreadable.eml"]["kind"] == "unknown"


def test_the_human_view_shows_rule_evidence_and_deadlines(capsys: Capsys, config: Path) -> None:
    result = run(capsys, "explain", "-c", str(config), str(CORPUS / "lgsco-final-decision-01.eml"))
    assert "final_decision (rule final-decision-subject)" in result.out
    assert "deadline" in result.out
    assert "Within one month" in result.out


def test_bad_arguments_exit_2(capsys: Capsys, config: Path) -> None:
    missing = run(capsys, "explain", "nope.eml")
    assert missing.code == 2
    assert "no such file or folder: nope.eml" in missing.err
    bad_time = run(capsys, "explain", "--received", "yesterday", str(CORPUS / "lgsco-notification-01.eml"))
    assert bad_time.code == 2
    assert "--received" in bad_time.err


def test_explain_never_creates_a_database(capsys: Capsys, config: Path, tmp_path: Path) -> None:
    run(capsys, "explain", "--json", str(CORPUS / "lgsco-notification-01.eml"))
    assert not (tmp_path / "inboxbot-data").exists()


def test_check_rules_passes_on_the_bundled_rules(capsys: Capsys) -> None:
    result = run(capsys, "check-rules")
    assert result.code == 0
    assert "0 failed" in result.out


def test_a_bad_rule_file_names_the_file_rule_and_problem(capsys: Capsys, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules)
    (rules / "zz-local.toml").write_text(
        '[[rule]]\nid = "local-thing"\ndescription = "x"\nkind = "chaser_fnal"\npriority = 5\n'
        'when.text = ["x"]\n[[rule.example]]\nsubject = "x"\nkind = "other"\n'
    )
    result = run(capsys, "check-rules", str(rules))
    assert result.code == 2
    assert "zz-local.toml: rule local-thing: kind:" in result.err


def test_a_failing_example_exits_1(capsys: Capsys, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(rules_dir(), rules)
    (rules / "zz-local.toml").write_text(
        '[[rule]]\nid = "local-thing"\ndescription = "x"\nkind = "other"\npriority = 5\n'
        'when.text = ["parish newsletter"]\n'
        '[[rule.example]]\nsubject = "Hello"\nbody = "nothing"\nkind = "other"\n'
    )
    result = run(capsys, "check-rules", str(rules))
    assert result.code == 1
    assert "rule local-thing: example 'Hello' expected other, got unknown" in result.err
