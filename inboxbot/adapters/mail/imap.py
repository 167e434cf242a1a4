"""An IMAP mailbox as a mail source (imapclient).

Reading uses ``BODY.PEEK[]``, so the bot never marks mail as read for the
people who share the mailbox. Filing uses MOVE, or COPY plus flags where the
server has no MOVE; nothing is ever flagged ``\\Deleted`` or expunged.

One connection is kept open between calls and is not thread-safe. A dropped
connection (socket error, server restart, BYE) is reopened with backoff, as
is a refusal the server calls temporary (``[UNAVAILABLE]``); any other refused
login or command is reported at once. Messages of :class:`ImapError` never
carry the password or the OAuth2 token.
"""

from __future__ import annotations

import imaplib
import ipaddress
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from inboxbot.adapters.mail.files import SourceError
from inboxbot.adapters.mail.retry import exponential_backoff
from inboxbot.adapters.redact import scrub
from inboxbot.service.ports import FetchedMessage

log = logging.getLogger(__name__)

T = TypeVar("T")

# RFC 2177: a server may drop a client that has been idle for 29 minutes, so IDLE is re-issued sooner.
IDLE_SLICE = 25 * 60.0
POLL_INTERVAL = 30.0
PROCESSED_KEYWORD = "$Processed"
SEEN = "\\Seen"
_BODY = b"BODY[]"
_INTERNALDATE = b"INTERNALDATE"
_BYTES_REPR = re.compile(r"\bb'([^']*)'")


@dataclass(frozen=True)
class ImapSettings:
    """Where the mailbox is and how to log in; the secrets are left out of ``repr``."""

    host: str
    port: int = 993
    username: str = ""
    security: Literal["tls", "starttls", "none"] = "tls"
    password: str | None = field(default=None, repr=False)  # from config/env, never logged
    # XOAUTH2 bearer token, asked for on every (re)connect so an expired token is never reused.
    token_provider: Callable[[], str] | None = field(default=None, repr=False)
    folder: str = "INBOX"
    timeout: float = 30.0
    batch_size: int = 50  # UIDs fetched per FETCH command


class ImapError(SourceError):
    """The mailbox cannot be read or changed; a one-line message without secrets."""


class _Dropped(Exception):
    """The server ended the connection (BYE, or end of file while idling)."""


# Failures that a new connection can cure; everything else is reported at once.
_TRANSIENT: tuple[type[BaseException], ...] = (OSError, imaplib.IMAP4.abort, _Dropped)


def parse_key(key: str) -> tuple[int, int]:
    """``"UIDVALIDITY:UID"`` as two integers; ValueError when it is not one."""
    validity, sep, uid = key.partition(":")
    if not sep or not validity.isdigit() or not uid.isdigit():
        raise ValueError(f"not an IMAP message key (UIDVALIDITY:UID): {key!r}")
    return int(validity), int(uid)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _temporary(exc: BaseException) -> bool:
    """A refusal the server marks as temporary (RFC 5530 ``[UNAVAILABLE]``): worth retrying."""
    return "[UNAVAILABLE]" in str(exc).upper()


