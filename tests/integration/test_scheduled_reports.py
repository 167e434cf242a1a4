"""The service's report jobs: each report once per scheduled moment, caught up after a restart."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from inboxbot.adapters.db.models import OutboxItem
from inboxbot.entrypoints.context import CliState
from inboxbot.entrypoints.scheduler import queue_due_report, report_triggers, tick_job
from tests.support.sample import sample_council

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> CliState:
    return CliState(config_path=sample_council(tmp_path, monkeypatch, database_url, capsys))


def reports_job(cli: CliState, now: datetime) -> None:
    """What the four report jobs do when they fire at ``now``."""
    for trigger in report_triggers(cli).values():
        queue_due_report(cli, trigger, now)


def keys(cli: CliState) -> set[str]:
    with cli.uow() as uow:
        return {k for k in uow.session.scalars(select(OutboxItem.dedupe_key)) if k.startswith("report:")}


def test_each_report_once_per_moment(cli: CliState) -> None:
    # Wednesday 1 April 2026 10:00: Monday's report was missed (the service was down); Q1's KPIs are due.
    reports_job(cli, datetime(2026, 4, 1, 10, 0, tzinfo=LONDON))
    first = keys(cli)
    assert {"report:weekly:2026-03-30:Housing Repairs", "report:weekly:2026-03-30:ret"} <= first
    assert "report:quarterly:2026 Q1" in first
    assert "report:annual:2025-26" in first
    reports_job(cli, datetime(2026, 4, 1, 10, 5, tzinfo=LONDON))
    assert keys(cli) == first  # nothing twice
    # The next Monday at 08:00 (after the clocks went forward) brings the next weekly report.
    reports_job(cli, datetime(2026, 4, 6, 8, 1, tzinfo=LONDON))
    assert "report:weekly:2026-04-06:ret" in keys(cli)


def test_no_report_before_its_time(cli: CliState) -> None:
    reports_job(cli, datetime(2026, 4, 6, 7, 59, tzinfo=LONDON))
    assert "report:weekly:2026-04-06:ret" not in keys(cli)


def test_the_service_sends_the_kpis_with_their_charts(cli: CliState, tmp_path: Path) -> None:
    now = datetime(2026, 4, 1, 10, 0, tzinfo=LONDON)
    reports_job(cli, now)
    tick_job(cli, lambda: now)  # the service's tick sends what the report jobs queued
    sent = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in (tmp_path / "inboxbot-data" / "outbox").glob("*.eml")
    ]
    [kpis] = [message for message in sent if message["Subject"] == "Ombudsman KPIs for 2026 Q1"]
    assert len([part for part in kpis.walk() if part.get_content_type() == "image/png"]) == 2
