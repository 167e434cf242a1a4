"""The outgoing mail transports: SMTP against a real server (aiosmtpd), files, Graph and EWS.

Graph runs against ``httpx.MockTransport`` and EWS against a fake account with
exchangelib's ``Message`` replaced, since neither service can run here.
"""

from __future__ import annotations

import base64
import copy
import itertools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import exchangelib
import httpx
import pytest
from exchangelib.errors import ErrorInvalidRecipients, ErrorServerBusy, UnauthorizedError

from inboxbot.adapters.mail.ews import EwsSettings
from inboxbot.adapters.mail.graph import GraphSettings
from inboxbot.adapters.sending import (
    EwsSendTransport,
    FileTransport,
    GraphSendTransport,
    SendError,
    SmtpSettings,
    SmtpTransport,
    Transport,
    TransportConfigError,
)
from tests.integration.smtp_fixture import make_smtp_server, smtp_server

if TYPE_CHECKING:
    from tests.support.smtp import SmtpServer

__all__ = ["make_smtp_server", "smtp_server"]  # fixtures, used by name

HOST = "127.0.0.1"  # where tests.support.smtp listens
FROM = "ombudsman@northmere.gov.uk"
USER = "svc-inboxbot@northmere.gov.uk"
PASSWORD = "c0rrect-h0rse-b4ttery"
SENT = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


