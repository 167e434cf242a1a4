"""A backfill that classifies in worker processes, against a real Dovecot, on SQLite and PostgreSQL.

Workers must change nothing but the speed: the same judgements, the same cases
and tasks, registered in the same order (oldest first, even when the server's
order is not), as when one process does everything. A worker that dies costs
only the message it died on, and so does a message that fails registering in
the middle of a chunk; a run stopped half-way is finished by the next.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxbot.adapters.db.engine import ensure_schema, make_engine
from inboxbot.adapters.db.models import Case, Event, OutboxItem, StoredMessage, Task
from inboxbot.domain.kinds import CaseStatus, MessageState
from inboxbot.domain.planning import Plan
from inboxbot.service import actions, classify_pool, processing, register
from inboxbot.service.actions import Acting
from inboxbot.service.classify_pool import ClassifierPool
from inboxbot.service.classifying import judge
from inboxbot.service.ingest import ingest
from inboxbot.service.intake import IntakeResult, take_in
from inboxbot.service.ports import FetchedMessage
from inboxbot.service.processing import MAX_RESTARTS, Workers
from inboxbot.service.unit_of_work import UnitOfWork
from tests.integration.test_actions import ACTING
from tests.integration.test_imap import crlf, source_for
from tests.support.crashing import KILLER_HEADER, always_die, judge_or_die
from tests.support.databases import database_url_for
from tests.support.dovecot import DovecotServer
from tests.support.fakes import FakeMailbox
from tests.support.judgement import judgement

CORPUS = Path(__file__).parents[1] / "corpus"
AREAS = {
    "Council Tax": ["council tax", "single person discount", "summons"],
    "Housing Repairs": ["damp", "mould", "repair", "repairs"],
    "Adult Social Care": ["care package", "carer", "care and support"],
    "Planning": ["planning", "enforcement"],
}
# From the first message on, two processes classify every message.
TWO_WORKERS = Workers(processes=2, start_after=0, help_while_starting=False)
FIRST_ARRIVAL = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def clock() -> datetime:
    return datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def corpus_mail() -> list[bytes]:
    return [crlf(path.read_bytes()) for path in sorted(CORPUS.glob("*.eml"))]


def deliver_newest_first(dovecot: DovecotServer, mail: list[bytes]) -> None:
    """Mail appended so that the server's order (UIDs) is the reverse of the arrival order."""
    for n, raw in reversed(list(enumerate(mail))):
        dovecot.append(raw, when=FIRST_ARRIVAL + timedelta(minutes=n))


def backfill(
    dovecot: DovecotServer, uow: UnitOfWork, workers: Workers | None, **options: Any
) -> IntakeResult:
    return take_in(
        source_for(dovecot, batch_size=10),
        uow,
        judgement(),
        clock,
        service_keywords=AREAS,
        acting=ACTING,
        workers=workers,
        **options,
    )


@pytest.fixture
def one_process(database_url: str, tmp_path: Path) -> Iterator[UnitOfWork]:
    """A second database of the same kind, for the same mail taken in by one process."""
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    with database_url_for(backend, tmp_path / "one-process") as url:
        engine = make_engine(url)
        ensure_schema(engine)
        yield UnitOfWork(engine)
        engine.dispose()


def outcome(uow: UnitOfWork) -> dict[str, Any]:
    """Everything a backfill decided, without ids, times or tokens, keyed by Message-ID."""
    with uow:
        session = uow.session
        refs = {c.id: (c.ombudsman, c.ombudsman_ref) for c in session.scalars(select(Case))}
        messages = {
            m.message_id: (m.state, m.kind, m.trusted, m.classification, m.error, refs.get(m.case_id or 0))
            for m in session.scalars(select(StoredMessage))
        }
        cases = sorted(
            (c.ombudsman or "", c.ombudsman_ref or "", c.council_ref or "", c.service_area or "", c.status)
            for c in session.scalars(select(Case))
        )
        tasks = sorted(
            (str(refs[t.case_id]), t.kind, t.title, str(t.due), t.status)
            for t in session.scalars(select(Task))
        )
        # The order cases were opened and messages registered in: oldest message first. (Earlier
        # mail gathered onto a new case comes in no particular order on PostgreSQL.)
        registered: list[tuple[str | None, str, str | None]] = []
        gathered: list[tuple[str | None, str, str | None]] = []
        for event in session.scalars(
            select(Event).where(Event.action.in_(["case opened", "message registered"])).order_by(Event.id)
        ):
            message = session.get(StoredMessage, event.message_id)
            how = (event.detail or {}).get("how")
            row = (message.message_id if message else None, event.action, how)
            (gathered if how == "earlier mail" else registered).append(row)
        registered.extend(sorted(gathered, key=str))
        outbox = sorted((item.purpose, *item.recipients) for item in session.scalars(select(OutboxItem)))
    return {"messages": messages, "cases": cases, "tasks": tasks, "registered": registered, "outbox": outbox}


