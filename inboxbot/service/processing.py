"""Classifying stored messages and recording the judgement on each.

A message that cannot be classified is quarantined with its error, stays in
the database and can be retried; the others carry on.

Classifying is pure and the costliest step of taking mail in, so a backfill can
run it in worker processes (:class:`Workers`) while this process goes on
storing and acting. Judgements are recorded here, in the order the messages
were handed over, a batch per transaction; a message is only ever classified
after its raw bytes are committed, and one still unclassified when a run stops
is classified by the next.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from inboxbot.adapters.db.models import MessageBody, StoredMessage, table
from inboxbot.domain.classify import ClassifySettings
from inboxbot.domain.kinds import MessageState
from inboxbot.service import audit
from inboxbot.service.classify_pool import ClassifierPool, Task
from inboxbot.service.classifying import Judged, judge_many, judgement_record
from inboxbot.service.ingest import NewMessage
from inboxbot.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

__all__ = ["Judging", "ProcessResult", "Workers", "classify_stored", "judgement_record"]

# Messages per task given to a worker: small enough to spread the work evenly,
# large enough that sending it costs little next to classifying it.
CLASSIFY_BATCH = 25
# Raw bytes kept in memory for messages waiting for a worker; beyond that only their
# ids are kept and the bytes are read back from the database when their turn comes.
HOLD_BYTES = 4_000_000
# Workers restarted this often in one run are not the fault of one message.
MAX_RESTARTS = 3


@dataclass(frozen=True)
class Workers:
    """Worker processes for classifying: how many, and for how much mail they are worth starting."""

    processes: int = 0  # 0 classifies in this process
    # A run classifies this many messages itself before starting workers: a few new
    # messages are done sooner than a process starts; a backfill is not.
    start_after: int = 100
    # Modules a worker needs besides the classifier, imported once for all workers where the
    # platform allows. A worker also runs the main script again before it starts
    # (multiprocessing does so): the `inboxbot` script imports nothing (entrypoints.launcher).
    preload: tuple[str, ...] = ()
    task: Task | None = None  # what a worker runs on a batch; None: judge_all
    # While the workers are starting (seconds, the first time), this process classifies
    # rather than waits; tests turn it off so that every message goes to a worker.
    help_while_starting: bool = True


@dataclass
class ProcessResult:
    """What one pass over stored messages did."""

    classified: list[int] = field(default_factory=list)
    quarantined: list[int] = field(default_factory=list)
    in_workers: int = 0  # how many of them were judged in worker processes


# Built once and bound per batch: a backfill classifies thousands in a row.
_MESSAGES = table(StoredMessage)
_BODIES = table(MessageBody)
_LOAD = (
    select(_MESSAGES.c.id, _BODIES.c.raw, _MESSAGES.c.received_at)
    .join_from(_MESSAGES, _BODIES, _BODIES.c.message_id == _MESSAGES.c.id)
    .where(
        _MESSAGES.c.id.in_(bindparam("ids", expanding=True)), _MESSAGES.c.state == MessageState.STORED.value
    )
)
# One message's row, by id ("the_id"), with the columns given: judgements here, registering too.
UPDATE_MESSAGE = update(_MESSAGES).where(_MESSAGES.c.id == bindparam("the_id"))


@dataclass
class _Ticket:
    """A batch given to the workers."""

    future: Future[list[Judged]]
    messages: list[NewMessage]
    generation: int


class Judging:
    """Classifies stored messages and records each judgement, in the order they are handed over.

    ``add`` takes messages just stored (bytes at hand), ``add_ids`` messages stored
    earlier; ``ensure`` waits until one message's judgement is recorded, and
    ``finish`` until all are. With ``workers.processes`` at 0, or until
    ``workers.start_after`` messages were handed over, classifying happens at once
    in this process; after that, in worker processes, while the caller goes on.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        settings: ClassifySettings,
        now: Callable[[], datetime],
        workers: Workers | None = None,
    ) -> None:
        self.uow = uow
        self.settings = settings
        self.now = now
        self.workers = workers or Workers()
        self.result = ProcessResult()
        self._pool: ClassifierPool | None = None
        self._gave_up = False
        self._handed_over = 0
        self._waiting: deque[NewMessage | int] = deque()  # not yet classified: bytes at hand, or an id
        self._held = 0  # bytes of the messages waiting with their bytes at hand
        self._in_flight: deque[_Ticket] = deque()
        self._pending: set[int] = set()  # handed over, judgement not yet recorded
        # What each message classified in this run replies to, for registering it.
        self.threads: dict[int, tuple[str, ...]] = {}

    # -- handing messages over ---------------------------------------------------------------

    def add(self, messages: Sequence[NewMessage]) -> None:
        """Classify messages just stored (their bytes are used as they are)."""
        count = 0
        for message in messages:
            if message.message_id in self._pending:
                continue
            self._pending.add(message.message_id)
            count += 1
            if self._held + len(message.raw) <= HOLD_BYTES:
                self._waiting.append(message)
                self._held += len(message.raw)
            else:
                self._waiting.append(message.message_id)  # its bytes are read back when its turn comes
        self._handed(count)

    def add_ids(self, message_ids: Iterable[int]) -> None:
        """Classify messages stored earlier (their bytes are read back when their turn comes)."""
        count = 0
        for message_id in message_ids:
            if message_id not in self._pending:
                self._pending.add(message_id)
                self._waiting.append(message_id)
                count += 1
        self._handed(count)

    def expect(self, count: int) -> None:
        """``count`` more messages are on their way. When that makes enough to be worth the
        workers, they are started now, and come up while the first messages are fetched."""
        self._start_workers_for(self._handed_over + count)

    def _handed(self, count: int) -> None:
        self._handed_over += count
        self._start_workers_for(self._handed_over)
        self._pump(block=False)

    def _start_workers_for(self, messages: int) -> None:
        wanted = self.workers.processes > 0 and messages > self.workers.start_after
        if self._pool is None and wanted and not self._gave_up:
            workers = self.workers
            self._pool = ClassifierPool(self.settings, workers.processes, workers.preload, workers.task)
            log.info("classifying in %d worker processes", workers.processes)

    def prioritise(self, order: Sequence[int]) -> None:
        """Classify the messages still waiting in this order (the rest after them)."""
        rank = {message_id: n for n, message_id in enumerate(order)}
        last = len(rank)
        self._waiting = deque(
            sorted(self._waiting, key=lambda m: rank.get(m if isinstance(m, int) else m.message_id, last))
        )

    # -- waiting for judgements -------------------------------------------------------------

    def ensure(self, message_id: int) -> None:
        """Return once the judgement on ``message_id`` is recorded (at once when it was not handed over).

        Finished batches are recorded and the workers given more even when this one is
        recorded already: registering runs behind classifying, and would otherwise leave
        the workers idle while it catches up."""
        self._pump(block=False)
        while message_id in self._pending:
            self._pump(block=True)

    def finish(self) -> ProcessResult:
        """Classify and record everything handed over; what was done."""
        while self._pending:
            self._pump(block=True)
        return self.result

    def close(self) -> None:
        """Stop the workers (messages not yet classified stay stored, for the next run)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> Judging:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the work ---------------------------------------------------------------------------

    def _pump(self, *, block: bool) -> None:
        """Record finished judgements in order and keep the workers busy; with ``block``,
        make progress on at least one batch."""
        while self._in_flight and (block or self._pool is None or self._in_flight[0].future.done()):
            ticket = self._in_flight.popleft()
            judged, in_workers = self._collect(ticket)
            self._record(ticket.messages, judged, in_workers=in_workers)
            block = False
            self._fill()
        if self._pool is None:
            while self._waiting:
                self._judge_here()
        else:
            self._fill()
            if block and not self._in_flight and self._waiting:
                # The workers are still starting: rather than wait, do a batch here.
                if not self.workers.help_while_starting:
                    self._pool.wait_ready()
                    self._fill()
                if not self._in_flight:
                    self._judge_here()
        if not self._in_flight and not self._waiting:
            self._pending.clear()  # a guard: everything handed over is recorded or gone

    def _judge_here(self) -> None:
        messages = self._take()
        self._record(messages, judge_many([(m.raw, m.received_at) for m in messages], self.settings))

    def _fill(self) -> None:
        while self._pool is not None and self._pool.ready and self._waiting:
            if len(self._in_flight) >= 2 * self._pool.processes + 2:
                return
            messages = self._take()
            if not messages:
                continue
            generation = self._pool.generation
            try:
                future = self._pool.submit([(m.raw, m.received_at) for m in messages])
            except Exception as exc:  # the pool broke before taking the batch: this process does it
                log.warning("could not hand a batch to the workers (%s)", type(exc).__name__)
                self._restart(generation)
                self._record(messages, judge_many([(m.raw, m.received_at) for m in messages], self.settings))
                continue
            self._in_flight.append(_Ticket(future, messages, generation))

    def _take(self) -> list[NewMessage]:
        """The next batch of waiting messages, bytes read back for those that need it."""
        batch: list[NewMessage | int] = []
        while self._waiting and len(batch) < CLASSIFY_BATCH:
            batch.append(self._waiting.popleft())
        missing = [m for m in batch if isinstance(m, int)]
        loaded: dict[int, NewMessage] = {}
        if missing:
            with self.uow:
                rows = self.uow.session.connection().execute(_LOAD, {"ids": missing})
                loaded = {row.id: NewMessage(row.id, row.raw, row.received_at) for row in rows}
        messages: list[NewMessage] = []
        for item in batch:
            if isinstance(item, int):
                found = loaded.get(item)
                if found is None:  # classified meanwhile by another run, or gone
                    self._pending.discard(item)
                    continue
                messages.append(found)
            else:
                self._held -= len(item.raw)
                messages.append(item)
        return messages

    def _collect(self, ticket: _Ticket) -> tuple[list[Judged], bool]:
        """A batch's judgements. When a worker died, the batch is done again; when it dies
        again, each message is tried on its own and the one that kills a worker is quarantined."""
        try:
            return ticket.future.result(), True
        except Exception as exc:  # a worker died (BrokenProcessPool), so the pool is restarted
            log.warning("classifying in a worker failed (%s)", type(exc).__name__)
            if self._pool is None or ticket.generation != self._pool.generation:
                # The pool was restarted for another batch's sake: this one simply goes again.
                again = self._again([(m.raw, m.received_at) for m in ticket.messages])
                if again is not None:
                    return again, self._pool is not None
            else:
                self._restart(ticket.generation)
        judged: list[Judged] = []
        for message in ticket.messages:
            one = self._again([(message.raw, message.received_at)])
            if one is None:
                one = [Judged.failed("the classifier stopped on this message (a worker process died)")]
            judged.extend(one)
        return judged, self._pool is not None

    def _again(self, items: list[tuple[bytes, datetime | None]]) -> list[Judged] | None:
        """Classify ``items`` once more: in a worker, or here once workers proved unusable."""
        if self._pool is None:
            return judge_many(items, self.settings)
        generation = self._pool.generation
        try:
            return self._pool.submit(items).result()
        except Exception as exc:
            log.warning("classifying in a worker failed again (%s)", type(exc).__name__)
            self._restart(generation)
            return None

    def _restart(self, generation: int) -> None:
        assert self._pool is not None
        self._pool.restart(generation)
        if self._pool.generation > MAX_RESTARTS:
            # Workers that keep dying are not the fault of one message: classify here instead.
            log.warning("classifying workers keep failing; classifying in this process")
            self._gave_up = True
            self.close()

    def _record(
        self, messages: Sequence[NewMessage], judged: Sequence[Judged], *, in_workers: bool = False
    ) -> None:
        """Write a batch of judgements and their audit events in one transaction."""
        if not messages:
            return
        classified: list[dict[str, Any]] = []
        quarantined: list[dict[str, Any]] = []
        events: list[tuple[datetime, str, int, dict[str, Any]]] = []  # at, action, message, detail
        for message, judgement in zip(messages, judged, strict=True):
            at = self.now()
            if judgement.error is not None:
                quarantined.append(
                    {
                        "the_id": message.message_id,
                        "state": MessageState.QUARANTINED.value,
                        "error": judgement.error,
                    }
                )
                events.append((at, "message quarantined", message.message_id, judgement.detail))
                log.warning("message %s quarantined: %s", message.message_id, judgement.error)
            else:
                classified.append(
                    {
                        "the_id": message.message_id,
                        **judgement.columns,
                        "state": MessageState.CLASSIFIED.value,
                    }
                )
                events.append((at, "message classified", message.message_id, judgement.detail))
        with self.uow:
            session = self.uow.session
            connection = session.connection()
            if classified:
                connection.execute(UPDATE_MESSAGE, classified)
            if quarantined:
                connection.execute(UPDATE_MESSAGE, quarantined)
            for at, action, message_id, detail in events:
                audit.record(session, at, action, message_id=message_id, **detail)
            self.uow.commit()
        if in_workers:
            self.result.in_workers += len(messages)
        for message, judgement in zip(messages, judged, strict=True):
            self._pending.discard(message.message_id)
            if judgement.error is None:
                self.result.classified.append(message.message_id)
                self.threads[message.message_id] = judgement.thread
            else:
                self.result.quarantined.append(message.message_id)


def stored_ids(uow: UnitOfWork, message_ids: Iterable[int] | None = None) -> list[int]:
    """Stored, not yet classified messages, oldest first."""
    with uow:
        query = select(StoredMessage.id).where(StoredMessage.state == MessageState.STORED.value)
        if message_ids is not None:
            query = query.where(StoredMessage.id.in_(list(message_ids)))
        return list(uow.session.scalars(query.order_by(StoredMessage.received_at, StoredMessage.id)))


def in_order(judging: Judging, message_ids: Iterable[int]) -> Iterator[int]:
    """``message_ids``, each handed on once its judgement is recorded."""
    for message_id in message_ids:
        judging.ensure(message_id)
        yield message_id


def classify_stored(
    uow: UnitOfWork,
    settings: ClassifySettings,
    now: Callable[[], datetime],
    message_ids: Iterable[int] | None = None,
    workers: Workers | None = None,
) -> ProcessResult:
    """Classify each stored (not yet classified) message, oldest first, a batch per transaction."""
    with Judging(uow, settings, now, workers) as judging:
        judging.add_ids(stored_ids(uow, message_ids))
        return judging.finish()