def _quiet_imaplib(client: IMAPClient) -> None:
    """Stop imaplib describing every response to a logger that throws the text away.

    IMAPClient sets imaplib's debug level to 5 and sends its messages to the
    ``imapclient.imaplib`` logger. imaplib builds each message before the logger can
    decline it, including the ``repr`` of every message fetched and of the whole batch:
    half the CPU time of a backfill's fetching, for nothing. The full trace (which shows
    every byte fetched) is kept for whoever turns that logger up to DEBUG.
    """
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def _received_at(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:  # INTERNALDATE always has a zone; be safe with odd servers
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _has_exists(responses: list[Any]) -> bool:
    return any(len(r) >= 2 and isinstance(r[0], int) and r[1] == b"EXISTS" for r in responses)


def _says_bye(responses: list[Any]) -> bool:
    return any(len(r) >= 1 and r[0] == b"BYE" for r in responses)


@dataclass
class _FetchRun:
    """Where one ``fetch`` has got to, kept across reconnects."""

    validity: int | None
    last_uid: int
    pending: list[int] | None = None  # UIDs still to fetch, oldest first; None until searched


class ImapSource:
    """One folder of an IMAP mailbox, read oldest first and resumable by UID."""

    def __init__(
        self,
        settings: ImapSettings,
        *,
        retries: int = 5,
        backoff: Callable[[int], float] = exponential_backoff,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``retries`` is how many reconnects in a row are tried before giving up."""
        if settings.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.settings = settings
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._client: Any = None
        self._uidvalidity: int | None = None
        self._folders: set[str] = set()  # folders known to exist, on this connection
        self._token: str | None = None  # the last token handed out, only to scrub it from messages
        # (UIDVALIDITY, highest UID handed out by fetch): wait_for_new reports mail above it.
        self._watermark: tuple[int, int] | None = None
        if settings.security == "none" and not _is_loopback(settings.host):
            log.warning("%s: security is 'none', so the login travels unencrypted", self.name)

    @property
    def name(self) -> str:
        """``imap://user@host:port/FOLDER``: stable, and safe to log."""
        s = self.settings
        user = f"{s.username}@" if s.username else ""
        return f"imap://{user}{s.host}:{s.port}/{s.folder}"

    # -- connection ---------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return scrub(text, (self.settings.password, self._token))

    def _describe(self, exc: BaseException) -> str:
        detail = _BYTES_REPR.sub(r"\1", str(exc).strip())  # imaplib quotes server text as b'...'
        return self._scrub(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)

    def _login(self, client: Any) -> None:
        s = self.settings
        try:
            if s.token_provider is not None:
                try:
                    self._token = s.token_provider()
                except SourceError:
                    raise
                except Exception as exc:
                    raise ImapError(
                        f"{self.name}: cannot get an OAuth2 token ({type(exc).__name__})"
                    ) from None
                client.oauth2_login(s.username, self._token)
            else:
                client.login(s.username, s.password or "")
        except IMAPClientError as exc:
            if _temporary(exc):
                raise
            reason = self._describe(exc)
            # Not chained: the original carries nothing more, and a secret must not slip through.
            raise ImapError(f"{self.name}: login refused ({reason})") from None

    def _connect(self) -> Any:
        """The open connection with the folder selected, opening one when needed."""
        if self._client is not None:
            return self._client
        s = self.settings
        context = ssl.create_default_context() if s.security != "none" else None
        try:
            client = IMAPClient(
                s.host,
                s.port,
                ssl=s.security == "tls",
                ssl_context=context if s.security == "tls" else None,
                timeout=s.timeout,
            )
        except ssl.SSLError as exc:
            self._check_handshake(exc)
            raise
        _quiet_imaplib(client)
        try:
            if s.security == "starttls":
                try:
                    client.starttls(context)
                except ssl.SSLError as exc:
                    self._check_handshake(exc)
                    raise
                except IMAPClientError as exc:
                    raise ImapError(f"{self.name}: STARTTLS failed ({self._describe(exc)})") from exc
            self._login(client)
            # Aware INTERNALDATEs, as the server sent them; they are turned into UTC per message.
            client.normalise_times = False
            try:
                selected = client.select_folder(s.folder)
            except IMAPClientError as exc:
                if isinstance(exc, imaplib.IMAP4.abort):
                    raise
                raise ImapError(
                    f"{self.name}: cannot open folder {s.folder!r} ({self._describe(exc)})"
                ) from exc
        except BaseException:
            self._shutdown(client)
            raise
        self._client = client
        self._uidvalidity = int(selected[b"UIDVALIDITY"])
        self._folders = {s.folder}
        log.info("connected to %s (UIDVALIDITY %s)", self.name, self._uidvalidity)
        return client

    def _check_handshake(self, exc: ssl.SSLError) -> None:
        """ImapError for a TLS failure that retrying cannot cure: a bad certificate, a wrong port."""
        if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ssl.SSLSyscallError):
            return  # the connection broke during the handshake: worth another try
        raise ImapError(
            f"{self.name}: TLS handshake failed ({self._describe(exc)}); check the port and security"
        ) from exc

    @staticmethod
    def _shutdown(client: Any) -> None:
        try:
            client.shutdown()
        except Exception as exc:  # already gone: nothing to tidy
            log.debug("closing a broken IMAP connection: %s", type(exc).__name__)

    def _drop(self) -> None:
        client, self._client = self._client, None
        self._folders = set()
        if client is not None:
            self._shutdown(client)

    def _recover(self, what: str, exc: BaseException, failures: int) -> float:
        """Drop the connection and wait before the next attempt; ImapError once retries run out.

        Returns the seconds waited.
        """
        self._drop()
        reason = self._describe(exc)
        if failures > self._retries:
            raise ImapError(
                f"{self.name}: {what}: gave up after {failures} failed attempts ({reason})"
            ) from exc
        delay = self._backoff(failures)
        log.warning(
            "%s: %s: connection lost (%s); reconnecting in %.1f s (attempt %d of %d)",
            self.name,
            what,
            reason,
            delay,
            failures,
            self._retries,
        )
        self._sleep(delay)
        return delay

    def _run(self, what: str, operation: Callable[[Any], T]) -> T:
        """``operation`` on a connected client, reconnecting on connection failures."""
        failures = 0
        while True:
            try:
                return operation(self._connect())
            except _TRANSIENT as exc:
                failures += 1
                self._recover(what, exc, failures)
            except IMAPClientError as exc:
                if not _temporary(exc):
                    raise ImapError(f"{self.name}: {what}: {self._describe(exc)}") from exc
                failures += 1
                self._recover(what, exc, failures)

    # -- reading ------------------------------------------------------------------------------

    def count(self) -> int:
        """How many messages the folder holds now."""
        folder = self.settings.folder
        return self._run(
            "counting messages",
            lambda client: int(client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"]),
        )

    def _start_of(self, after: str | None) -> _FetchRun:
        if after is None:
            return _FetchRun(validity=None, last_uid=0)
        try:
            validity, uid = parse_key(after)
        except ValueError:
            log.warning(
                "%s: ignoring a resume point that is not UIDVALIDITY:UID; fetching everything", self.name
            )
            return _FetchRun(validity=None, last_uid=0)
        return _FetchRun(validity=validity, last_uid=uid)

    def _next_batch(self, client: Any, run: _FetchRun) -> list[FetchedMessage]:
        validity = self._uidvalidity
        assert validity is not None
        if run.validity != validity:
            if run.validity is not None:
                # The server renumbered the folder: every UID we knew is meaningless now.
                log.warning(
                    "%s: UIDVALIDITY changed (%s -> %s); fetching every message again",
                    self.name,
                    run.validity,
                    validity,
                )
            run.validity, run.last_uid, run.pending = validity, 0, None
        if run.pending is None:
            # A server shows mail delivered meanwhile only after a sync point such as NOOP;
            # SEARCH alone may still answer from the session's older view of the folder.
            client.noop()
            # "N:*" always matches the newest message, even below N, hence the filter.
            found = client.search(["UID", f"{run.last_uid + 1}:*"])
            run.pending = sorted(uid for uid in found if uid > run.last_uid)
            log.debug("%s: %d messages to fetch after UID %d", self.name, len(run.pending), run.last_uid)
        uids = run.pending[: self.settings.batch_size]
        if not uids:
            return []
        data = client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
        folder = self.settings.folder
        batch: list[FetchedMessage] = []
        for uid in uids:
            item = data.get(uid)
            if item is None or _BODY not in item:
                log.warning("%s: UID %d vanished before it could be fetched", self.name, uid)
                continue
            key = f"{validity}:{uid}"
            batch.append(
                FetchedMessage(
                    key=key,
                    raw=bytes(item[_BODY]),
                    received_at=_received_at(item.get(_INTERNALDATE)),
                    label=f"{folder} UID {uid}",
                    position=key,
                )
            )
        # Only now: a failure above retries the same UIDs.
        run.pending = run.pending[len(uids) :]
        return batch

    def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
        """Messages oldest first, ``batch_size`` at a time; the key is ``UIDVALIDITY:UID``.

        With ``after`` (a key from an earlier run) only newer UIDs are fetched, unless
        the folder's UIDVALIDITY changed, when everything is fetched again (the
        caller dedupes by content). A dropped connection is reopened and the run
        carries on after the last message handed out: none twice, none skipped.
        """
        run = self._start_of(after)
        while True:
            batch = self._run("fetching messages", lambda client: self._next_batch(client, run))
            if not batch:
                if run.validity is not None:
                    self._watermark = (run.validity, run.last_uid)
                return
            for message in batch:
                run.last_uid = parse_key(message.key)[1]
                assert run.validity is not None
                self._watermark = (run.validity, run.last_uid)
                yield message

    # -- filing -------------------------------------------------------------------------------

    def _ensure_folder(self, client: Any, folder: str) -> None:
        if folder in self._folders:
            return
        if not client.folder_exists(folder):
            try:
                client.create_folder(folder)
                log.info("%s: created folder %r", self.name, folder)
            except IMAPClientError:
                if not client.folder_exists(folder):  # someone else may have created it meanwhile
                    raise
            try:
                client.subscribe_folder(folder)  # so people see it in their mail program
            except IMAPClientError as exc:
                log.debug("%s: could not subscribe to %r: %s", self.name, folder, self._describe(exc))
        self._folders.add(folder)

    def move(self, key: str, folder: str) -> None:
        """File the message at ``key`` into ``folder`` (created when missing).

        MOVE where the server offers it; otherwise COPY, then ``\\Seen`` and
        ``$Processed`` on the original, which stays where it is. Nothing is ever
        deleted or expunged. A message that is no longer in the folder (filed
        by hand, or by an earlier attempt whose answer was lost) is left alone.
        """
        try:
            validity, uid = parse_key(key)
        except ValueError as exc:
            raise ImapError(f"{self.name}: {exc}") from None
        if folder == self.settings.folder:
            raise ImapError(f"{self.name}: cannot file {key} into the folder it is read from")
        sent = False

        def file_it(client: Any) -> None:
            nonlocal sent
            if self._uidvalidity != validity:
                raise ImapError(
                    f"{self.name}: {key} belongs to an earlier UIDVALIDITY ({validity}, now "
                    f"{self._uidvalidity}); the message can no longer be addressed by this key"
                )
            self._ensure_folder(client, folder)
            found = client.fetch([uid], ["FLAGS"]).get(uid)
            if found is None:
                if sent:
                    log.info("%s: %s already filed in %r", self.name, key, folder)
                else:
                    log.warning(
                        "%s: %s is no longer in %s; nothing to file", self.name, key, self.settings.folder
                    )
                return
            sent = True
            if client.has_capability("MOVE"):
                client.move([uid], folder)
                log.info("%s: moved %s to %r", self.name, key, folder)
                return
            flags = {bytes(f).lower() for f in found.get(b"FLAGS", ())}
            if PROCESSED_KEYWORD.lower().encode() in flags:
                log.info("%s: %s was already copied to %r", self.name, key, folder)
            else:
                client.copy([uid], folder)
            client.add_flags([uid], [SEEN, PROCESSED_KEYWORD])
            log.info(
                "%s: copied %s to %r and flagged it %s (no MOVE)", self.name, key, folder, PROCESSED_KEYWORD
            )

        self._run(f"filing {key} in {folder!r}", file_it)

    # -- waiting ------------------------------------------------------------------------------

    def _has_new(self, client: Any) -> bool:
        """True when the folder holds a message above the watermark (set at the first look)."""
        validity = self._uidvalidity
        assert validity is not None
        client.noop()  # see mail delivered since the last command (see _next_batch)
        if self._watermark is None:
            newest = client.search(["UID", "*"])  # the newest message's UID, if any
            self._watermark = (validity, max(newest, default=0))
            return False
        if self._watermark[0] != validity:
            return True  # renumbered: everything is new to the caller
        high = self._watermark[1]
        return any(uid > high for uid in client.search(["UID", f"{high + 1}:*"]))

    def _idle(self, client: Any, seconds: float) -> bool:
        """One IDLE of at most ``seconds``; True when the server reported EXISTS."""
        client.idle()
        end = time.monotonic() + seconds
        new = False
        while not new:
            left = end - time.monotonic()
            if left <= 0:
                break
            responses = client.idle_check(timeout=left)
            if _says_bye(responses):
                raise _Dropped("the server said BYE")
            new = _has_exists(responses)
            if not responses and time.monotonic() < end - 0.5:
                # Woken with nothing to read: usually end of file. DONE below tells which.
                break
        _text, responses = client.idle_done()
        return new or _has_exists(responses)

    def wait_for_new(self, timeout: float) -> bool:
        """Block until new mail arrives (True) or ``timeout`` seconds pass (False).

        "New" means above the last message ``fetch`` handed out (or, before any
        fetch, arrived after the first call). IDLE where offered, re-issued every
        25 minutes; else NOOP and a UID SEARCH every min(timeout, 30) s.
        """
        remaining = max(timeout, 0.0)
        interval = min(remaining, POLL_INTERVAL) or POLL_INTERVAL
        failures = 0
        while True:
            started = time.monotonic()
            waited = 0.0
            try:
                client = self._connect()
                if self._has_new(client):
                    return True
                if remaining <= 0:
                    return False
                if client.has_capability("IDLE"):
                    if self._idle(client, min(remaining, IDLE_SLICE)):
                        return True
                else:
                    waited = min(interval, remaining)
                    self._sleep(waited)  # the NOOP in _has_new is the poll
                failures = 0
            except _TRANSIENT as exc:
                failures += 1
                waited = self._recover("waiting for mail", exc, failures)
            except IMAPClientError as exc:
                if not _temporary(exc):
                    raise ImapError(f"{self.name}: waiting for mail: {self._describe(exc)}") from exc
                failures += 1
                waited = self._recover("waiting for mail", exc, failures)
            # Count stubbed sleeps as time passed, so a test's fake sleep still ends the wait.
            remaining -= max(time.monotonic() - started, waited)

    def close(self) -> None:
        """Log out and let go of the connection."""
        client, self._client = self._client, None
        self._folders = set()
        if client is None:
            return
        try:
            client.logout()
        except Exception as exc:  # the connection may be gone already
            log.debug("%s: logout failed (%s); closing the socket", self.name, type(exc).__name__)
            self._shutdown(client)

    def __enter__(self) -> ImapSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
