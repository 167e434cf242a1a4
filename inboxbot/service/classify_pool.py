"""Classifying in worker processes.

The judgement is pure (raw bytes and the settings in, plain data out), so a
backfill can spread it over every CPU while the main process reads, stores and
acts. Each worker is given the settings once, when it starts; after that only
raw bytes go out and :class:`~inboxbot.service.classifying.Judged` records come
back.

Workers come from a fork server where the platform has one (Linux) and are
spawned elsewhere (Windows, macOS): never forked from a process that may be
running threads. Everything a worker runs is a top-level function of this
module, and this module imports no database code, so a worker starts quickly.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from datetime import datetime
from multiprocessing.context import BaseContext

from inboxbot.domain.classify import ClassifySettings
from inboxbot.service.classifying import Judged, judge_many

log = logging.getLogger(__name__)

# The settings of this worker process, given by the pool's initializer.
_settings: ClassifySettings | None = None


# Workers run at a lower priority than the process that feeds them: that one stores and
# acts, and the whole run waits on it, while a worker's share of the CPU is only what is spare.
WORKER_NICENESS = 10
# How long closing waits for workers still starting before it shuts them down anyway.
STARTUP_TIMEOUT = 60.0


def _start_worker(settings: ClassifySettings) -> None:
    global _settings  # one per worker process, set once when it starts
    _settings = settings
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)


def _started() -> bool:
    return _settings is not None


def judge_all(items: Sequence[tuple[bytes, datetime | None]]) -> list[Judged]:
    """Classify each (raw, received) pair with this worker's settings."""
    if _settings is None:
        raise RuntimeError("this process was not started as a classifying worker")
    return judge_many(items, _settings)


# What a worker runs on one batch.
Task = Callable[[Sequence[tuple[bytes, datetime | None]]], list[Judged]]


def start_method() -> str:
    """A fork server where there is one, else spawn: both are safe next to threads."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


# What every worker needs, imported once by the fork server: this module, and the bank holidays
# module that unpickling a worker's settings (their working calendar) imports, which imports
# every country's holidays: 70 ms in each worker otherwise.
_WORKER_IMPORTS = (__name__, "holidays.countries")


def _preload(context: BaseContext, modules: Sequence[str]) -> None:
    """Have the fork server import ``modules`` (and what every worker needs) once, for all the
    workers it forks."""
    context.set_forkserver_preload([*_WORKER_IMPORTS, *modules])


def start_early(preload: Sequence[str] = ()) -> None:
    """Start the fork server now, where there is one, so that its imports (a few tenths of a
    second of CPU) overlap what the caller does next, such as connecting to the mailbox;
    a pool started later forks its workers from it at once. It costs one idle process when
    no pool is started after all, and stops with this process."""
    if start_method() != "forkserver":
        return
    from multiprocessing import forkserver  # POSIX only

    _preload(multiprocessing.get_context("forkserver"), preload)
    forkserver.ensure_running()


class ClassifierPool:
    """``processes`` workers classifying batches of raw messages."""

    def __init__(
        self,
        settings: ClassifySettings,
        processes: int,
        preload: Sequence[str] = (),
        task: Task | None = None,
    ) -> None:
        """``preload`` names modules the fork server imports once for all its workers;
        ``task`` is what a worker runs on a batch (a top-level function; :func:`judge_all`)."""
        if processes < 1:
            raise ValueError("a classifier pool needs at least one process")
        self.settings = settings
        self.processes = processes
        self.preload = tuple(preload)
        self.task: Task = task or judge_all
        self.generation = 0  # counts restarts, so a crash is answered by one restart only
        self._ready = threading.Event()  # set once the current executor's processes are up
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        method = start_method()
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            # Imported once by the fork server, so each worker it forks has them already
            # (when start_early started it, with what it was given then).
            _preload(context, self.preload)
        executor = ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self.settings,),
        )
        self._ready = threading.Event()
        # Starting the processes (and, the first time, the fork server with its imports)
        # takes seconds; the caller goes on meanwhile and submits once ``ready`` says so.
        threading.Thread(
            target=self._warm_up, args=(executor, self._ready), name="start classifiers", daemon=True
        ).start()
        return executor

    def _warm_up(self, executor: ProcessPoolExecutor, ready: threading.Event) -> None:
        try:
            wait([executor.submit(_started) for _ in range(self.processes)])
        except Exception as exc:  # a pool that cannot start fails its first batch, which is handled there
            log.debug("starting classifier processes: %s", exc)
        finally:
            ready.set()

    def wait_ready(self) -> None:
        """Block until the worker processes are up (or STARTUP_TIMEOUT passes)."""
        self._ready.wait(STARTUP_TIMEOUT)

    @property
    def ready(self) -> bool:
        """True once the worker processes are up (submitting earlier would wait for them)."""
        return self._ready.is_set()

    def submit(self, items: Sequence[tuple[bytes, datetime | None]]) -> Future[list[Judged]]:
        """Classify ``items`` in a worker; the future holds one Judged per item, in order."""
        return self._executor.submit(self.task, list(items))

    def restart(self, generation: int) -> None:
        """Replace workers that died, unless that was done already since ``generation``."""
        if generation != self.generation:
            return
        log.warning("a classifying worker process died; starting new ones")
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._start()
        self.generation += 1

    def close(self) -> None:
        """Stop the workers; work not yet started is dropped (it is still stored, unclassified)."""
        self._ready.wait(STARTUP_TIMEOUT)  # not under the thread still starting processes
        self._executor.shutdown(wait=True, cancel_futures=True)
