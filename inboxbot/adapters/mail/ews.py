"""An Exchange Server mailbox as a mail source, through EWS (exchangelib).

Messages are read oldest first by ``datetime_received``, a batch at a time: each
batch is a FindItem for the ids received at or after the last instant handed
out, then a GetItem for their MIME, handed over unchanged. Asking again from
the last instant (rather than paging by offset) means mail filed away or
delivered during a long run neither shifts nor hides anything. Reading never
changes the message: the read flag is left alone.

The resume point is that instant in ISO form followed by the ids already handed
out at it (``2026-03-02T08:15:00+00:00 AAMk... AAMk...``), so a later run starts
at the same instant and skips only those. Mail that turns up later with an
older arrival time (moved back into the folder by hand) is not seen by a run
that resumes; a run without a resume point reads everything.

Busy or unreachable servers are retried with backoff (``ErrorServerBusy``'s own
back-off when it gives one); after ``retries`` failures in a row
:class:`EwsError` is raised. A refused login is reported at once. Messages of
:class:`EwsError` are one line and never carry the password or client secret.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    IMPERSONATION,
    NTLM,
    OAUTH2,
    Account,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    Folder,
    Identity,
    ItemId,
    OAuth2Credentials,
)
from exchangelib.errors import (
    ErrorFolderExists,
    ErrorFolderNotFound,
    ErrorInternalServerTransientError,
    ErrorItemNotFound,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    EWSError,
    UnauthorizedError,
)
from exchangelib.services import CreateFolder
from oauthlib.oauth2 import OAuth2Error  # type: ignore[import-untyped]

from inboxbot.adapters.mail.files import SourceError
from inboxbot.adapters.mail.retry import exponential_backoff, wait_or_give_up
from inboxbot.adapters.redact import scrub
from inboxbot.service.ports import FetchedMessage

log = logging.getLogger(__name__)

T = TypeVar("T")

_AUTH_TYPES = {"NTLM": NTLM, "basic": BASIC, "oauth2": OAUTH2}
# Failures a later attempt can cure; anything else is reported at once.
_TRANSIENT: tuple[type[BaseException], ...] = (
    ErrorServerBusy,
    ErrorInternalServerTransientError,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    requests.ConnectionError,
    requests.Timeout,
)
# Failures of the login itself: never chained, so no request or token detail travels on.
_REFUSED: tuple[type[BaseException], ...] = (UnauthorizedError, OAuth2Error)


@dataclass(frozen=True)
class EwsSettings:
    """Where the Exchange server is, whose mailbox to read, and how to log in (secrets not in ``repr``)."""

    server: str  # host name (https://host/EWS/Exchange.asmx is assumed) or the full EWS URL
    username: str  # DOMAIN\\user or user@domain for NTLM and basic; only named in logs for oauth2
    mailbox: str  # the (shared) mailbox's primary SMTP address
    password: str | None = field(default=None, repr=False)  # from config/env, never logged
    folder: str = "Inbox"  # "Inbox", a folder under the top of the mailbox, or a path "Inbox/Ombudsman"
    auth: Literal["NTLM", "basic", "oauth2"] = "NTLM"
    tenant_id: str | None = None  # oauth2 (Exchange hybrid modern auth): the app registration
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    batch_size: int = 50  # items listed and read per round trip


class EwsError(SourceError):
    """The mailbox cannot be read or changed through EWS; a one-line message without secrets."""


def _utc(value: datetime) -> datetime:
    """A plain aware UTC datetime (exchangelib hands out its own EWSDateTime subclass)."""
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def format_position(instant: datetime, ids: set[str]) -> str:
    """The resume point: the instant, then the ids handed out at it."""
    return " ".join([instant.astimezone(UTC).isoformat(), *sorted(ids)])


def parse_position(position: str) -> tuple[datetime, set[str]]:
    """``format_position`` read back; ValueError when it is not one."""
    instant, *ids = position.split()
    parsed = datetime.fromisoformat(instant)
    if parsed.tzinfo is None:
        raise ValueError(f"the resume point's time has no zone: {instant!r}")
    return parsed.astimezone(UTC), set(ids)


@dataclass
class _Listed:
    item_id: str
    received_at: datetime


class EwsSource:
    """One folder of an Exchange Server mailbox, read oldest first and resumable by arrival time."""

    def __init__(
        self,
        settings: EwsSettings,
        *,
        account: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = 5,
    ) -> None:
        """``account`` is an exchangelib Account to use instead of one built from ``settings`` (tests)."""
        if settings.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.settings = settings
        self._given: Any = account
        self._account: Any = account
        self._sleep = sleep
        self._retries = retries
        self._folder: Any = None
        self._targets: dict[str, Any] = {}  # folder name (lower case) -> exchangelib folder
        if account is None:
            self._check_settings()

    @property
    def name(self) -> str:
        """``ews://user@server/Folder``: stable, and safe to log."""
        s = self.settings
        host = urlsplit(s.server).hostname if "://" in s.server else s.server
        user = f"{s.username}@" if s.username else ""
        return f"ews://{user}{host}/{s.folder}"

    def _check_settings(self) -> None:
        s = self.settings
        if not s.server.strip():
            raise EwsError("ews://: no server named")
        if s.auth not in _AUTH_TYPES:
            raise EwsError(f"{self.name}: auth must be NTLM, basic or oauth2 (got {s.auth!r})")
        if "@" not in s.mailbox:
            raise EwsError(f"{self.name}: the mailbox must be an email address (got {s.mailbox!r})")
        if s.auth == "oauth2":
            if not (s.tenant_id and s.client_id and s.client_secret):
                raise EwsError(f"{self.name}: oauth2 needs tenant_id, client_id and client_secret")
        elif not s.password:
            raise EwsError(f"{self.name}: {s.auth} login needs a password")

    # -- connection ---------------------------------------------------------------------------

    def _build_account(self) -> Any:
        s = self.settings
        credentials: Any
        if s.auth == "oauth2":
            credentials = OAuth2Credentials(
                client_id=s.client_id,
                client_secret=s.client_secret,
                tenant_id=s.tenant_id,
                identity=Identity(primary_smtp_address=s.mailbox),
            )
            access_type = IMPERSONATION  # app-only tokens act for the mailbox by impersonation
        else:
            credentials = Credentials(username=s.username, password=s.password)
            access_type = DELEGATE
        where = {"service_endpoint": s.server} if "://" in s.server else {"server": s.server}
        config = Configuration(credentials=credentials, auth_type=_AUTH_TYPES[s.auth], **where)
        return Account(
            primary_smtp_address=s.mailbox,
            config=config,
            autodiscover=False,
            access_type=access_type,
            default_timezone=EWSTimeZone("UTC"),
        )

    def _connect(self) -> Any:
        if self._account is None:
            self._account = self._build_account()
        return self._account

    def _scrub(self, text: str) -> str:
        return scrub(text, (self.settings.password, self.settings.client_secret))

    def _describe(self, exc: BaseException) -> str:
        detail = str(exc).strip()
        return self._scrub(f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)

    @staticmethod
    def _server_back_off(exc: BaseException) -> float | None:
        """The wait an ErrorServerBusy from the server asked for (BackOffMilliseconds), if any.

        exchangelib also turns timeouts and HTTP 503 into ErrorServerBusy, with a
        fixed wait of its own and a "Reraised from" message; those back off here
        exponentially like any other temporary failure.
        """
        told = getattr(exc, "back_off", None)
        if not isinstance(exc, ErrorServerBusy) or str(exc).startswith("Reraised from"):
            return None
        return float(told) if isinstance(told, int | float) and told > 0 else None

    def _run(self, what: str, operation: Callable[[], T]) -> T:
        """``operation``, retried while the failure is temporary; EwsError otherwise."""
        failures = 0
        while True:
            try:
                return operation()
            except EwsError:
                raise
            except _TRANSIENT as exc:
                failures += 1
                wait_or_give_up(
                    name=self.name,
                    what=what,
                    reason=self._describe(exc),
                    failures=failures,
                    retries=self._retries,
                    delay=self._server_back_off(exc) or exponential_backoff(failures),
                    sleep=self._sleep,
                    error=EwsError,
                    cause=exc,
                )
            except _REFUSED as exc:
                # Not chained: the original may carry the request that was refused.
                raise EwsError(f"{self.name}: login refused ({self._describe(exc)})") from None
            except (EWSError, requests.RequestException) as exc:
                raise EwsError(f"{self.name}: {what}: {self._describe(exc)}") from exc

    # -- folders ------------------------------------------------------------------------------

    def _resolve(self, folder: str, *, create: bool) -> Any:
        """The exchangelib folder for ``folder`` ("Inbox", a top-level folder, or a path), made when asked."""
        account = self._connect()
        parts = [part for part in folder.split("/") if part]
        if not parts:
            raise EwsError(f"{self.name}: no folder named")
        if parts[0].lower() == "inbox":
            # The distinguished inbox, whatever the mailbox's language calls it.
            current, parts = account.inbox, parts[1:]
        else:
            current = account.msg_folder_root
        for part in parts:
            try:
                current = current // part  # one shallow FindFolder, no walk of the whole tree
            except ErrorFolderNotFound:
                if not create:
                    raise EwsError(f"{self.name}: there is no folder {folder!r} in the mailbox") from None
                current = self._create(current, part)
        return current

    def _create(self, parent: Any, name: str) -> Any:
        # The CreateFolder service itself: Folder.save() would first load the mailbox's whole folder tree.
        wanted = Folder(root=parent.root, name=name, folder_class="IPF.Note")
        [made] = list(CreateFolder(account=self._connect()).call(parent_folder=parent, folders=[wanted]))
        if isinstance(made, ErrorFolderExists):  # made meanwhile, by a person or another worker
            return parent // name
        if isinstance(made, Exception):
            raise made
        log.info("%s: created folder %r", self.name, name)
        return made

    def _source_folder(self) -> Any:
        if self._folder is None:
            self._folder = self._resolve(self.settings.folder, create=False)
        return self._folder

    def _target(self, folder: str) -> Any:
        key = folder.lower()
        if key not in self._targets:
            self._targets[key] = self._resolve(folder, create=True)
        return self._targets[key]

    # -- reading ------------------------------------------------------------------------------

    def count(self) -> int | None:
        """How many items the folder holds now."""

        def total() -> int | None:
            folder = self._source_folder().refresh()
            value = folder.total_count
            return value if isinstance(value, int) else None

        return self._run("counting messages", total)

    def _start_of(self, after: str | None) -> tuple[datetime | None, set[str]]:
        if after is None:
            return None, set()
        try:
            return parse_position(after)
        except ValueError:
            log.warning(
                "%s: ignoring a resume point that is not 'ISO-time id ...'; reading everything", self.name
            )
            return None, set()

    def _list(self, since: datetime | None, limit: int) -> list[_Listed]:
        """Up to ``limit`` item ids received at or after ``since``, oldest first."""
        folder = self._source_folder()
        query = (
            folder.all()
            if since is None
            else folder.filter(datetime_received__gte=EWSDateTime.from_datetime(since))
        )
        listed = []
        for item in query.order_by("datetime_received").only("datetime_received")[:limit]:
            if isinstance(item, Exception):
                raise item
            if item.id and isinstance(item.datetime_received, datetime):
                listed.append(_Listed(str(item.id), _utc(item.datetime_received)))
        return listed

    def _read(self, wanted: list[_Listed]) -> list[tuple[_Listed, bytes]]:
        """The MIME of each listed item, in order; items gone meanwhile are left out."""
        account = self._connect()
        ids = [ItemId(id=entry.item_id) for entry in wanted]
        results = account.fetch(ids=ids, folder=self._source_folder(), only_fields=["mime_content"])
        found: list[tuple[_Listed, bytes]] = []
        for entry, result in zip(wanted, results, strict=True):
            if isinstance(result, ErrorItemNotFound):
                log.warning("%s: item %s vanished before it could be read", self.name, entry.item_id)
                continue
            if isinstance(result, Exception):
                raise result
            if not result.mime_content:
                log.warning("%s: item %s has no MIME content; skipped", self.name, entry.item_id)
                continue
            found.append((entry, bytes(result.mime_content)))
        return found

    def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
        """Messages oldest first, ``batch_size`` at a time; the key is the EWS item id.

        With ``after`` (a position from an earlier run) only items received at
        or after its instant are read, less the ids it names. Each message
        carries the position to resume after it.
        """
        instant, seen = self._start_of(after)
        limit = self.settings.batch_size
        label_folder = self.settings.folder
        while True:
            listed = self._run("listing messages", partial(self._list, instant, limit))
            fresh = [e for e in listed if not (e.received_at == instant and e.item_id in seen)]
            if not fresh:
                if len(listed) < limit:
                    return
                # A whole batch arrived in one second and was handed out already: look further.
                limit *= 2
                continue
            for entry, raw in self._run("reading messages", partial(self._read, fresh)):
                if entry.received_at == instant:
                    seen.add(entry.item_id)
                else:
                    instant, seen = entry.received_at, {entry.item_id}
                yield FetchedMessage(
                    key=entry.item_id,
                    raw=raw,
                    received_at=entry.received_at,
                    label=f"{label_folder} {entry.item_id}",
                    position=format_position(entry.received_at, seen),
                )
            if len(listed) < limit:
                return
            limit = self.settings.batch_size

    # -- filing -------------------------------------------------------------------------------

    def move(self, key: str, folder: str) -> None:
        """File the item ``key`` into ``folder`` (made under the top of the mailbox if missing).

        An item no longer in the mailbox (filed by hand, or by an earlier attempt
        whose answer was lost) is left alone.
        """

        def file_it() -> None:
            target = self._target(folder)
            if target.id == self._source_folder().id:
                raise EwsError(f"{self.name}: cannot file {key} into the folder it is read from")
            [result] = self._connect().bulk_move(ids=[ItemId(id=key)], to_folder=target)
            if isinstance(result, ErrorItemNotFound):
                log.warning("%s: %s is no longer in the mailbox; nothing to file", self.name, key)
                return
            if isinstance(result, Exception):
                raise result
            log.info("%s: moved %s to %r", self.name, key, folder)

        self._run(f"filing {key} in {folder!r}", file_it)

    def close(self) -> None:
        """Let go of the HTTP sessions (a later call opens new ones)."""
        account, self._account = self._account, self._given
        self._folder = None
        self._targets = {}
        if account is not None:
            try:
                account.protocol.close()
            except Exception as exc:  # already gone: nothing to tidy
                log.debug("%s: closing sessions failed (%s)", self.name, type(exc).__name__)

    def __enter__(self) -> EwsSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
