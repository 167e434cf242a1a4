"""How ``tick`` scales with the number of open cases, and what sending its output costs.

For each size (1,000, 10,000 and 50,000 open cases by default) a fresh database is
filled with Core bulk inserts: every case has one open Housing Repairs task, due 0 to
59 working days ahead, created 1 to 5 working days ago; one task in seven was reminded
yesterday, one in three already has its invite out (one in thirty of those for an
older due date, so it needs an update). Then, at a pinned instant inside the sending
hours (Tuesday 3 March 2026, 10:00 London), with the real templates and invite builder:

- one ``tick`` is timed (wall clock; it queues about 0.6 emails per case);
- one ``dispatch`` sends everything it queued, composed as ``inboxbot work`` composes it,
  to a FileTransport in a temporary folder (``--sender null``: to a sender that accepts
  and drops each message); the daily cap is lifted for this run, else one service area
  would get 50 emails and the rest would be held;
- a second ``tick`` at the same instant is timed and must queue nothing.

The tick's peak memory (tracemalloc) is taken from the same tick run again on a second,
identical fresh database, so tracing does not slow the timed one. At the end: the cost
per case at the largest size against the smallest (target: about 1.0, i.e. flat).

    .venv/bin/python -m benchmarks.tick [--sizes 1000,10000,50000] [--sender file|null] [--postgres]
                                        [--profile] [--no-memory]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, func, insert, select, text

from inboxbot.adapters.db.engine import ensure_schema, make_engine
from inboxbot.adapters.db.models import Case, OutboxItem, Task, table
from inboxbot.adapters.invites import invite
from inboxbot.adapters.messages import Templates
from inboxbot.adapters.sending import FileTransport
from inboxbot.config import DirectorySettings, ServiceArea, Settings
from inboxbot.domain.calendar import LONDON, WorkingCalendar
from inboxbot.domain.kinds import CaseStatus, OutboxStatus, TaskStatus
from inboxbot.domain.schedule import SendingRules, in_sending_hours
from inboxbot.entrypoints.wiring import composer
from inboxbot.service.actions import Acting
from inboxbot.service.dispatch import Sender, dispatch
from inboxbot.service.tick import TickResult, tick
from inboxbot.service.unit_of_work import UnitOfWork

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=LONDON)  # a Tuesday, inside 08:00-18:00
AREA = "Housing Repairs"
DUE_SPREAD = 60  # working days
TARGET_RATIO = 1.0
CHUNK = 5_000  # rows per executemany
DIRECTORY = DirectorySettings(
    shared_mailbox="ombudsman@northmere.gov.uk",
    head_of_resident_contact="hrc@northmere.gov.uk",
    acknowledge={"lgsco": "intake@lgo.org.uk"},
    service_areas=[
        ServiceArea(
            name=AREA,
            task_recipients=["repairs.complaints@northmere.gov.uk"],
            head_of_service="repairs.head@northmere.gov.uk",
            slt_director="housing.director@northmere.gov.uk",
            keywords=["repair"],
        )
    ],
)
T = TypeVar("T")


class NullSender:
    """Accepts every message and keeps nothing: dispatch without the cost of writing files."""

    name = "null://"

    def send(self, message: EmailMessage) -> str:
        return "250 dropped"

    def close(self) -> None:
        """Nothing to let go of."""


@dataclass
class Run:
    cases: int
    tick_seconds: float
    queued: int
    dispatch_seconds: float
    sent: int
    second_tick_seconds: float
    second_queued: int
    peak_mb: float | None

    @property
    def ms_per_case(self) -> float:
        return self.tick_seconds / self.cases * 1000


def rows(count: int, calendar: WorkingCalendar) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """One (case, task) pair of row dicts per case, ids 1..count."""
    today = NOW.date()
    dues = [calendar.add_working_days(today, n) for n in range(DUE_SPREAD)]
    created = [
        datetime.combine(calendar.add_working_days(today, -n), clock_time(9, 30), tzinfo=LONDON)
        for n in range(1, 6)
    ]
    yesterday = calendar.add_working_days(today, -1)
    for i in range(count):
        ident = i + 1
        due = dues[i % DUE_SPREAD]
        opened = created[i % len(created)]
        invited = i % 3 == 0
        # An invite out for a due date that has since moved: the tick must send an update.
        invite_due = (calendar.add_working_days(due, 2) if i % 30 == 0 else due) if invited else None
        yield (
            {
                "id": ident,
                "ombudsman": "lgsco",
                "ombudsman_ref": f"25 {i // 1000:03d} {i % 1000:03d}",
                "council_ref": f"CAS-{ident:07d}",
                "service_area": AREA,
                "subject": f"Delay in repairing a leaking roof, case {ident}",
                "status": CaseStatus.OPEN.value,
                "next_due": due,
                "opened_at": opened,
                "closed_at": None,
                "updated_at": opened,
            },
            {
                "id": ident,
                "case_id": ident,
                "token": f"B{ident:08d}",
                "plan_key": None,
                "kind": "notification",
                "title": "Respond to the Ombudsman's enquiries",
                "detail": "Send the complaint file and a chronology of the repairs.",
                "service_area": AREA,
                "due": due,
                "status": TaskStatus.OPEN.value,
                "created_at": opened,
                "done_at": None,
                "done_by": None,
                "note": None,
                "source_message_id": None,
                "last_reminder_on": yesterday if i % 7 == 0 else None,
                "invite_sequence": 0,
                "invite_due": invite_due,
            },
        )


def populate(engine: Engine, count: int, calendar: WorkingCalendar) -> None:
    """``count`` open cases with one open task each, in one transaction of bulk inserts."""
    cases, tasks = table(Case), table(Task)
    pairs = list(rows(count, calendar))
    with engine.begin() as conn:
        for start in range(0, count, CHUNK):
            chunk = pairs[start : start + CHUNK]
            conn.execute(insert(cases), [c for c, _ in chunk])
            conn.execute(insert(tasks), [t for _, t in chunk])
        if engine.dialect.name == "postgresql":  # explicit ids leave the sequences behind
            for name in ("cases", "tasks"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), {count})"))


@contextmanager
def fresh_database(postgres: bool, folder: Path) -> Iterator[Engine]:
    """An engine on a new, empty, up-to-date database; dropped afterwards."""
    if postgres:
        import pytest

        from tests.support.databases import postgres_schema

        try:
            with postgres_schema() as url:
                engine = make_engine(url)
                try:
                    ensure_schema(engine)
                    yield engine
                finally:
                    engine.dispose()
        except pytest.skip.Exception as exc:
            raise SystemExit(str(exc)) from None
        return
    engine = make_engine(f"sqlite:///{folder / 'inboxbot.sqlite3'}")
    try:
        ensure_schema(engine)
        yield engine
    finally:
        engine.dispose()


def timed(work: Callable[[], T]) -> tuple[T, float]:
    """The result of ``work`` and its wall time in seconds."""
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def count_pending(uow: UnitOfWork) -> int:
    with uow:
        pending = uow.session.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.status == OutboxStatus.PENDING.value)
        )
        return int(pending or 0)


def measure(
    count: int,
    *,
    postgres: bool,
    sender_kind: str,
    profile: bool,
    memory: bool,
    acting: Acting,
    rules: SendingRules,
) -> Run:
    calendar = acting.calendar

    def run_tick(uow: UnitOfWork) -> TickResult:
        return tick(uow, acting, invite, calendar, rules, NOW)

    with tempfile.TemporaryDirectory(prefix="inboxbot-bench-tick-") as tmp:
        work = Path(tmp)
        (work / "timed").mkdir()
        (work / "traced").mkdir()
        with fresh_database(postgres, work / "timed") as engine:
            populate(engine, count, calendar)
            uow = UnitOfWork(engine)
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            first, tick_seconds = timed(lambda: run_tick(uow))
            if profiler:
                profiler.disable()
                report = io.StringIO()
                pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(25)
                print(f"--- cProfile of the tick over {count} cases (cumulative) ---")
                print(report.getvalue())
            queued = len(first.queued)
            assert count_pending(uow) == queued, "the outbox does not hold what the tick reported"
            settings = Settings(data_dir=work, directory=DIRECTORY)
            sender: Sender = FileTransport(work / "outbox") if sender_kind == "file" else NullSender()
            sent, dispatch_seconds = timed(
                lambda: dispatch(uow, sender, composer(settings), NOW, daily_cap=max(queued, 1))
            )
            assert len(sent.sent) == queued, f"dispatch sent {len(sent.sent)} of {queued}"
            second, second_seconds = timed(lambda: run_tick(uow))
            assert second.queued == [], f"the second tick queued {len(second.queued)}"
        if not memory:
            peak = None
        else:
            peak = traced_peak(
                count,
                queued,
                postgres=postgres,
                folder=work / "traced",
                calendar=calendar,
                tick_once=run_tick,
            )
    return Run(
        count,
        tick_seconds,
        queued,
        dispatch_seconds,
        len(sent.sent),
        second_seconds,
        len(second.queued),
        peak,
    )


def traced_peak(
    count: int,
    queued: int,
    *,
    postgres: bool,
    folder: Path,
    calendar: WorkingCalendar,
    tick_once: Callable[[UnitOfWork], TickResult],
) -> float:
    """The tracemalloc peak, in MB, of the same tick on a second, identical fresh database."""
    with fresh_database(postgres, folder) as engine:
        populate(engine, count, calendar)
        uow = UnitOfWork(engine)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            traced = tick_once(uow)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(traced.queued) == queued, "the traced tick did something else"
    return peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description="tick: cost per open case as the caseload grows.")
    parser.add_argument("--sizes", default="1000,10000,50000", help="comma-separated numbers of open cases")
    parser.add_argument(
        "--sender",
        choices=("file", "null"),
        default="file",
        help="dispatch to a FileTransport in a temporary folder (default) or to a sender that drops mail",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="use a fresh schema on postgresql+psycopg://postgres@127.0.0.1:5432/test (dropped afterwards)",
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of each timed tick")
    parser.add_argument(
        "--no-memory",
        action="store_true",
        help="skip the second, traced tick (tracemalloc makes it several times slower than the timed one)",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    acting = Acting(DIRECTORY, Templates(), "Northmere Council", WorkingCalendar.build())
    rules = SendingRules()
    assert in_sending_hours(NOW, acting.calendar, rules), "the pinned instant must be inside sending hours"

    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"backend: {backend}; instant: {NOW.isoformat()} (London); sender: {args.sender}")
    print(
        f"{'cases':>7} {'tick s':>8} {'ms/case':>8} {'queued':>7} {'dispatch s':>11} {'sent':>7} "
        f"{'2nd tick s':>11} {'2nd queued':>11} {'peak MB':>8}"
    )
    runs: list[Run] = []
    for size in sizes:
        run = measure(
            size,
            postgres=args.postgres,
            sender_kind=args.sender,
            profile=args.profile,
            memory=not args.no_memory,
            acting=acting,
            rules=rules,
        )
        runs.append(run)
        print(
            f"{run.cases:>7} {run.tick_seconds:>8.2f} {run.ms_per_case:>8.3f} {run.queued:>7} "
            f"{run.dispatch_seconds:>11.2f} {run.sent:>7} {run.second_tick_seconds:>11.2f} "
            f"{run.second_queued:>11} {'-' if run.peak_mb is None else f'{run.peak_mb:.1f}':>8}",
            flush=True,
        )
    smallest, largest = min(runs, key=lambda r: r.cases), max(runs, key=lambda r: r.cases)
    if largest.cases != smallest.cases:
        ratio = largest.ms_per_case / smallest.ms_per_case
        print(
            f"per-case cost at {largest.cases} against {smallest.cases} cases: {ratio:.2f}x "
            f"(target: about {TARGET_RATIO:.1f}, i.e. flat)"
        )
    print("second tick at the same instant queued nothing: yes")


if __name__ == "__main__":
    main()
