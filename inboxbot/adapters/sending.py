"""Outgoing mail: one small :class:`Transport` protocol, four ways to deliver.

- :class:`FileTransport` writes each message as an ``.eml`` file (the default: nothing leaves the machine);
- :class:`SmtpTransport` hands it to an SMTP server (STARTTLS, implicit TLS, or plain on loopback;
  password or XOAUTH2 login), keeping one connection open across sends;
- :class:`GraphSendTransport` posts its MIME to Microsoft Graph's ``sendMail``;
- :class:`EwsSendTransport` sends its MIME through Exchange Web Services.

``send`` returns only once the server has taken responsibility for the message, and
returns what the server said (the SMTP reply, Graph's request id, the file's path),
which the outbox keeps as the message's transport id. Anything short of that is a
:class:`SendError`: ``temporary`` when the same message may go through later unchanged
(connection trouble, 4xx replies, throttling), permanent when the server refused the
message itself (5xx reply, bad address, message too big).

A transport that cannot send anything at all as configured (login refused, no
permission to send as the mailbox) raises :class:`TransportConfigError`, a temporary
``SendError``: the message is fine and should go once the configuration is fixed,
but the dispatcher should stop its run and alert rather than try message after
message (repeated bad logins can lock a service account). An SMTP transport that
had its login refused refuses further sends without asking the server again.

Retrying is the dispatcher's business: a transport never resends on its own once
the message may have reached the server, because that could deliver it twice.
Messages of these errors are one line and never carry a password, secret or token.
"""

from __future__ import annotations

import base64
import copy
import email.policy
import io
import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import getaddresses
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable
from urllib.parse import quote, urlsplit

from inboxbot.adapters.mail.graph import GraphError, GraphSettings, error_detail, graph_tokens
from inboxbot.adapters.redact import scrub as _scrub

if TYPE_CHECKING:  # the EWS adapter brings in exchangelib, a second's import: only when it is used
    import httpx

    from inboxbot.adapters.mail.ews import EwsSettings

