"""How the three reports scale with the number of cases.

For each size (10,000 and 50,000 cases by default) a fresh database is filled with
Core bulk inserts, as ``benchmarks.tick`` fills it (one open Housing Repairs task per
case, due 0 to 59 working days ahead of Tuesday 3 March 2026), plus one trusted,
processed 'notification' message per case, received when the case was opened (late
February 2026, inside 2026 Q1). Then each report is timed (wall clock), with its
rendering:

- the Monday overdue report: ``overdue_report`` then ``ret_report_email``, run on
  ``report_day`` (30 working days after 3 March, so about half the tasks are overdue
  or nearly so and the report is not trivially short);
- the Ombudsman spreadsheet: ``case_rows`` then ``write_ombudsman_spreadsheet`` to an
  .xlsx file in a temporary folder;
- the quarterly KPIs for 2026 Q1: ``quarterly_kpis`` then ``render_kpis`` (charts
  included).

The reports only read, so each one's peak memory (tracemalloc) is taken from a second
run of the same report on the same database, so tracing does not slow the timed run.
At the end: for each report, the cost per case at the largest size against the
smallest (target: about 1.0, i.e. flat).

    .venv/bin/python -m benchmarks.reports [--sizes 10000,50000] [--postgres] [--no-memory]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from benchmarks.tick import CHUNK, NOW, TARGET_RATIO, fresh_database, populate, rows, timed
from inboxbot.adapters.db.models import StoredMessage, table
from inboxbot.adapters.report_email import render_kpis
from inboxbot.adapters.spreadsheet import write_ombudsman_spreadsheet
from inboxbot.domain.calendar import WorkingCalendar
from inboxbot.domain.kinds import MessageKind, MessageState
from inboxbot.domain.periods import Period, quarter_of
from inboxbot.service.kpis import quarterly_kpis
from inboxbot.service.overdue import overdue_report, ret_report_email
from inboxbot.service.spreadsheet_rows import case_rows
from inboxbot.service.unit_of_work import UnitOfWork

REPORTS = ("overdue", "spreadsheet", "kpis")
REPORT_OFFSET = 30  # working days after NOW: about half the tasks overdue or nearly so
SOURCE = "benchmark"
INGESTED_AT = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


@dataclass
class Timing:
    seconds: float
    peak_mb: float | None
    size: int  # rows in the overdue report, spreadsheet rows, or cases received


@dataclass
class Run:
    cases: int
    timings: dict[str, Timing]

    def ms_per_case(self, report: str) -> float:
        return self.timings[report].seconds / self.cases * 1000


def message_rows(count: int, calendar: WorkingCalendar) -> Iterator[dict[str, Any]]:
    """One trusted, processed notification per case of ``benchmarks.tick.rows``, received when it opened."""
    for case, _ in rows(count, calendar):
        ident = case["id"]
        raw = f"Subject: LGSCO notification {case['ombudsman_ref']}\r\n\r\nCase {ident}\r\n".encode()
        yield {
            "id": ident,
            "source": SOURCE,
            "source_key": f"notification-{ident:08d}",
            "message_id": f"<notification-{ident:08d}@lgo.org.uk>",
            "sha256": hashlib.sha256(raw).hexdigest(),
            "raw": raw,
            "size": len(raw),
            "received_at": case["opened_at"],
            "ingested_at": INGESTED_AT,
            "subject": f"LGSCO notification {case['ombudsman_ref']}",
            "sender": "intake@lgo.org.uk",
            "kind": MessageKind.NOTIFICATION.value,
            "trusted": True,
            "state": MessageState.PROCESSED.value,
            "error": None,
            "classification": None,
            "case_id": ident,
            "moved_to": None,
            "ombudsman": case["ombudsman"],
            "ombudsman_ref": case["ombudsman_ref"],
            "council_ref": case["council_ref"],
        }


def populate_messages(engine: Engine, count: int, calendar: WorkingCalendar) -> None:
    """One message per case, in one transaction of bulk inserts."""
    messages = table(StoredMessage)
    batch = list(message_rows(count, calendar))
    with engine.begin() as conn:
        for start in range(0, count, CHUNK):
            conn.execute(insert(messages), batch[start : start + CHUNK])
        if engine.dialect.name == "postgresql":  # explicit ids leave the sequence behind
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('messages', 'id'), {count})"))


def report_work(
    uow: UnitOfWork, calendar: WorkingCalendar, period: Period, folder: Path
) -> dict[str, Callable[[], int]]:
    """Each report with its rendering, returning how many rows it covered."""
    today = report_day(calendar)

    def overdue() -> int:
        report = overdue_report(uow, calendar, today)
        _, text_body, html = ret_report_email(report)
        assert text_body, "the overdue email has no text"
        assert html, "the overdue email has no HTML"
        return sum(len(group.rows) for group in report.groups)

    def spreadsheet() -> int:
        found = case_rows(uow, calendar, today)
        path = write_ombudsman_spreadsheet(found, folder / "cases.xlsx")
        assert path.stat().st_size > 0
        return len(found)

    def kpis() -> int:
        figures = quarterly_kpis(uow, calendar, period)
        _, _, _, images = render_kpis(figures)
        assert images
        return figures.cases_received

    return {"overdue": overdue, "spreadsheet": spreadsheet, "kpis": kpis}


def report_day(calendar: WorkingCalendar) -> date:
    """The day the reports are run: ``REPORT_OFFSET`` working days after ``NOW``."""
    return calendar.add_working_days(NOW.date(), REPORT_OFFSET)


def traced(work: Callable[[], int]) -> float:
    """The tracemalloc peak of ``work``, in MB."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def measure(count: int, *, postgres: bool, memory: bool, calendar: WorkingCalendar) -> Run:
    period = quarter_of(NOW.date())
    timings: dict[str, Timing] = {}
    with tempfile.TemporaryDirectory(prefix="inboxbot-bench-reports-") as tmp:
        folder = Path(tmp)
        with fresh_database(postgres, folder) as engine:
            populate(engine, count, calendar)
            populate_messages(engine, count, calendar)
            uow = UnitOfWork(engine)
            for name, work in report_work(uow, calendar, period, folder).items():
                size, seconds = timed(work)
                peak = traced(work) if memory else None
                timings[name] = Timing(seconds, peak, size)
    assert timings["spreadsheet"].size == count, "the spreadsheet does not have a row per case"
    assert timings["kpis"].size == count, "the KPIs did not count every case as received in the quarter"
    return Run(count, timings)


