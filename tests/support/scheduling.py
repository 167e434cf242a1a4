"""Driving the scheduler ``inboxbot run`` builds, with the clock pinned, one step at a time.

APScheduler 3 reads the time with ``datetime.now`` in its scheduler and executor
modules; :func:`pin_apscheduler_clock` puts a :class:`PinnedClock` there. A
:class:`DrivenScheduler` starts the scheduler as the service does, except that
jobs run in the test's own thread (APScheduler's DebugExecutor) and only when the
test calls :meth:`DrivenScheduler.process`, which is APScheduler's own
``_process_jobs``: what its thread does whenever it wakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

import apscheduler.executors.base
import apscheduler.schedulers.base
import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.background import BackgroundScheduler


class PinnedClock:
    """A clock that says what the test tells it to."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        """Move the time on."""
        self.at += by


def pin_apscheduler_clock(monkeypatch: pytest.MonkeyPatch, clock: PinnedClock) -> None:
    """Make APScheduler's scheduler and executors read ``clock``."""

    class Pinned(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return clock.at.astimezone(tz) if tz is not None else clock.at.replace(tzinfo=None)

    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", Pinned)
    monkeypatch.setattr(apscheduler.executors.base, "datetime", Pinned)


@dataclass
class DrivenScheduler:
    """A scheduler from ``build_scheduler``, started, whose jobs run only when the test says."""

    scheduler: BackgroundScheduler
    ran: list[tuple[str, datetime]] = field(default_factory=list)  # (job id, scheduled run time)

    def __post_init__(self) -> None:
        self.scheduler.add_executor(DebugExecutor())  # the "default" executor: runs jobs right here
        # Its own thread would process jobs whenever woken; here only the test does.
        self.scheduler.wakeup = lambda: None
        self.scheduler.add_listener(self._ran, EVENT_JOB_EXECUTED)
        self.scheduler.start()

    def _ran(self, event: JobExecutionEvent) -> None:
        # Only note it: a listener must not call back into the scheduler.
        self.ran.append((event.job_id, event.scheduled_run_time))

    def process(self) -> list[tuple[str, datetime]]:
        """Run every job due now (APScheduler's own loop body); what ran."""
        before = len(self.ran)
        self.scheduler._process_jobs()
        return self.ran[before:]

    def next_run(self, job_id: str) -> datetime:
        """When the job will run next."""
        job = self.scheduler.get_job(job_id)
        assert job is not None, f"no job {job_id}"
        when: datetime = job.next_run_time
        return when

    def stop(self) -> None:
        """Shut down without a last round of jobs (the scheduler's thread runs one as it stops)."""
        if self.scheduler.running:
            self.scheduler.remove_all_jobs()
            self.scheduler.shutdown(wait=True)