def make_email(
    subject: str = "Task: information request for 24 012 345", message_id: str = "<task-1@inboxbot.test>"
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Resident Experience Team <{FROM}>"
    message["To"] = "Housing Repairs <repairs@northmere.gov.uk>"
    message["Cc"] = "head.of.housing@northmere.gov.uk"
    message["Bcc"] = "audit@northmere.gov.uk"
    message["Subject"] = subject
    message["Date"] = format_datetime(SENT)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(
        "Please send the information by 16 March 2026.\n.\n.a line that starts with a dot\nFrom here on.\n"
    )
    return message


def without_bcc_on_the_wire(message: EmailMessage) -> bytes:
    expected = copy.deepcopy(message)
    del expected["Bcc"]
    return expected.as_bytes(policy=message.policy.clone(linesep="\r\n"))


def smtp(server: SmtpServer, **settings: Any) -> SmtpTransport:
    options: dict[str, Any] = {"host": HOST, "port": server.port, "security": "none", "from_address": FROM}
    options.update(settings)
    token_provider = options.pop("token_provider", None)
    return SmtpTransport(SmtpSettings(**options), token_provider=token_provider)


# -- SMTP ----------------------------------------------------------------------------------------


def test_smtp_delivers_the_message_unchanged_and_bcc_only_in_the_envelope(smtp_server: SmtpServer) -> None:
    message = make_email()
    with smtp(smtp_server, timeout=5) as transport:
        assert isinstance(transport, Transport)
        answer = transport.send(message)

    assert answer == "250 2.0.0 Ok: queued as M1"
    [received] = smtp_server.messages
    assert received.mail_from == FROM
    assert received.rcpt_tos == [
        "repairs@northmere.gov.uk",
        "head.of.housing@northmere.gov.uk",
        "audit@northmere.gov.uk",
    ]
    assert received.raw == without_bcc_on_the_wire(message)
    delivered = received.message
    assert delivered["Bcc"] is None
    assert "audit@northmere.gov.uk" not in received.raw.decode()
    assert delivered["Auto-Submitted"] == "auto-generated"
    assert delivered.get_content().replace("\r\n", "\n") == message.get_content()
    assert message["Bcc"] == "audit@northmere.gov.uk"  # the caller's message is left alone


def test_smtp_password_login(make_smtp_server: Callable[..., SmtpServer]) -> None:
    server = make_smtp_server(username=USER, password=PASSWORD, require_auth=True)
    with smtp(server, auth="password", username=USER, password=PASSWORD) as transport:
        transport.send(make_email())
    assert server.logins == ["PLAIN ok"]
    assert [m.login for m in server.messages] == [USER]


def test_smtp_refuses_a_message_without_login_when_the_server_wants_one(
    make_smtp_server: Callable[..., SmtpServer],
) -> None:
    server = make_smtp_server(username=USER, password=PASSWORD, require_auth=True)
    with smtp(server) as transport, pytest.raises(SendError) as caught:
        transport.send(make_email())
    assert "530" in str(caught.value)
    assert server.messages == []


def test_smtp_wrong_password_is_refused_without_showing_it(
    make_smtp_server: Callable[..., SmtpServer],
) -> None:
    server = make_smtp_server(username=USER, password=PASSWORD, require_auth=True)
    wrong = "wr0ng-pa55word-value"
    transport = smtp(server, auth="password", username=USER, password=wrong)
    with pytest.raises(TransportConfigError) as caught:
        transport.send(make_email())
    assert caught.value.temporary  # the message is fine; the configuration is not
    assert "login refused" in str(caught.value)
    assert "535" in str(caught.value)
    # Asking again would only lock the account: the transport remembers the refusal.
    with pytest.raises(TransportConfigError) as again:
        transport.send(make_email())
    assert len(server.logins) == 1
    for text in (
        str(caught.value),
        str(again.value),
        repr(transport),
        transport.name,
        repr(transport.settings),
    ):
        assert wrong not in text
    assert server.messages == []


def test_smtp_xoauth2_login_and_a_fresh_token_when_one_is_refused(
    make_smtp_server: Callable[..., SmtpServer],
) -> None:
    server = make_smtp_server(username=USER, tokens={"token-2"}, require_auth=True)
    tokens = iter(["token-1", "token-2"])

    class Provider:
        forgotten = 0

        def __call__(self) -> str:
            return next(tokens)

        def forget(self) -> None:
            self.forgotten += 1

    provider = Provider()
    with smtp(server, auth="xoauth2", username=USER, token_provider=provider) as transport:
        transport.send(make_email())
    assert server.logins == ["XOAUTH2 refused", "XOAUTH2 ok"]
    assert provider.forgotten == 1
    assert [m.login for m in server.messages] == [USER]


def test_smtp_xoauth2_refused_token_is_not_shown(make_smtp_server: Callable[..., SmtpServer]) -> None:
    server = make_smtp_server(username=USER, tokens={"the-right-one"}, require_auth=True)
    secret_token = "eyJ0eXAiOiJKV1Qi-revoked-token"
    transport = smtp(server, auth="xoauth2", username=USER, token_provider=lambda: secret_token)
    with pytest.raises(TransportConfigError) as caught:
        transport.send(make_email())
    assert secret_token not in str(caught.value)
    assert server.messages == []


def test_smtp_keeps_one_connection_for_several_messages(smtp_server: SmtpServer) -> None:
    with smtp(smtp_server) as transport:
        answers = [transport.send(make_email(message_id=f"<task-{n}@inboxbot.test>")) for n in (1, 2, 3)]
    assert answers == [f"250 2.0.0 Ok: queued as M{n}" for n in (1, 2, 3)]
    assert len({m.peer for m in smtp_server.messages}) == 1
    assert [m.message["Message-ID"] for m in smtp_server.messages] == [
        f"<task-{n}@inboxbot.test>" for n in (1, 2, 3)
    ]


def test_smtp_temporary_refusal(smtp_server: SmtpServer) -> None:
    smtp_server.reject_next(code=451)
    with smtp(smtp_server) as transport:
        with pytest.raises(SendError) as caught:
            transport.send(make_email())
        assert caught.value.temporary
        assert "451" in str(caught.value)
        assert smtp_server.messages == []
        # The connection is still good for the next message.
        assert transport.send(make_email()).startswith("250 ")
    assert len(smtp_server.messages) == 1


def test_smtp_permanent_refusal(smtp_server: SmtpServer) -> None:
    smtp_server.reject_next(code=550)
    with smtp(smtp_server) as transport, pytest.raises(SendError) as caught:
        transport.send(make_email())
    assert not caught.value.temporary
    assert "550" in str(caught.value)
    assert smtp_server.messages == []


def test_smtp_reconnects_after_the_server_restarted(smtp_server: SmtpServer) -> None:
    with smtp(smtp_server) as transport:
        transport.send(make_email(message_id="<before@inboxbot.test>"))
        smtp_server.restart()
        assert transport.send(make_email(message_id="<after@inboxbot.test>")).startswith("250 ")
    first, second = smtp_server.messages
    assert first.peer != second.peer
    assert second.message["Message-ID"] == "<after@inboxbot.test>"


def test_smtp_connection_lost_during_data_is_temporary_and_not_resent(smtp_server: SmtpServer) -> None:
    smtp_server.drop_next()
    with smtp(smtp_server) as transport:
        with pytest.raises(SendError) as caught:
            transport.send(make_email())
        assert caught.value.temporary
        assert "may or may not have been accepted" in str(caught.value)
        assert smtp_server.messages == []
        transport.send(make_email())
    assert len(smtp_server.messages) == 1


def test_smtp_no_server_is_temporary(smtp_server: SmtpServer) -> None:
    port = smtp_server.port
    smtp_server.stop()
    transport = SmtpTransport(
        SmtpSettings(host=HOST, port=port, security="none", from_address=FROM, timeout=2)
    )
    with pytest.raises(SendError) as caught:
        transport.send(make_email())
    assert caught.value.temporary
    assert transport.name == f"smtp://{HOST}:{port}"


def test_smtp_permanent_for_a_message_without_recipients(smtp_server: SmtpServer) -> None:
    message = make_email()
    for name in ("To", "Cc", "Bcc"):
        del message[name]
    with smtp(smtp_server) as transport, pytest.raises(SendError) as caught:
        transport.send(message)
    assert not caught.value.temporary


def test_smtp_will_not_send_a_password_in_clear_across_a_network() -> None:
    settings = SmtpSettings(
        host="smtp.northmere.gov.uk",
        security="none",
        from_address=FROM,
        auth="password",
        username=USER,
        password=PASSWORD,
    )
    with pytest.raises(ValueError, match="without TLS"):
        SmtpTransport(settings)
    safe = SmtpTransport(SmtpSettings(host="smtp.northmere.gov.uk", from_address=FROM, username=USER))
    assert safe.name == f"smtp://{USER}@smtp.northmere.gov.uk:587"


# -- files ---------------------------------------------------------------------------------------


def fixed_clock() -> datetime:
    return SENT


def test_file_transport_writes_one_file_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    transport = FileTransport(outbox, clock=fixed_clock)
    message = make_email(message_id="<task/1@inboxbot.test>")
    path = Path(transport.send(message))
    assert path.parent == outbox
    assert path.name == "20260302T081500.000000Z-task_1@inboxbot.test.eml"
    assert path.read_bytes() == message.as_bytes()
    assert sorted(p.name for p in outbox.iterdir()) == [path.name]  # no temporary file left behind
    assert transport.name == f"file://{outbox.resolve()}"


def test_file_transport_never_overwrites(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path, clock=fixed_clock)
    taken = tmp_path / "20260302T081500.000000Z-task-1@inboxbot.test.eml"
    taken.write_bytes(b"somebody else's file")
    first = Path(transport.send(make_email(subject="first")))
    second = Path(transport.send(make_email(subject="second")))
    assert taken.read_bytes() == b"somebody else's file"
    assert first.name == "20260302T081500.000000Z-task-1@inboxbot.test-1.eml"
    assert second.name == "20260302T081500.000000Z-task-1@inboxbot.test-2.eml"
    assert b"Subject: first" in first.read_bytes()
    assert b"Subject: second" in second.read_bytes()


def test_file_transport_names_messages_without_a_message_id(tmp_path: Path) -> None:
    clock = itertools.count()
    transport = FileTransport(
        tmp_path, clock=lambda: datetime.fromtimestamp(1_772_000_000 + next(clock), UTC)
    )
    message = make_email()
    del message["Message-ID"]
    assert Path(transport.send(message)).name.endswith("-no-message-id.eml")


def test_file_transport_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = FileTransport(tmp_path, clock=fixed_clock)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(SendError) as caught:
        transport.send(make_email())
    assert caught.value.temporary
    assert list(tmp_path.iterdir()) == []


# -- Microsoft Graph -----------------------------------------------------------------------------

GRAPH_SECRET = "graph-client-secret-value"
GRAPH = GraphSettings(
    mailbox=FROM, tenant_id="tenant-id", client_id="client-id", client_secret=GRAPH_SECRET, folder="Inbox"
)


class Tokens:
    """Hands out token-1, token-2, ...; ``forget`` counts renewals."""

    def __init__(self) -> None:
        self.issued = 0
        self.forgotten = 0

    def __call__(self) -> str:
        self.issued += 1
        return f"token-{self.issued}"

    def forget(self) -> None:
        self.forgotten += 1


def graph(
    answers: Iterator[httpx.Response], requests: list[httpx.Request], tokens: Tokens
) -> GraphSendTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return next(answers)

    http = httpx.Client(transport=httpx.MockTransport(handle))
    return GraphSendTransport(GRAPH, token_provider=tokens, http=http)


def test_graph_posts_the_mime_and_returns_the_request_id() -> None:
    requests: list[httpx.Request] = []
    transport = graph(iter([httpx.Response(202, headers={"request-id": "req-42"})]), requests, Tokens())
    message = make_email()
    assert transport.send(message) == "202 Accepted request-id req-42"
    [request] = requests
    assert request.method == "POST"
    assert str(request.url) == f"https://graph.microsoft.com/v1.0/users/{FROM}/sendMail"
    assert request.headers["Content-Type"] == "text/plain"
    assert request.headers["Authorization"] == "Bearer token-1"
    mime = base64.b64decode(request.content)
    assert mime == message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    assert b"Bcc: audit@northmere.gov.uk" in mime  # Graph takes the Bcc recipients from the MIME
    assert transport.name == f"graph://{FROM}"
    assert GRAPH_SECRET not in repr(transport)


def test_graph_throttling_is_temporary_with_the_wait() -> None:
    answer = httpx.Response(
        429,
        headers={"Retry-After": "7"},
        json={"error": {"code": "ApplicationThrottled", "message": "Too many requests"}},
    )
    transport = graph(iter([answer]), [], Tokens())
    with pytest.raises(SendError) as caught:
        transport.send(make_email())
    assert caught.value.temporary
    assert caught.value.retry_after == 7.0
    assert "ApplicationThrottled" in str(caught.value)


def test_graph_unavailable_is_temporary() -> None:
    transport = graph(iter([httpx.Response(503)]), [], Tokens())
    with pytest.raises(SendError) as caught:
        transport.send(make_email())
    assert caught.value.temporary
    assert caught.value.retry_after is None


def test_graph_renews_a_refused_token_once() -> None:
    requests: list[httpx.Request] = []
    tokens = Tokens()
    answers = iter([httpx.Response(401), httpx.Response(202)])
    transport = graph(answers, requests, tokens)
    assert transport.send(make_email()).startswith("202 ")
    assert [r.headers["Authorization"] for r in requests] == ["Bearer token-1", "Bearer token-2"]
    assert tokens.forgotten == 1


def test_graph_refused_twice_is_a_configuration_error_without_the_token() -> None:
    tokens = Tokens()
    answers = iter([httpx.Response(401), httpx.Response(401, json={"error": {"code": "token-2 bad"}})])
    transport = graph(answers, [], tokens)
    with pytest.raises(TransportConfigError) as caught:
        transport.send(make_email())
    assert "token-2" not in str(caught.value)
    assert "401" in str(caught.value)


def test_graph_bad_message_is_permanent() -> None:
    answer = httpx.Response(400, json={"error": {"code": "ErrorMimeContentInvalid", "message": "bad MIME"}})
    transport = graph(iter([answer]), [], Tokens())
    with pytest.raises(SendError) as caught:
        transport.send(make_email())
    assert not caught.value.temporary


def test_graph_lost_connection_is_temporary() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.Client(transport=httpx.MockTransport(broken))
    transport = GraphSendTransport(GRAPH, token_provider=Tokens(), http=http)
    with pytest.raises(SendError) as caught:
        transport.send(make_email())
    assert caught.value.temporary


# -- Exchange Web Services -----------------------------------------------------------------------

EWS_PASSWORD = "ews-pa55word-value"
EWS = EwsSettings(server="exchange.northmere.test", username=USER, mailbox=FROM, password=EWS_PASSWORD)


class FakeAccount:
    """Stands for an exchangelib Account: remembers what was sent as it."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.failure: Exception | None = None
        self.closed = False

    @property
    def protocol(self) -> FakeAccount:
        return self

    def close(self) -> None:
        self.closed = True


class FakeMessage:
    """Stands for exchangelib's Message, which only takes a real Account."""

    def __init__(self, *, account: FakeAccount, mime_content: bytes) -> None:
        self.account = account
        self.mime_content = mime_content

    def send(self) -> None:
        if self.account.failure is not None:
            raise self.account.failure
        self.account.sent.append(self.mime_content)


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> FakeAccount:
    monkeypatch.setattr(exchangelib, "Message", FakeMessage)
    return FakeAccount()


def test_ews_sends_the_mime_as_the_account(account: FakeAccount) -> None:
    transport = EwsSendTransport(EWS, account=account)
    message = make_email()
    assert transport.send(message) == "EWS accepted <task-1@inboxbot.test>"
    assert account.sent == [message.as_bytes(policy=message.policy.clone(linesep="\r\n"))]
    assert transport.name == f"ews://{USER}@exchange.northmere.test/{FROM}"
    transport.close()
    assert account.closed


@pytest.mark.parametrize(
    ("failure", "temporary"),
    [
        (ErrorServerBusy("The server cannot service this request right now"), True),
        (ErrorInvalidRecipients(f"no such recipient; {EWS_PASSWORD}"), False),
        (ConnectionError("reset"), True),
    ],
)
def test_ews_failures(account: FakeAccount, failure: Exception, temporary: bool) -> None:
    account.failure = failure
    transport = EwsSendTransport(EWS, account=account)
    with pytest.raises(SendError) as caught:
        transport.send(make_email())
    assert caught.value.temporary is temporary
    assert not isinstance(caught.value, TransportConfigError)
    assert EWS_PASSWORD not in str(caught.value)


def test_ews_refused_login_is_a_configuration_error(account: FakeAccount) -> None:
    account.failure = UnauthorizedError(f"Invalid credentials for {USER}: {EWS_PASSWORD}")
    transport = EwsSendTransport(EWS, account=account)
    with pytest.raises(TransportConfigError) as caught:
        transport.send(make_email())
    assert EWS_PASSWORD not in str(caught.value)
    assert EWS_PASSWORD not in repr(transport)
