"""A real SMTP server for integration tests: aiosmtpd in a background thread on a loopback port.

It keeps every message it accepts (envelope and raw bytes) and can be told to
require a login (PLAIN, LOGIN, or XOAUTH2 with a bearer token), to refuse the next
messages with a temporary (451) or permanent (550) reply, to drop the
connection instead of answering the message data, or to hold a message's RCPT
unanswered until told to go on (a client provably in the middle of sending). It
can be stopped and started again on the same port, which closes every open
connection as a restarted server would.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes  # exactly the message data, dot-stuffing undone
    peer: tuple[str, int]  # the client's address: the same for messages sent over one connection
    login: str | None  # who logged in, when someone did

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)


@dataclass
class Stall:
    """The server holding one message's first RCPT unanswered: ``reached`` is set once it does,
    and it answers once ``release`` is set."""

    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Handler:
    """aiosmtpd's handler: decides on each message and keeps the accepted ones."""

    username: str | None = None
    password: str | None = None
    tokens: set[str] = field(default_factory=set)  # bearer tokens XOAUTH2 accepts
    messages: list[Received] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # what to do to the next messages instead
    logins: list[str] = field(default_factory=list)  # "PLAIN ok", "XOAUTH2 refused", ...
    require_auth: bool = False
    transactions: int = 0  # MAIL commands seen: the number of the message being sent
    stalls: dict[int, Stall] = field(default_factory=dict)  # by message number
    lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """PLAIN and LOGIN: the one user and password."""
        ok = (
            isinstance(data, LoginPassword)
            and self.username is not None
            and self.password is not None
            and data.login == self.username.encode()
            and data.password == self.password.encode()
        )
        self.logins.append(f"{mechanism} {'ok' if ok else 'refused'}")
        return AuthResult(success=ok, auth_data=data.login if ok else None, handled=False)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """XOAUTH2 as Microsoft 365 and Gmail do it: ``user=..\\x01auth=Bearer ..\\x01\\x01``."""
        if len(args) == 2:
            blob = args[1].encode()
        else:
            answer = await server.challenge_auth("")
            if not isinstance(answer, bytes):
                return AuthResult(success=False, handled=True)
            blob = base64.b64encode(answer)
        try:
            fields = dict(
                part.split("=", 1) for part in base64.b64decode(blob).decode().split("\x01") if "=" in part
            )
        except (ValueError, UnicodeDecodeError):
            await server.push("501 5.5.2 Can't decode XOAUTH2 response")
            return AuthResult(success=False, handled=True)
        user, bearer = fields.get("user"), fields.get("auth", "")
        token = bearer.removeprefix("Bearer ")
        if user is not None and user == self.username and token in self.tokens:
            self.logins.append("XOAUTH2 ok")
            return AuthResult(success=True, auth_data=user.encode())
        self.logins.append("XOAUTH2 refused")
        # The refusal comes as a challenge carrying a JSON error; the client answers with an empty line.
        error = {"status": "401", "schemes": "bearer", "scope": "https://outlook.office.com/SMTP.Send"}
        await server.challenge_auth(json.dumps(error))
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        # Checked here rather than by aiosmtpd's auth_required, which warns about logins without TLS.
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        with self.lock:
            self.transactions += 1
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        stall = None
        if not envelope.rcpt_tos:  # the message's first recipient
            with self.lock:
                stall = self.stalls.pop(self.transactions, None)
        if stall is not None:
            stall.reached.set()
            while not stall.release.is_set():  # other connections are still served meanwhile
                await asyncio.sleep(0.02)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure == "drop":
            # The data has arrived, but the client never hears whether it was taken.
            transport = server.transport
            assert isinstance(transport, asyncio.Transport)
            transport.abort()
            return "421 4.4.2 gone"
        if failure is not None:
            return failure
        raw = envelope.original_content
        assert isinstance(raw, bytes)
        login = session.auth_data
        self.messages.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                raw=raw,
                peer=tuple(session.peer),  # type: ignore[arg-type]
                login=login.decode() if isinstance(login, bytes) else None,
            )
        )
        return f"250 2.0.0 Ok: queued as M{len(self.messages)}"