def count_events(uow: UnitOfWork, action: str) -> int:
    with uow:
        return uow.session.scalar(select(func.count()).select_from(Event).where(Event.action == action)) or 0


def states(uow: UnitOfWork) -> dict[str, int]:
    with uow:
        rows = uow.session.execute(select(StoredMessage.state, func.count()).group_by(StoredMessage.state))
        return {state: n for state, n in rows.tuples()}


def test_workers_decide_and_register_exactly_as_one_process_does(
    dovecot: DovecotServer, uow: UnitOfWork, one_process: UnitOfWork
) -> None:
    mail = corpus_mail()
    mail.append(b"\x00\x01\x02 this is not mail\r\n")
    deliver_newest_first(dovecot, mail)

    progress: list[tuple[int, int]] = []
    parallel = backfill(
        dovecot, uow, TWO_WORKERS, on_registered=lambda done, total: progress.append((done, total))
    )
    alone = backfill(dovecot, one_process, None)

    assert parallel.processed.in_workers == len(mail), "the workers did not classify"
    assert alone.processed.in_workers == 0
    assert len(parallel.ingested.stored) == len(mail)
    assert len(parallel.processed.quarantined) == 1
    assert len(parallel.registered.opened) > 5
    assert count_events(uow, "email queued") > 10
    assert progress == [(n, len(mail)) for n in range(1, len(mail) + 1)]
    assert outcome(uow) == outcome(one_process)
    # Each judgement is the pure function's, on the bytes as stored.
    with uow:
        stored = uow.session.execute(
            select(
                StoredMessage.raw, StoredMessage.received_at, StoredMessage.kind, StoredMessage.classification
            )
        ).all()
    for raw, received_at, kind, classification in stored:
        expected = judge(raw, judgement(), received_at)
        assert (kind, classification) == (
            expected.columns.get("kind"),
            expected.columns.get("classification"),
        )