log = logging.getLogger(__name__)

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class SendError(Exception):
    """A message was not accepted. ``temporary``: the same message may go through later.

    ``retry_after`` is how many seconds the server asked us to wait, when it said.
    """

    def __init__(self, message: str, *, temporary: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.retry_after = retry_after


class TransportConfigError(SendError):
    """The transport cannot send anything as configured (credentials, permissions); always temporary."""

    def __init__(self, message: str) -> None:
        super().__init__(message, temporary=True)


@runtime_checkable
class Transport(Protocol):
    """Somewhere outgoing mail can be handed over to."""

    name: str  # e.g. "smtp://user@host:587"; safe to log, never a secret

    def send(self, message: EmailMessage) -> str:
        """Deliver ``message``; return the server's acceptance once it has accepted it, else SendError."""
        ...

    def close(self) -> None:
        """Let go of any connection (a later ``send`` opens a new one)."""
        ...


# -- helpers shared by the transports ------------------------------------------------------------


def envelope_recipients(message: EmailMessage) -> list[str]:
    """Every address in To, Cc and Bcc, in order, each once (compared without case)."""
    fields = [str(value) for name in ("To", "Cc", "Bcc") for value in message.get_all(name, [])]
    seen: set[str] = set()
    addresses = []
    for _, address in getaddresses(fields):
        if address and address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    return addresses


def _message_id(message: EmailMessage) -> str:
    value = message.get("Message-ID")
    return str(value).strip() if value else "(no Message-ID)"


def _flatten(message: EmailMessage, *, utf8: bool = False) -> bytes:
    """The message as it goes on the wire: CRLF line ends, ``From`` lines left alone."""
    # SMTPUTF8 mail carries its addresses as UTF-8 rather than encoded words.
    policy = email.policy.SMTPUTF8 if utf8 else message.policy
    with io.BytesIO() as buffer:
        BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(message, linesep="\r\n")
        return buffer.getvalue()


def _without_bcc(message: EmailMessage) -> EmailMessage:
    """A copy of ``message`` without Bcc headers; the caller's message is left as it was."""
    # A shallow copy is enough: deleting a header gives the copy a new header list.
    stripped = copy.copy(message)
    del stripped["Bcc"]
    del stripped["Resent-Bcc"]
    return stripped


# -- file ----------------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


def _file_stem(message_id: str | None) -> str:
    """A Message-ID reduced to characters safe in a file name on any system."""
    cleaned = _UNSAFE.sub("_", (message_id or "").strip().strip("<>")).strip("._")
    return cleaned[:100] or "no-message-id"


class FileTransport:
    """Writes each message to ``folder`` as ``<UTC time>-<Message-ID>.eml``; never overwrites a file.

    The message is written to a hidden temporary file first and then linked under its
    final name, so a reader of ``*.eml`` never sees half a message and an existing file
    is never replaced (a name already taken gets ``-1``, ``-2``, ... added). The file
    keeps the Bcc header: it is the whole message, for whoever relays it on.
    """

    def __init__(self, folder: Path, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self.folder = folder
        self._clock = clock
        self.name = f"file://{folder.resolve()}"

    def send(self, message: EmailMessage) -> str:
        """Write the message; return the path of the new file."""
        try:
            return str(self._write(message.as_bytes(), message.get("Message-ID")))
        except OSError as exc:
            raise SendError(
                f"{self.name}: cannot write the message ({type(exc).__name__}: {exc.strerror or exc})",
                temporary=True,
            ) from exc

    def _write(self, raw: bytes, message_id: str | None) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = self._clock().astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        stem = f"{stamp}-{_file_stem(message_id)}"
        handle, temporary = tempfile.mkstemp(prefix=".sending-", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(raw)
                file.flush()
                os.fsync(file.fileno())
            target = self._place(Path(temporary), stem)
        finally:
            Path(temporary).unlink(missing_ok=True)
        self._sync_folder()
        return target

    def _place(self, temporary: Path, stem: str) -> Path:
        """Give the written file its final name, one nobody has: a hard link fails rather than replace."""
        for attempt in count():
            target = self.folder / (f"{stem}.eml" if attempt == 0 else f"{stem}-{attempt}.eml")
            try:
                os.link(temporary, target)
            except FileExistsError:
                continue
            except OSError:
                # No hard links on this file system: reserve the name, then swap the content in.
                try:
                    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                except FileExistsError:
                    continue
                os.replace(temporary, target)
            return target
        raise AssertionError("unreachable")  # pragma: no cover

    def _sync_folder(self) -> None:
        try:
            fd = os.open(self.folder, os.O_RDONLY)
        except OSError:  # pragma: no cover - folders cannot be opened on some systems
            return
        try:
            os.fsync(fd)
        except OSError:  # pragma: no cover
            pass
        finally:
            os.close(fd)

    def close(self) -> None:
        """Nothing to let go of."""


# -- SMTP ----------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


@dataclass(frozen=True)
class SmtpSettings:
    """Which SMTP server to hand mail to, and how to log in (secrets not in ``repr``)."""

    host: str
    from_address: str  # the envelope sender (MAIL FROM); bounces come back here
    port: int | None = None  # default: 587 for starttls, 465 for tls, 25 for none
    security: Literal["starttls", "tls", "none"] = "starttls"
    auth: Literal["password", "xoauth2"] | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # for auth="password"; never logged
    timeout: float = 30.0
    local_hostname: str | None = None  # the name said in EHLO; default the machine's name


def _reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(message.split())}".strip()


class _Disconnected(Exception):
    """The server let go of a reused connection before the message was handed over."""


class SmtpTransport:
    """Hands messages to an SMTP server over one connection kept open between sends.

    The envelope sender is the configured ``from_address``; the recipients are
    every To, Cc and Bcc address, and the Bcc header is taken out of what is sent.
    A connection the server has closed since the last send is opened again before
    anything of the next message is sent; a connection lost once the message data
    has gone is a temporary error, never a silent resend.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        token_provider: Callable[[], str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``token_provider`` gives XOAUTH2 access tokens; if it has a ``forget()`` (as
        :class:`~inboxbot.adapters.mail.graph.MsalTokenProvider` does) a refused token is
        dropped and a fresh one tried once. ``ssl_context`` defaults to the system's trust store.
        """
        s = settings
        if s.security not in _DEFAULT_PORTS:
            raise ValueError(f"security must be starttls, tls or none (got {s.security!r})")
        if s.auth == "password" and not (s.username and s.password):
            raise ValueError("password login needs a username and a password")
        if s.auth == "xoauth2" and not (s.username and token_provider):
            raise ValueError("XOAUTH2 login needs a username and a token provider")
        if s.auth is not None and s.security == "none" and s.host.lower() not in _LOOPBACK:
            # Credentials in clear text across a network: refuse rather than leak them.
            raise ValueError("logging in without TLS is only allowed to a server on this machine")
        if "@" not in s.from_address:
            raise ValueError(f"the from address must be an email address (got {s.from_address!r})")
        self.settings = settings
        self.port = s.port or _DEFAULT_PORTS[s.security]
        user = f"{quote(s.username, safe='@')}@" if s.username else ""
        host = f"[{s.host}]" if ":" in s.host else s.host
        self.name = f"smtp://{user}{host}:{self.port}"
        self._token_provider = token_provider
        self._ssl_context = ssl_context
        self._connection: smtplib.SMTP | None = None
        self._token: str | None = None
        self._refused: str | None = None  # why the login was refused, once it was

    def __repr__(self) -> str:
        return f"SmtpTransport({self.name!r})"

    # -- errors -----------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return _scrub(text, (self.settings.password, self._token))

    def _error(self, what: str, exc: BaseException, *, temporary: bool = False) -> SendError:
        """The SendError for ``exc``, raised while ``what``; always temporary with ``temporary``."""
        if isinstance(exc, SendError):
            return exc
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            first = next(iter(exc.recipients.values()), (0, b""))
            reason = _reply(*first)
            return SendError(
                self._scrub(f"{self.name}: {what}: every recipient refused ({reason})"),
                temporary=temporary or all(400 <= code < 500 for code in codes),
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            reason = _reply(exc.smtp_code, exc.smtp_error)
            return SendError(
                self._scrub(f"{self.name}: {what}: {reason}"),
                temporary=temporary or not 500 <= exc.smtp_code < 600,
            )
        detail = str(exc).strip()
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        return SendError(self._scrub(f"{self.name}: {what}: {reason}"), temporary=True)

    # -- connection -------------------------------------------------------------------------------

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        connection: smtplib.SMTP
        context = self._ssl_context or ssl.create_default_context()
        if s.security == "tls":
            connection = smtplib.SMTP_SSL(timeout=s.timeout, local_hostname=s.local_hostname, context=context)
        else:
            connection = smtplib.SMTP(timeout=s.timeout, local_hostname=s.local_hostname)
        try:
            connection.connect(s.host, self.port)
            connection.ehlo()
            if s.security == "starttls":
                if not connection.has_extn("starttls"):
                    raise TransportConfigError(f"{self.name}: the server does not offer STARTTLS")
                connection.starttls(context=context)
                connection.ehlo()
            self._login(connection)
        except BaseException as exc:
            connection.close()
            if isinstance(exc, Exception):
                # A refusal before any message (a 554 greeting, say) says nothing about the message.
                raise self._error("connecting", exc, temporary=True) from None
            raise
        log.info("%s: connected", self.name)
        return connection

    def _login(self, connection: smtplib.SMTP) -> None:
        s = self.settings
        if s.auth is None:
            return
        if not connection.has_extn("auth"):
            raise TransportConfigError(f"{self.name}: the server does not offer AUTH; cannot log in")
        try:
            if s.auth == "password":
                self._password_login(connection)
                return
            try:
                self._xoauth2(connection)
            except smtplib.SMTPAuthenticationError:
                forget = getattr(self._token_provider, "forget", None)
                if not callable(forget):
                    raise
                # The token may have been revoked or expired before its cache noticed: one fresh try.
                log.info("%s: token refused; getting a fresh one", self.name)
                forget()
                self._token = None
                self._xoauth2(connection)
        except smtplib.SMTPAuthenticationError as exc:
            self._refused = self._scrub(_reply(exc.smtp_code, exc.smtp_error))
            raise TransportConfigError(f"{self.name}: login refused ({self._refused})") from None
        except smtplib.SMTPNotSupportedError:
            raise TransportConfigError(f"{self.name}: the server does not offer {s.auth} login") from None
        except smtplib.SMTPException as exc:
            if "No suitable authentication method" in str(exc):
                raise TransportConfigError(
                    f"{self.name}: the server offers no login method we know"
                ) from None
            raise

    def _password_login(self, connection: smtplib.SMTP) -> None:
        """PLAIN, else LOGIN: one attempt only (smtplib's ``login`` tries each method in turn,
        and every wrong attempt counts towards locking the account)."""
        offered = connection.esmtp_features.get("auth", "").upper().split()
        mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
        if mechanism is None:
            raise TransportConfigError(f"{self.name}: the server offers neither PLAIN nor LOGIN")
        connection.user, connection.password = self.settings.username or "", self.settings.password or ""
        method = connection.auth_plain if mechanism == "PLAIN" else connection.auth_login
        connection.auth(mechanism, method, initial_response_ok=True)

    def _xoauth2(self, connection: smtplib.SMTP) -> None:
        assert self._token_provider is not None
        try:
            self._token = self._token_provider()
        except SendError:
            raise
        except Exception as exc:
            # The provider's own message (GraphError) is already safe; anything else is named only.
            detail = str(exc) if isinstance(exc, GraphError) else type(exc).__name__
            raise SendError(
                self._scrub(f"{self.name}: cannot get a token ({detail})"), temporary=True
            ) from None
        initial = f"user={self.settings.username}\x01auth=Bearer {self._token}\x01\x01"

        def answer(challenge: bytes | None = None) -> str:
            # A refusal comes as a 334 challenge carrying a JSON error; the client answers with nothing.
            return initial if challenge is None else ""

        connection.auth("XOAUTH2", answer)

    def _connected(self) -> smtplib.SMTP:
        if self._refused is not None:
            raise TransportConfigError(f"{self.name}: login was refused earlier ({self._refused})")
        if self._connection is None:
            self._connection = self._open()
        return self._connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    # -- sending ----------------------------------------------------------------------------------

    def send(self, message: EmailMessage) -> str:
        """Hand ``message`` to the server; return its reply to the message data ("250 2.0.0 Ok: ...")."""
        recipients = envelope_recipients(message)
        message_id = _message_id(message)
        if not recipients:
            raise SendError(f"{self.name}: {message_id} has no recipients", temporary=False)
        sender = self.settings.from_address
        international = not all(address.isascii() for address in (sender, *recipients))
        data = _flatten(_without_bcc(message), utf8=international)
        reused = self._connection is not None
        try:
            answer = self._transaction(self._connected(), sender, recipients, data, international)
        except _Disconnected:
            if not reused:
                self._drop()
                raise SendError(
                    f"{self.name}: the server closed the connection before taking {message_id}",
                    temporary=True,
                ) from None
            # The server closed an idle connection; nothing of this message reached it yet.
            log.info("%s: the server closed the connection; connecting again", self.name)
            self._drop()
            try:
                answer = self._transaction(self._connected(), sender, recipients, data, international)
            except _Disconnected:
                self._drop()
                raise SendError(
                    f"{self.name}: the server closed the connection before taking {message_id}",
                    temporary=True,
                ) from None
        log.info("%s: %s accepted: %s", self.name, message_id, answer)
        return answer

    def _transaction(
        self,
        connection: smtplib.SMTP,
        sender: str,
        recipients: list[str],
        data: bytes,
        international: bool,
    ) -> str:
        """MAIL, RCPT, DATA for one message; _Disconnected when the server is gone before DATA."""
        options: list[str] = []
        if connection.has_extn("size"):
            options.append(f"SIZE={len(data)}")
        if international:
            if not connection.has_extn("smtputf8"):
                raise SendError(
                    f"{self.name}: an address is not ASCII and the server does not offer SMTPUTF8",
                    temporary=False,
                )
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        try:
            code, text = connection.mail(sender, options)
        except (smtplib.SMTPServerDisconnected, OSError):
            raise _Disconnected from None
        if code == 421:  # the server is closing this connection: it said so before we noticed
            raise _Disconnected
        try:
            if code != 250:
                self._reset(connection)
                raise smtplib.SMTPSenderRefused(code, text, sender)
            refused: dict[str, tuple[int, bytes]] = {}
            for recipient in recipients:
                code, text = connection.rcpt(recipient)
                if code not in (250, 251):
                    refused[recipient] = (code, text)
            if len(refused) == len(recipients):
                self._reset(connection)
                raise smtplib.SMTPRecipientsRefused(refused)
            code, text = connection.data(data)
            if code != 250:
                self._reset(connection)
                raise smtplib.SMTPDataError(code, text)
        except OSError as exc:  # smtplib's exceptions are OSErrors too
            if isinstance(exc, smtplib.SMTPException) and not isinstance(exc, smtplib.SMTPServerDisconnected):
                raise self._error("sending", exc) from None  # a refusal: the server said no, kept nothing
            # Whether the server kept the message is unknown: say so, and leave resending to the outbox.
            self._drop()
            raise SendError(
                self._scrub(
                    f"{self.name}: connection lost while sending ({type(exc).__name__}); "
                    "the message may or may not have been accepted"
                ),
                temporary=True,
            ) from None
        answer = _reply(code, text)
        if refused:
            reasons = "; ".join(_reply(*reply) for reply in refused.values())
            log.warning(
                "%s: %d of %d recipients refused (%s)", self.name, len(refused), len(recipients), reasons
            )
            answer = f"{answer} (refused {len(refused)} of {len(recipients)} recipients: {reasons})"
        return answer

    def _reset(self, connection: smtplib.SMTP) -> None:
        """Clear the failed transaction so the connection can carry the next message."""
        try:
            code, _ = connection.rset()
        except (smtplib.SMTPException, OSError):
            code = 0
        if code != 250:
            self._drop()

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        self._drop()

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- Microsoft Graph -----------------------------------------------------------------------------

_GRAPH_TEMPORARY = frozenset({408, 429, 500, 502, 503, 504})
_GRAPH_CONFIG = frozenset({401, 403, 404})  # token, permission to send as the mailbox, the mailbox


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


class GraphSendTransport:
    """Sends as a Microsoft 365 mailbox through Graph's ``sendMail`` with the message's own MIME.

    The MIME goes base64-encoded as a ``text/plain`` body; Graph answers 202 once it has
    taken the message, and saves a copy in the mailbox's Sent Items. Graph reads the
    recipients from To, Cc and Bcc itself, so the Bcc header is sent along. Needs the
    application permission Mail.Send.
    """

    def __init__(
        self,
        settings: GraphSettings,
        *,
        token_provider: Callable[[], str] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        """Without ``token_provider`` tokens come from msal with the settings' client secret."""
        self.settings = settings
        self.name = f"graph://{settings.mailbox}"
        self._base = settings.base_url.rstrip("/")
        self._token_provider, self._forget_token = graph_tokens(
            settings, token_provider, self.name, ValueError
        )
        self._own_http = http is None
        if http is None:
            import httpx  # here, not with the command line, which starts without it

            http = httpx.Client(timeout=settings.timeout)
        self._http = http
        self._token: str | None = None

    def __repr__(self) -> str:
        return f"GraphSendTransport({self.name!r})"

    def _scrub(self, text: str) -> str:
        return _scrub(text, (self.settings.client_secret, self._token))

    def _describe(self, response: httpx.Response) -> str:
        detail = error_detail(response)
        request_id = response.headers.get("request-id")
        suffix = f" (request-id {request_id})" if request_id else ""
        return self._scrub(f"HTTP {response.status_code} {detail}".strip() + suffix)

    def _bearer(self) -> str:
        if self._token is None:
            try:
                self._token = self._token_provider()
            except Exception as exc:
                detail = str(exc) if isinstance(exc, GraphError) else type(exc).__name__
                raise SendError(
                    self._scrub(f"{self.name}: cannot get a token ({detail})"), temporary=True
                ) from None
        return self._token

    def _renew_token(self) -> None:
        self._token = None
        if self._forget_token is not None:
            self._forget_token()
        else:
            forget = getattr(self._token_provider, "forget", None)
            if callable(forget):
                forget()

    def send(self, message: EmailMessage) -> str:
        """Post the message; return ``202 Accepted`` and Graph's request id."""
        import httpx

        message_id = _message_id(message)
        body = base64.b64encode(_flatten(message))
        url = f"{self._base}/users/{quote(self.settings.mailbox, safe='@')}/sendMail"
        renewed = False
        while True:
            headers = {"Authorization": f"Bearer {self._bearer()}", "Content-Type": "text/plain"}
            try:
                response = self._http.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                raise SendError(
                    self._scrub(
                        f"{self.name}: {message_id}: {type(exc).__name__}; "
                        "the message may or may not have been accepted"
                    ),
                    temporary=True,
                ) from None
            status = response.status_code
            if 200 <= status < 300:
                request_id = response.headers.get("request-id", "")
                answer = f"{status} Accepted request-id {request_id}".strip()
                log.info("%s: %s accepted: %s", self.name, message_id, answer)
                return answer
            if status == 401 and not renewed:
                log.info("%s: token refused; getting a fresh one", self.name)
                renewed = True
                self._renew_token()
                continue
            reason = f"{self.name}: {message_id}: {self._describe(response)}"
            if status in _GRAPH_CONFIG:
                raise TransportConfigError(reason)
            if status in _GRAPH_TEMPORARY:
                raise SendError(reason, temporary=True, retry_after=_retry_after(response))
            raise SendError(reason, temporary=status < 400 or status >= 500)

    def close(self) -> None:
        """Close the HTTP client if this transport made it."""
        if self._own_http:
            self._http.close()


# -- Exchange Web Services -----------------------------------------------------------------------


def _ews_config_errors() -> tuple[type[BaseException], ...]:
    from exchangelib.errors import (
        ErrorAccessDenied,
        ErrorImpersonateUserDenied,
        ErrorImpersonationDenied,
        ErrorMailboxLogonFailed,
        ErrorNonExistentMailbox,
        ErrorSendAsDenied,
    )

    return (
        ErrorAccessDenied,
        ErrorImpersonateUserDenied,
        ErrorImpersonationDenied,
        ErrorMailboxLogonFailed,
        ErrorNonExistentMailbox,
        ErrorSendAsDenied,
    )


class EwsSendTransport:
    """Sends as an Exchange Server mailbox through EWS with the message's own MIME.

    Exchange reads the recipients from To, Cc and Bcc itself (so the Bcc header is sent
    along) and keeps a copy in the mailbox's Sent Items. The account is made from
    ``settings`` the way :class:`~inboxbot.adapters.mail.ews.EwsSource` makes it.
    """

    def __init__(self, settings: EwsSettings, *, account: Any = None) -> None:
        """``account`` is an exchangelib Account to use instead of one built from ``settings`` (tests)."""
        from inboxbot.adapters.mail.ews import EwsSource

        self.settings = settings
        self._connection = EwsSource(settings, account=account)
        host = urlsplit(settings.server).hostname if "://" in settings.server else settings.server
        user = f"{settings.username}@" if settings.username else ""
        self.name = f"ews://{user}{host}/{settings.mailbox}"

    def __repr__(self) -> str:
        return f"EwsSendTransport({self.name!r})"

    def _scrub(self, text: str) -> str:
        return _scrub(text, (self.settings.password, self.settings.client_secret))

    def send(self, message: EmailMessage) -> str:
        """Send the message; return ``EWS accepted`` and its Message-ID (EWS gives no id of its own)."""
        from exchangelib import Message

        from inboxbot.adapters.mail.ews import _REFUSED, _TRANSIENT

        message_id = _message_id(message)
        raw = _flatten(message)
        try:
            account = self._connection._connect()
            Message(account=account, mime_content=raw).send()
        except _REFUSED as exc:
            raise TransportConfigError(
                self._scrub(f"{self.name}: login refused ({type(exc).__name__})")
            ) from None
        except Exception as exc:
            detail = str(exc).strip()
            reason = self._scrub(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)
            if isinstance(exc, _ews_config_errors()):
                raise TransportConfigError(f"{self.name}: {message_id}: {reason}") from None
            from exchangelib.errors import (
                ErrorMailboxFailover,
                ErrorMailboxMoveInProgress,
                ErrorMailboxStoreUnavailable,
                ResponseMessageError,
            )

            # The server's own verdict on this message (bad recipients, too big, bad MIME) is final;
            # anything else (busy, timeouts, lost connections, surprises) may pass another time.
            passing = (
                *_TRANSIENT,
                ErrorMailboxFailover,
                ErrorMailboxMoveInProgress,
                ErrorMailboxStoreUnavailable,
            )
            temporary = isinstance(exc, passing) or not isinstance(exc, ResponseMessageError)
            raise SendError(f"{self.name}: {message_id}: {reason}", temporary=temporary) from None
        answer = f"EWS accepted {message_id}"
        log.info("%s: %s accepted", self.name, message_id)
        return answer

    def close(self) -> None:
        """Let go of the HTTP sessions."""
        self._connection.close()