def main() -> None:
    parser = argparse.ArgumentParser(description="reports: cost per case as the caseload grows.")
    parser.add_argument("--sizes", default="10000,50000", help="comma-separated numbers of cases")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use a fresh schema on postgresql+psycopg://postgres@127.0.0.1:5432/test (dropped afterwards)",
    )
    parser.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the second, traced run of each report",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    calendar = WorkingCalendar.build()

    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"backend: {backend}; report day: {report_day(calendar).isoformat()}; "
        f"KPI period: {quarter_of(NOW.date()).label}"
    )
    print(f"{'cases':>7} {'report':<12} {'seconds':>8} {'ms/case':>8} {'peak MB':>8} {'rows':>7}")
    runs: list[Run] = []
    for size in sizes:
        run = measure(size, postgres=args.postgres, memory=not args.no_memory, calendar=calendar)
        runs.append(run)
        for name in REPORTS:
            timing = run.timings[name]
            peak = "-" if timing.peak_mb is None else f"{timing.peak_mb:.1f}"
            print(
                f"{run.cases:>7} {name:<12} {timing.seconds:>8.2f} {run.ms_per_case(name):>8.3f} "
                f"{peak:>8} {timing.size:>7}",
                flush=True,
            )
    smallest, largest = min(runs, key=lambda r: r.cases), max(runs, key=lambda r: r.cases)
    if largest.cases != smallest.cases:
        for name in REPORTS:
            ratio = largest.ms_per_case(name) / smallest.ms_per_case(name)
            print(
                f"{name}: per-case cost at {largest.cases} against {smallest.cases} cases: {ratio:.2f}x "
                f"(target: about {TARGET_RATIO:.1f}, i.e. flat)"
            )


if __name__ == "__main__":
    main()
