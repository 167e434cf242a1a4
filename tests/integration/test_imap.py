"""The IMAP mail source against a real Dovecot."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from imapclient import IMAPClient
from imapclient.imapclient import IMAPlibLoggerAdapter

from inboxbot.adapters.mail.imap import ImapError, ImapSettings, ImapSource
from inboxbot.service.ports import FetchedMessage
from tests.support.dovecot import DovecotServer
from tests.support.mail import make_message

LONDON = ZoneInfo("Europe/London")
SENT = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


def crlf(raw: bytes) -> bytes:
    """IMAP's canonical line ending, so what comes back is byte for byte what went in."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def messages(count: int, prefix: str = "Complaint") -> list[bytes]:
    return [crlf(make_message(f"{prefix} 25 004 {i:03d}", f"Body {i}", date=SENT)) for i in range(count)]


class Sleeps:
    """A ``sleep`` that only remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def source_for(
    dovecot: DovecotServer, *, sleep: Sleeps | None = None, retries: int = 5, **settings: Any
) -> ImapSource:
    options: dict[str, Any] = {
        "host": dovecot.host,
        "port": dovecot.port,
        "username": dovecot.user,
        "security": "none",
        "password": dovecot.password,
        "timeout": 10.0,
    }
    options.update(settings)
    return ImapSource(
        ImapSettings(**options),
        retries=retries,
        backoff=lambda attempt: 0.01 * attempt,
        sleep=sleep or Sleeps(),
    )


def uid_of(message: FetchedMessage) -> int:
    return int(message.key.split(":")[1])


def test_fetch_returns_every_message_oldest_first_byte_for_byte(dovecot: DovecotServer) -> None:
    raws = messages(3)
    arrived = [
        datetime(2026, 3, 2, 9, 15, tzinfo=LONDON),
        datetime(2026, 7, 1, 23, 30, tzinfo=LONDON),  # BST: 22:30 UTC
        datetime(2026, 7, 2, 1, 0, tzinfo=ZoneInfo("America/New_York")),
    ]
    uids = [dovecot.append(raw, when=when) for raw, when in zip(raws, arrived, strict=True)]
    validity = dovecot.uidvalidity()
    with source_for(dovecot) as source:
        assert source.count() == 3
        fetched = list(source.fetch())

    assert [m.raw for m in fetched] == raws
    assert [m.key for m in fetched] == [f"{validity}:{uid}" for uid in uids]
    assert [m.position for m in fetched] == [m.key for m in fetched]
    assert [m.label for m in fetched] == [f"INBOX UID {uid}" for uid in uids]
    assert [m.received_at for m in fetched] == arrived
    for message in fetched:
        assert message.received_at is not None
        assert message.received_at.utcoffset() == timedelta(0)
    # Reading is a peek: the people sharing the mailbox still see the mail as unread.
    assert "\\Seen" not in dovecot.flags(uids[0])


def test_fetching_describes_nothing_to_imaplib_s_logger_unless_it_is_listening(
    dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append_many(messages(2))
    described: list[str] = []
    original = IMAPlibLoggerAdapter.debug

    def debug(self: IMAPlibLoggerAdapter, msg: str, *args: Any, **kwargs: Any) -> None:
        described.append(msg)
        original(self, msg, *args, **kwargs)

    monkeypatch.setattr(IMAPlibLoggerAdapter, "debug", debug)
    with source_for(dovecot) as source:
        assert len(list(source.fetch())) == 2
    assert described == []

    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")
    with source_for(dovecot) as source:
        assert len(list(source.fetch())) == 2
    trace = "\n".join(r.getMessage() for r in caplog.records if r.name == "imapclient.imaplib")
    assert "FETCH" in trace
    assert "Body 1" in trace
    assert dovecot.password not in trace


def test_name_and_settings_never_show_the_password(dovecot: DovecotServer) -> None:
    source = source_for(dovecot, folder="Ombudsman/Incoming")
    assert source.name == f"imap://{dovecot.user}@{dovecot.host}:{dovecot.port}/Ombudsman/Incoming"
    assert dovecot.password not in repr(source.settings)


def test_after_resumes_behind_the_last_key(dovecot: DovecotServer) -> None:
    dovecot.append_many(messages(3))
    with source_for(dovecot) as source:
        first = list(source.fetch())
        assert [m.raw for m in source.fetch(after=first[1].key)] == [first[2].raw]
        assert list(source.fetch(after=first[2].key)) == []
        late = messages(1, prefix="Late")[0]
        dovecot.append(late)
        assert [m.raw for m in source.fetch(after=first[2].key)] == [late]


def test_a_new_uidvalidity_fetches_everything_again_with_new_keys(dovecot: DovecotServer) -> None:
    raws = messages(3)
    dovecot.append_many(raws)
    with source_for(dovecot) as source:
        before = list(source.fetch())
    old_validity = dovecot.uidvalidity()

    new_validity = dovecot.reset_uidvalidity()

    with source_for(dovecot) as source:
        again = list(source.fetch(after=before[-1].key))
    assert new_validity != old_validity
    assert [m.raw for m in again] == raws
    assert all(m.key.startswith(f"{new_validity}:") for m in again)
    assert not {m.key for m in again} & {m.key for m in before}


def test_move_files_the_message_and_nothing_is_lost(dovecot: DovecotServer) -> None:
    raws = messages(2)
    dovecot.append_many(raws)
    with source_for(dovecot) as source:
        first, second = list(source.fetch())
        source.move(first.key, "Processed")
        source.move(first.key, "Processed")  # again, as after a lost answer: nothing happens

        assert dovecot.uids("INBOX") == [uid_of(second)]
        assert list(dovecot.bodies("Processed").values()) == [first.raw]
        with pytest.raises(ImapError, match="earlier UIDVALIDITY"):
            source.move(f"1:{uid_of(second)}", "Processed")
    assert dovecot.uids("INBOX") == [uid_of(second)]


def test_without_move_the_original_stays_flagged(
    dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = IMAPClient.has_capability

    def no_move(client: Any, capability: str) -> bool:
        return capability.upper() != "MOVE" and bool(original(client, capability))

    monkeypatch.setattr(IMAPClient, "has_capability", no_move)
    raw = messages(1)[0]
    uid = dovecot.append(raw)
    with source_for(dovecot) as source:
        (message,) = source.fetch()
        source.move(message.key, "Processed")
        source.move(message.key, "Processed")  # a retry must not copy twice

    assert dovecot.uids("INBOX") == [uid]
    assert {"\\Seen", "$Processed"} <= dovecot.flags(uid)
    assert "\\Deleted" not in dovecot.flags(uid)
    assert list(dovecot.bodies("Processed").values()) == [raw]


def test_a_crash_mid_fetch_loses_and_repeats_nothing(dovecot: DovecotServer) -> None:
    raws = messages(30)
    dovecot.append_many(raws)
    sleeps = Sleeps()
    seen: list[FetchedMessage] = []
    with source_for(dovecot, sleep=sleeps, batch_size=5) as source:
        for message in source.fetch():
            seen.append(message)
            if len(seen) == 12:
                dovecot.kill()
                dovecot.start()

    assert [m.raw for m in seen] == raws
    assert len({m.key for m in seen}) == 30
    assert sleeps.calls, "the connection should have been re-opened"


def test_a_restarted_server_is_reconnected_to(dovecot: DovecotServer) -> None:
    dovecot.append_many(messages(2))
    sleeps = Sleeps()
    with source_for(dovecot, sleep=sleeps) as source:
        assert source.count() == 2
        dovecot.stop()  # the open connection gets "* BYE Server shutting down"
        dovecot.start()
        assert len(list(source.fetch())) == 2
    assert len(sleeps.calls) == 1


def test_gives_up_after_the_retries(dovecot: DovecotServer, caplog: pytest.LogCaptureFixture) -> None:
    dovecot.kill()
    sleeps = Sleeps()
    source = source_for(dovecot, sleep=sleeps, retries=2)
    with pytest.raises(ImapError, match="gave up after 3 failed attempts") as raised:
        list(source.fetch())
    assert sleeps.calls == [0.01, 0.02]
    assert "\n" not in str(raised.value)
    assert dovecot.password not in str(raised.value) + caplog.text


def test_wrong_password_is_reported_without_it(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Right-passw0rd"
    sleeps = Sleeps()
    source = source_for(dovecot, password=wrong, sleep=sleeps)
    with pytest.raises(ImapError, match="login refused") as raised:
        source.count()
    assert wrong not in str(raised.value)
    assert wrong not in caplog.text
    assert sleeps.calls == []  # a refused login is not retried


def test_xoauth2_asks_for_a_token_on_every_connect(
    dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Dovecot's passwd-file passdb checks an XOAUTH2 bearer token like a password.
    caplog.set_level(logging.DEBUG)
    tokens: list[str] = []

    def token() -> str:
        tokens.append(dovecot.password)
        return dovecot.password

    dovecot.append_many(messages(2))
    with source_for(dovecot, password=None, token_provider=token, batch_size=1) as source:
        fetched = source.fetch()
        next(fetched)
        dovecot.kill()
        dovecot.start()
        assert len(list(fetched)) == 1
    assert len(tokens) == 2
    assert dovecot.password not in caplog.text


def test_wait_for_new_wakes_when_mail_arrives(dovecot: DovecotServer) -> None:
    dovecot.append_many(messages(1))
    with source_for(dovecot) as source:
        assert len(list(source.fetch())) == 1
        started = time.monotonic()
        assert source.wait_for_new(0.5) is False
        assert time.monotonic() - started >= 0.4

        arrival = threading.Timer(0.5, dovecot.append, args=(messages(1, prefix="New")[0],))
        arrival.start()
        started = time.monotonic()
        try:
            assert source.wait_for_new(20) is True
        finally:
            arrival.join()
        assert time.monotonic() - started < 5
        assert len(list(source.fetch(after=None))) == 2


def test_wait_for_new_sees_mail_that_came_before_the_wait(dovecot: DovecotServer) -> None:
    with source_for(dovecot) as source:
        assert list(source.fetch()) == []
        dovecot.append(messages(1)[0])
        started = time.monotonic()
        assert source.wait_for_new(20) is True
        assert time.monotonic() - started < 10  # at once, not after the 20 s wait (room for a busy machine)


def test_wait_for_new_polls_without_idle(dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch) -> None:
    original = IMAPClient.has_capability

    def no_idle(client: Any, capability: str) -> bool:
        return capability.upper() != "IDLE" and bool(original(client, capability))

    monkeypatch.setattr(IMAPClient, "has_capability", no_idle)
    sleeps = Sleeps()
    with source_for(dovecot, sleep=sleeps) as source:
        assert source.wait_for_new(90) is False  # nothing arrives: three 30 s polls, all stubbed
        assert sleeps.calls == [30.0, 30.0, 30.0]

        def mail_during_sleep(seconds: float) -> None:
            sleeps.calls.append(seconds)
            dovecot.append(messages(1)[0])

        source._sleep = mail_during_sleep
        sleeps.calls.clear()
        assert source.wait_for_new(10) is True
        assert sleeps.calls == [10.0]


def test_malformed_messages_are_fetched_as_they_are(dovecot: DovecotServer) -> None:
    garbage = [
        b"\xff\xfe\x80 not a header\r\nat all\r\n",
        b"no line ending whatsoever",
        b"From: \xe9\xe8\r\nSubject: =?bogus?Q?=ZZ?=\r\n"
        b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
        b"\r\n\r\n",
    ]
    dovecot.append_many(garbage)
    dovecot.deliver(b"\x00NUL and bare LF\nlines\n")  # straight into the Maildir, not through IMAP
    with source_for(dovecot) as source:
        fetched = list(source.fetch())
    assert [m.raw for m in fetched[:4]] == garbage
    assert len(fetched) == 5
    assert b"bare LF" in fetched[4].raw