def test_spawned_workers_as_on_windows_and_macos_judge_the_same(
    dovecot: DovecotServer, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Where there is no fork server, workers are spawned: fresh interpreters that get the
    # settings and each batch by pickling.
    monkeypatch.setattr(classify_pool, "start_method", lambda: "spawn")
    deliver_newest_first(dovecot, corpus_mail()[:30])

    result = backfill(dovecot, uow, TWO_WORKERS)

    assert result.processed.in_workers == 30
    with uow:
        stored = uow.session.execute(
            select(StoredMessage.raw, StoredMessage.received_at, StoredMessage.classification)
        ).all()
    assert [c for _, _, c in stored] == [
        judge(r, judgement(), at).columns["classification"] for r, at, _ in stored
    ]


def test_registration_follows_arrival_not_the_servers_order(dovecot: DovecotServer, uow: UnitOfWork) -> None:
    # The server hands the compliance confirmation over first (lowest UID) though it arrived
    # last. Taken in the server's order it would find no case to close, and the notification
    # would then open one that stays open; taken oldest first, the case opens and then closes.
    story = [
        "lgsco-notification-01.eml",
        "lgsco-information-request-01.eml",
        "lgsco-chaser-first-01.eml",
        "lgsco-case-closed-03.eml",
    ]
    deliver_newest_first(dovecot, [crlf((CORPUS / name).read_bytes()) for name in story])

    result = backfill(dovecot, uow, TWO_WORKERS)

    assert result.processed.in_workers == len(story)
    [case_id] = result.registered.opened
    with uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        assert (case.ombudsman_ref, case.status) == ("25 018 406", CaseStatus.CLOSED.value)
        joined = uow.session.scalars(select(StoredMessage.case_id)).all()
    assert joined == [case_id] * len(story)


def test_a_message_that_kills_its_worker_is_quarantined_and_the_others_go_on(
    dovecot: DovecotServer, uow: UnitOfWork
) -> None:
    mail = corpus_mail()[:40]
    killer = mail[7].replace(b"\r\n\r\n", b"\r\n" + KILLER_HEADER + b"\r\n\r\n", 1)
    mail[7] = killer
    deliver_newest_first(dovecot, mail)

    result = backfill(
        dovecot, uow, Workers(processes=2, start_after=0, task=judge_or_die, help_while_starting=False)
    )

    assert len(result.processed.classified) == 39
    assert len(result.processed.quarantined) == 1
    with uow:
        quarantined = uow.session.scalars(
            select(StoredMessage).where(StoredMessage.state == MessageState.QUARANTINED.value)
        ).one()
        assert quarantined.raw == killer
        assert "worker process died" in (quarantined.error or "")
    assert states(uow) == {MessageState.PROCESSED.value: 39, MessageState.QUARANTINED.value: 1}


def test_workers_that_cannot_work_leave_the_classifying_to_this_process(
    dovecot: DovecotServer, uow: UnitOfWork
) -> None:
    mail = corpus_mail()[:30]
    deliver_newest_first(dovecot, mail)

    result = backfill(
        dovecot, uow, Workers(processes=2, start_after=0, task=always_die, help_while_starting=False)
    )

    # A few messages are quarantined (retried later) before the workers are given up on.
    assert len(result.processed.quarantined) <= MAX_RESTARTS
    assert len(result.processed.classified) == 30 - len(result.processed.quarantined)
    assert states(uow).get(MessageState.STORED.value) is None


def test_a_pool_that_breaks_before_taking_a_batch_leaves_it_to_this_process(
    dovecot: DovecotServer, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver_newest_first(dovecot, corpus_mail()[:30])

    def broken(pool: ClassifierPool, items: object) -> NoReturn:
        raise BrokenProcessPool("a child process terminated abruptly")

    monkeypatch.setattr(ClassifierPool, "submit", broken)
    result = backfill(dovecot, uow, TWO_WORKERS)

    assert (len(result.processed.classified), result.processed.quarantined) == (30, [])
    assert result.processed.in_workers == 0
    assert states(uow) == {MessageState.PROCESSED.value: 30}


def audit_trail(uow: UnitOfWork) -> list[tuple[str, str | None, str]]:
    """Every audit event but the storing and classifying ones, by Message-ID and case, in no order."""
    with uow:
        session = uow.session
        refs = {c.id: (c.ombudsman, c.ombudsman_ref) for c in session.scalars(select(Case))}
        ids = {i: m for i, m in session.execute(select(StoredMessage.id, StoredMessage.message_id)).tuples()}
        return sorted(
            (event.action, ids.get(event.message_id or 0), str(refs.get(event.case_id or 0)))
            for event in session.scalars(select(Event))
            if event.action not in ("message stored", "message classified")
        )


def test_a_message_that_fails_registering_in_the_middle_of_a_chunk_costs_only_itself(
    dovecot: DovecotServer, uow: UnitOfWork, one_process: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Registering commits a chunk of messages at a time. One that fails half-way through acting
    # (its effects already written in the transaction) must be rolled back alone and
    # quarantined, and every other message in its chunk registered once: nothing lost, nothing twice.
    mail = corpus_mail()
    position = 23  # in arrival order, so in registering order
    assert 0 < position % register.REGISTER_CHUNK < register.REGISTER_CHUNK - 1 < len(mail)
    bad = mail[position]
    header = next(line for line in bad.split(b"\r\n") if line.lower().startswith(b"message-id:"))
    bad_id = header.split(b":", 1)[1].strip().decode()
    deliver_newest_first(dovecot, mail)
    real_act = actions.act
    wrote: list[int] = []

    def act_then_fail(
        session: Session, message: StoredMessage, case: Case | None, acting: Acting, at: datetime
    ) -> Plan:
        planned = real_act(session, message, case, acting, at)
        if message.message_id == bad_id:
            session.flush()
            wrote.append(len(session.scalars(select(Event.id).where(Event.message_id == message.id)).all()))
            raise RuntimeError("the template store fell over")
        return planned

    monkeypatch.setattr("inboxbot.service.register.act", act_then_fail)
    chunked = backfill(dovecot, uow, TWO_WORKERS)
    # The same mail, one message per transaction (as registering was before chunks).
    monkeypatch.setattr(register, "REGISTER_CHUNK", 1)
    alone = backfill(dovecot, one_process, None)

    assert len(wrote) == 2  # tried once in each run
    assert min(wrote) >= 2, "the failing message wrote nothing before it failed"
    assert chunked.registered.quarantined == alone.registered.quarantined != []
    assert states(uow) == {MessageState.PROCESSED.value: len(mail) - 1, MessageState.QUARANTINED.value: 1}
    with uow:
        failed = uow.session.scalars(select(StoredMessage).where(StoredMessage.message_id == bad_id)).one()
        assert failed.state == MessageState.QUARANTINED.value
        assert failed.error == "registering: RuntimeError: the template store fell over"
        assert failed.case_id is None
        assert not uow.session.scalars(select(Task).where(Task.source_message_id == failed.id)).all()
        trail = uow.session.scalars(select(Event.action).where(Event.message_id == failed.id)).all()
        assert sorted(trail) == ["message classified", "message quarantined", "message stored"]
    assert outcome(uow) == outcome(one_process)
    assert audit_trail(uow) == audit_trail(one_process)
    # Nothing registered twice: a message has at most one "message registered" event of its own
    # (besides being gathered onto a case opened after it).
    registered = [
        m
        for m, action, how in outcome(uow)["registered"]
        if action == "message registered" and how != "earlier mail"
    ]
    assert len(registered) == len(set(registered)) > 50


def test_a_run_stopped_half_way_is_finished_by_the_next_once(
    dovecot: DovecotServer, uow: UnitOfWork, one_process: UnitOfWork
) -> None:
    mail = corpus_mail()[:60]
    deliver_newest_first(dovecot, mail)
    source = source_for(dovecot, batch_size=10)
    taken = 0

    class Interrupted:
        """The mailbox, until the operator presses Ctrl-C after 45 messages."""

        name = source.name

        def count(self) -> int | None:
            return source.count()

        def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
            nonlocal taken
            for fetched in source.fetch(after):
                taken += 1
                if taken == 45:
                    raise KeyboardInterrupt
                yield fetched

    with pytest.raises(KeyboardInterrupt):
        take_in(Interrupted(), uow, judgement(), clock, service_keywords=AREAS, workers=TWO_WORKERS)
    assert sum(states(uow).values()) == 44  # each message read was stored before anything else
    assert MessageState.PROCESSED.value not in states(uow)  # nothing was registered yet

    backfill(dovecot, uow, TWO_WORKERS)
    backfill(dovecot, one_process, None)

    assert outcome(uow) == outcome(one_process)
    assert count_events(uow, "message stored") == 60
    assert count_events(uow, "message classified") + count_events(uow, "message quarantined") == 60


@pytest.mark.parametrize("processes", [0, 2])
def test_the_ingest_command_backfills_with_the_configured_workers(
    dovecot: DovecotServer, database_url: str, tmp_path: Path, processes: int
) -> None:
    # The installed script, as an operator runs it: its worker processes must start under it.
    mail = [
        crlf(raw).replace(b"Message-ID: <", f"Message-ID: <copy{n}.".encode(), 1)
        for n, raw in enumerate(corpus_mail()[:120])
    ]
    dovecot.append_many(mail)
    config = tmp_path / "inboxbot.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n\n[mailbox]\nclassify_workers = {processes}\n')
    env = {
        **os.environ,
        "INBOXBOT_DATABASE_URL": database_url,
        "INBOXBOT_MAILBOX__PASSWORD": dovecot.password,
    }
    source = f"imap://{dovecot.user}@{dovecot.host}:{dovecot.port}/INBOX?security=none"
    script = str(Path(sys.executable).parent / "inboxbot")
    done = subprocess.run(
        [script, "-v", "--config", str(config), "ingest", "--source", source],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"{len(mail)} new, 0 already stored; {len(mail)} classified, 0 quarantined")
    assert ("classifying in 2 worker processes" in done.stderr) == (processes == 2)


def assert_workers_fed(judging: processing.Judging, handed_over: int) -> None:
    """The workers hold as many batches as they may (four for one process), unless none are left
    waiting; and every message handed over is recorded, in flight or waiting. This holds however
    quickly the workers go, so the test cannot depend on timing."""
    assert len(judging._in_flight) == 4 or not judging._waiting
    in_flight = sum(len(ticket.messages) for ticket in judging._in_flight)
    assert len(judging.result.classified) + in_flight + len(judging._waiting) == handed_over


def test_registering_behind_classifying_still_keeps_the_workers_fed(uow: UnitOfWork) -> None:
    """Registering runs behind classifying: asking for a message already judged must still record
    the batches the workers finished and hand them more, or they sit idle while it catches up."""
    mail = [raw + f"X-Copy: {n}\r\n".encode() for n, raw in enumerate(corpus_mail() * 2)][:250]
    workers = Workers(processes=1, start_after=0, help_while_starting=False)
    with processing.Judging(uow, judgement(), clock, workers) as judging:
        source = FakeMailbox([(f"{n:04d}", raw) for n, raw in enumerate(mail)])
        stored = ingest(source, uow, clock, on_stored=judging.add).stored
        assert len(stored) == 250  # ten batches for the workers, at most four of them in flight
        judging.ensure(stored[0])  # waits for the workers, then for the first batch
        assert stored[0] in judging.result.classified
        assert_workers_fed(judging, len(stored))
        in_flight = [ticket.future for ticket in judging._in_flight]
        deadline = time.monotonic() + 60
        while not all(future.done() for future in in_flight) and time.monotonic() < deadline:
            time.sleep(0.05)
        recorded = len(judging.result.classified)
        judging.ensure(stored[1])  # recorded already: nothing to wait for, but the finished batches...
        assert len(judging.result.classified) >= recorded + len(in_flight) * processing.CLASSIFY_BATCH
        assert_workers_fed(judging, len(stored))  # ...are recorded, and the workers have the next ones
        judging.finish()
    assert sorted(judging.result.classified) == sorted(stored)


@pytest.mark.parametrize("told", [True, False])
def test_a_backfill_told_what_the_mailbox_holds_starts_its_workers_before_the_first_message(
    uow: UnitOfWork, caplog: pytest.LogCaptureFixture, told: bool
) -> None:
    """Starting the workers takes a while: a backfill that knows it will need them starts them
    while the first messages are still being fetched, not after a hundred are stored."""
    caplog.set_level("INFO", logger=processing.__name__)
    mail = [(f"{n:04d}", raw) for n, raw in enumerate(corpus_mail()[:30])]
    workers = Workers(processes=1, start_after=20)
    started_by_message: list[bool] = []

    def on_message(fetched: FetchedMessage, new: bool) -> None:
        started_by_message.append("classifying in 1 worker processes" in caplog.text)

    def run() -> IntakeResult:
        return take_in(
            FakeMailbox(list(mail)),
            uow,
            judgement(),
            clock,
            workers=workers,
            on_message=on_message,
            holds=len(mail) if told else None,
        )

    first = run()
    assert len(first.processed.classified) == len(mail)
    # Untold, the workers start only once more than 20 messages are stored (here: all of them).
    assert started_by_message[0] is told
    assert "classifying in 1 worker processes" in caplog.text
    # Everything is stored now: a second run, told the same, has nothing to start workers for.
    caplog.clear()
    second = run()
    assert second.ingested.stored == []
    assert "worker processes" not in caplog.text