class _TrackedSMTP(SMTP):
    """aiosmtpd's SMTP session, registering its connection so a stopping server can close it."""

    def __init__(self, handler: _Handler, connections: set[asyncio.BaseTransport], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._connections = connections

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._connections.add(transport)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.transport is not None:
            self._connections.discard(self.transport)
        super().connection_lost(error)


class _Controller(Controller):
    """A Controller that can listen on port 0 (any free port) and tracks its connections."""

    def __init__(self, handler: _Handler, port: int, **kwargs: Any) -> None:
        super().__init__(handler, hostname=HOST, port=port, **kwargs)
        self.connections: set[asyncio.BaseTransport] = set()

    def _trigger_server(self) -> None:
        # The server is bound by now: learn the port it got before connecting to it.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]

    def factory(self) -> SMTP:
        return _TrackedSMTP(self.handler, self.connections, **self.SMTP_kwargs)

    def close_connections(self) -> None:
        """Close every open client connection (in the server's loop), as a stopping server does."""
        done = threading.Event()

        def close_all() -> None:
            for transport in list(self.connections):
                if isinstance(transport, asyncio.Transport):
                    transport.abort()
                else:
                    transport.close()
            self.connections.clear()
            done.set()

        self.loop.call_soon_threadsafe(close_all)
        done.wait(5)


class SmtpServer:
    """An SMTP server on ``HOST``:``port``; see the module docstring."""

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        tokens: set[str] | None = None,
        require_auth: bool = False,
    ) -> None:
        """With ``require_auth`` no message is taken before a login (PLAIN/LOGIN or XOAUTH2)."""
        self.handler = _Handler(
            username=username, password=password, tokens=set(tokens or ()), require_auth=require_auth
        )
        self.port = 0
        self._controller: _Controller | None = None

    @property
    def messages(self) -> list[Received]:
        """Every message accepted so far, in order."""
        return self.handler.messages

    @property
    def logins(self) -> list[str]:
        """Every login attempt: the mechanism and "ok" or "refused"."""
        return self.handler.logins

    @property
    def tokens(self) -> set[str]:
        """The bearer tokens XOAUTH2 accepts now (change it to revoke or grant one)."""
        return self.handler.tokens

    def start(self) -> SmtpServer:
        """Listen (on a free port the first time, on the same port after a ``stop``)."""
        assert self._controller is None, "already running"
        controller = _Controller(
            self.handler,
            self.port,
            authenticator=self.handler.authenticate,
            auth_require_tls=False,  # loopback only: no TLS in these tests
        )
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close every connection and stop listening."""
        controller, self._controller = self._controller, None
        with self.handler.lock:
            for stall in self.handler.stalls.values():
                stall.release.set()
        if controller is not None:
            controller.close_connections()
            controller.stop()

    def restart(self) -> None:
        """Stop, then listen again on the same port; clients must connect again."""
        self.stop()
        self.start()

    def reject_next(self, count: int = 1, *, code: int = 451) -> None:
        """Refuse the next ``count`` messages after their data with ``code`` (451 or 550, say)."""
        reply = f"{code} {'4.3.0 Try again later' if code < 500 else '5.7.1 Message refused'}"
        with self.handler.lock:
            self.handler.failures.extend([reply] * count)

    def stall_recipient_of(self, message: int) -> Stall:
        """Hold the first RCPT of the ``message``-th message (counted from 1) unanswered."""
        stall = Stall()
        with self.handler.lock:
            self.handler.stalls[message] = stall
        return stall

    def drop_next(self, count: int = 1) -> None:
        """Close the connection instead of answering the data of the next ``count`` messages."""
        with self.handler.lock:
            self.handler.failures.extend(["drop"] * count)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
