"""A configured council with the sample mailbox taken in: the starting point of many CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from inboxbot.resources import demo_mailbox
from tests.support.cli import run

# Northmere's gateway, its shared mailbox, and one service area: Housing Repairs.
HOUSING_REPAIRS = (
    '[classification]\nauthserv_ids = ["mx.northmere.gov.uk"]\n'
    '[directory]\nshared_mailbox = "ombudsman@northmere.gov.uk"\n'
    'head_of_resident_contact = "hrc@northmere.gov.uk"\n'
    "[[directory.service_areas]]\n"
    'name = "Housing Repairs"\ntask_recipients = ["repairs@northmere.gov.uk"]\n'
    'head_of_service = "repairs.head@northmere.gov.uk"\nslt_director = "place@northmere.gov.uk"\n'
    'keywords = ["repair", "repairs", "damp", "mould", "leak"]\n'
)


def sample_council(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    extra: str = "",
) -> Path:
    """Work in ``tmp_path`` with the Housing Repairs config (plus ``extra``) and the sample mailbox
    taken in; the config file's path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INBOXBOT_DATABASE_URL", database_url)
    config = tmp_path / "inboxbot.toml"
    config.write_text(HOUSING_REPAIRS + extra)
    monkeypatch.setenv("INBOXBOT_CONFIG", str(config))
    assert run(capsys, "ingest", "--source", f"maildir:{demo_mailbox()}").code == 0
    return config
