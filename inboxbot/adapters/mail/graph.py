"""A Microsoft 365 mailbox as a mail source, through Microsoft Graph.

Reading is a delta query on the folder's messages: the first run lists every
message, later runs start from the ``@odata.deltaLink`` of the run before and
see only what arrived (or changed) since. The delta link is only known when the
last page has been read, so it is offered as :attr:`GraphSource.position` once
``fetch`` has been consumed to the end (see ``ResumableSource``). Each message's
MIME is fetched with ``GET /messages/{id}/$value`` and handed over unchanged.
Reading never changes the message: the read flag is left alone.

Message ids are asked for as immutable ids (``Prefer: IdType="ImmutableId"``),
so a key stays the same when the message is filed in another folder.

Throttling (429) and unavailability (503) are waited out as long as the
``Retry-After`` header says; other server errors and dropped connections back
off exponentially; after ``retries`` failures in a row :class:`GraphError` is
raised. An expired token (401) is renewed once per request. Messages of
:class:`GraphError` are one line and never carry the client secret or a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from inboxbot.adapters.mail.files import SourceError
from inboxbot.adapters.mail.retry import exponential_backoff, wait_or_give_up
from inboxbot.adapters.redact import scrub
from inboxbot.service.ports import FetchedMessage

if TYPE_CHECKING:  # imported where it is used: the command line starts without it
    import httpx

log = logging.getLogger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
LOGIN_AUTHORITY = "https://login.microsoftonline.com"
# Folders Graph knows by name in any mailbox language; anything else is looked up by displayName.
WELL_KNOWN_FOLDERS = frozenset(
    {"inbox", "archive", "deleteditems", "drafts", "junkemail", "outbox", "sentitems", "msgfolderroot"}
)
_IMMUTABLE_IDS = 'IdType="ImmutableId"'
_RETRY_AFTER_STATUSES = (429, 503)
_DELTA_GONE = 410  # the delta token expired or the sync state was lost: start again from scratch


def error_detail(response: httpx.Response) -> str:
    """Graph's error code and message (``ErrorAccessDenied: Access is denied.``), the login
    service's error word, or "" when the body says neither."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return ": ".join(str(part) for part in (error.get("code"), error.get("message")) if part)
    if isinstance(body, dict) and body.get("error"):  # the login service's shape
        return str(body["error"])
    return ""


@dataclass(frozen=True)
class GraphSettings:
    """Which mailbox and folder to read, and the app registration that may read it."""

    mailbox: str  # the shared mailbox address
    tenant_id: str
    client_id: str
    client_secret: str | None = field(default=None, repr=False)  # never logged
    folder: str = "Inbox"  # a well-known name, a top-level folder, or a path such as "Inbox/Ombudsman"
    page_size: int = 50
    base_url: str = "https://graph.microsoft.com/v1.0"
    timeout: float = 30.0


class GraphError(SourceError):
    """The mailbox cannot be read or changed through Graph; a one-line message without secrets."""


def _retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds; None when absent or a date (then we back off ourselves)."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(seconds, 0.0)


def _received_at(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:  # Graph always sends UTC with a Z; be safe
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _odata_string(value: str) -> str:
    """``value`` as an OData string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


class MsalTokenProvider:
    """App-only tokens for Graph by the client-credentials flow; msal caches them until they expire.

    The msal application is made on first use (making it already talks to the
    login service) and then kept, so its token cache lives as long as the source.
    """

    def __init__(self, tenant_id: str, client_id: str, client_secret: str, scope: str = GRAPH_SCOPE) -> None:
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._app: Any = None

    def _application(self) -> Any:
        if self._app is None:
            import msal

            try:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    authority=f"{LOGIN_AUTHORITY}/{self._tenant_id}",
                    client_credential=self._client_secret,
                )
            except Exception as exc:
                # Not chained: msal's exception text could quote the request it made.
                raise GraphError(
                    f"cannot reach the Microsoft login service for tenant {self._tenant_id} "
                    f"({type(exc).__name__})"
                ) from None
        return self._app

    def __call__(self) -> str:
        """A valid access token (from msal's cache while it lasts)."""
        app = self._application()
        try:
            result = app.acquire_token_for_client(scopes=[self._scope])
        except Exception as exc:
            raise GraphError(f"cannot get a token for Microsoft Graph ({type(exc).__name__})") from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            error = result.get("error", "unknown error") if isinstance(result, dict) else "unknown error"
            raise GraphError(f"cannot get a token for Microsoft Graph: {error}")
        return token

    def forget(self) -> None:
        """Drop the cached token, so the next call asks the login service for a fresh one."""
        if self._app is not None:
            self._app.remove_tokens_for_client()


def graph_tokens(
    settings: GraphSettings,
    token_provider: Callable[[], str] | None,
    name: str,
    error: Callable[[str], Exception],
) -> tuple[Callable[[], str], Callable[[], None] | None]:
    """The token provider to use, and how to drop a refused token: the one given, else msal's
    client credentials from the settings (``error`` is raised when there is no secret)."""
    if token_provider is not None:
        return token_provider, None
    if not settings.client_secret:
        raise error(f"{name}: a client secret is needed to get tokens for Microsoft Graph")
    provider = MsalTokenProvider(settings.tenant_id, settings.client_id, settings.client_secret)
    return provider, provider.forget


class GraphSource:
    """One folder of a (shared) Microsoft 365 mailbox, read by delta query; implements ``MailSource``."""

    def __init__(
        self,
        settings: GraphSettings,
        *,
        token_provider: Callable[[], str] | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = 5,
    ) -> None:
        """``retries`` is how many failed attempts in a row one request may have before giving up.

        Without ``token_provider`` tokens come from msal with the settings' client
        secret; without ``http`` the source makes (and closes) its own client.
        """
        if settings.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if retries < 0:
            raise ValueError("retries must not be negative")
        self.settings = settings
        self._base = settings.base_url.rstrip("/")
        self._token_provider, self._forget_token = graph_tokens(
            settings, token_provider, self.name, GraphError
        )
        self._own_http = http is None
        if http is None:
            import httpx

            http = httpx.Client(timeout=settings.timeout)
        self._http = http
        self._sleep = sleep
        self._retries = retries
        self._token: str | None = None
        self._folder_ids: dict[str, str] = {}  # folder name (lower case) -> Graph id, for this source's life
        self._position: str | None = None

    @property
    def name(self) -> str:
        """``graph://mailbox/Folder``: stable, and safe to log."""
        return f"graph://{self.settings.mailbox}/{self.settings.folder}"

    @property
    def position(self) -> str | None:
        """The delta link to resume from, once a ``fetch`` has been read to the end; else None."""
        return self._position

    # -- HTTP ---------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return scrub(text, (self.settings.client_secret, self._token))

    def _describe(self, response: httpx.Response) -> str:
        """``HTTP 403 ErrorAccessDenied: Access is denied.``, from Graph's error body when it has one."""
        return self._scrub(f"HTTP {response.status_code} {error_detail(response)}".strip())

    def _bearer(self) -> str:
        if self._token is None:
            try:
                self._token = self._token_provider()
            except GraphError as exc:
                raise GraphError(f"{self.name}: {exc}") from None
            except SourceError:
                raise
            except Exception as exc:
                raise GraphError(f"{self.name}: cannot get a token ({type(exc).__name__})") from None
        return self._token

    def _renew_token(self) -> None:
        self._token = None
        if self._forget_token is not None:
            self._forget_token()

    def _url(self, path: str) -> str:
        return f"{self._base}/users/{quote(self.settings.mailbox, safe='@')}{path}"

    def _check_own(self, url: str) -> None:
        """Refuse to send the token anywhere but the configured Graph host."""
        ours, theirs = urlsplit(self._base), urlsplit(url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise GraphError(
                f"{self.name}: Graph sent a link to another host ({theirs.netloc}); not following it"
            )

    def _wait(self, what: str, failures: int, delay: float, reason: str) -> None:
        wait_or_give_up(
            name=self.name,
            what=what,
            reason=reason,
            failures=failures,
            retries=self._retries,
            delay=delay,
            sleep=self._sleep,
            error=GraphError,
        )

    def _request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        prefer: tuple[str, ...] = (),
        expect: Collection[int] = (),
    ) -> httpx.Response:
        """One Graph call with token renewal and retries.

        A 2xx answer, or one whose status is in ``expect``, is returned; any other
        answer is a :class:`GraphError` once retrying cannot help.
        """
        import httpx

        self._check_own(url)
        failures = 0
        renewed = False
        while True:
            headers = [("Authorization", f"Bearer {self._bearer()}"), ("Prefer", _IMMUTABLE_IDS)]
            headers.extend(("Prefer", value) for value in prefer)
            try:
                response = self._http.request(method, url, params=params, json=json, headers=headers)
            except httpx.TransportError as exc:
                failures += 1
                self._wait(what, failures, exponential_backoff(failures), self._scrub(type(exc).__name__))
                continue
            status = response.status_code
            if status < 300 or status in expect:
                return response
            if status == 401 and not renewed:
                # Tokens expire (and can be revoked) before msal's cache notices: ask for a fresh one, once.
                log.info("%s: %s: token refused; getting a fresh one", self.name, what)
                renewed = True
                self._renew_token()
                continue
            if status in _RETRY_AFTER_STATUSES or status >= 500:
                failures += 1
                told = _retry_after(response) if status in _RETRY_AFTER_STATUSES else None
                delay = told if told is not None else exponential_backoff(failures)
                self._wait(what, failures, delay, self._describe(response))
                continue
            raise GraphError(f"{self.name}: {what}: {self._describe(response)}")

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GraphError(f"{self.name}: {what}: Graph's answer is not a JSON object")
        return body

    # -- folders ------------------------------------------------------------------------------

    def _find_child(self, parent: str | None, display_name: str) -> str | None:
        path = "/mailFolders" if parent is None else f"/mailFolders/{quote(parent, safe='')}/childFolders"
        what = f"looking up folder {display_name!r}"
        response = self._request(
            "GET",
            self._url(path),
            what,
            params={"$filter": f"displayName eq {_odata_string(display_name)}", "$select": "id,displayName"},
        )
        for folder in self._json(response, what).get("value", []):
            if (
                isinstance(folder, dict)
                and str(folder.get("displayName", "")).lower() == display_name.lower()
            ):
                return str(folder["id"])
        return None

    def _create_child(self, parent: str | None, display_name: str) -> str:
        path = "/mailFolders" if parent is None else f"/mailFolders/{quote(parent, safe='')}/childFolders"
        what = f"creating folder {display_name!r}"
        response = self._request(
            "POST", self._url(path), what, json={"displayName": display_name}, expect=(409,)
        )
        if response.status_code == 409:  # made meanwhile, by a person or another worker
            found = self._find_child(parent, display_name)
            if found is None:
                raise GraphError(f"{self.name}: {what}: {self._describe(response)}")
            return found
        log.info("%s: created folder %r", self.name, display_name)
        return str(self._json(response, what)["id"])

    def _folder_id(self, folder: str, *, create: bool) -> str:
        """The Graph id of ``folder`` (a well-known name, a top-level folder or a path), made when asked."""
        cache_key = folder.lower()
        if cache_key in self._folder_ids:
            return self._folder_ids[cache_key]
        parts = [part for part in folder.split("/") if part]
        if not parts:
            raise GraphError(f"{self.name}: no folder named")
        parent: str | None = None
        for index, part in enumerate(parts):
            if index == 0 and part.lower() in WELL_KNOWN_FOLDERS:
                parent = part.lower()
                continue
            found = self._find_child(parent, part)
            if found is None:
                if not create:
                    raise GraphError(f"{self.name}: there is no folder {folder!r} in the mailbox")
                found = self._create_child(parent, part)
            parent = found
        assert parent is not None
        self._folder_ids[cache_key] = parent
        return parent

    # -- reading ------------------------------------------------------------------------------

    def count(self) -> int | None:
        """How many messages the folder holds now (its ``totalItemCount``)."""
        folder_id = self._folder_id(self.settings.folder, create=False)
        what = "counting messages"
        response = self._request(
            "GET",
            self._url(f"/mailFolders/{quote(folder_id, safe='')}"),
            what,
            params={"$select": "totalItemCount"},
        )
        total = self._json(response, what).get("totalItemCount")
        return total if isinstance(total, int) else None

    def _start_link(self, after: str | None) -> tuple[str, dict[str, str] | None]:
        if after is not None:
            if after.startswith(self._base + "/") and "/messages/delta" in after:
                return after, None
            log.warning(
                "%s: ignoring a resume point that is not a delta link here; reading everything", self.name
            )
        folder_id = self._folder_id(self.settings.folder, create=False)
        url = self._url(f"/mailFolders/{quote(folder_id, safe='')}/messages/delta")
        return url, {"$select": "receivedDateTime"}

    def _mime(self, message_id: str) -> bytes | None:
        response = self._request(
            "GET",
            self._url(f"/messages/{quote(message_id, safe='')}/$value"),
            "reading a message",
            expect=(404,),
        )
        if response.status_code == 404:
            return None
        return response.content

    def fetch(self, after: str | None = None) -> Iterator[FetchedMessage]:
        """New and changed messages since ``after`` (a delta link), page by page.

        Each page is handed over oldest first; Graph does not promise an order
        across pages. Messages removed from the folder are skipped, and so is one
        that vanishes between listing and reading. A message that changed (read
        by a person, say) comes again with the same key; ingest skips it.
        When the generator is exhausted :attr:`position` holds the next delta link.
        """
        self._position = None
        url, params = self._start_link(after)
        resuming = params is None
        restarted = False
        folder = self.settings.folder
        prefer = (f"odata.maxpagesize={self.settings.page_size}",)
        while True:
            what = "listing messages"
            response = self._request("GET", url, what, params=params, prefer=prefer, expect=(_DELTA_GONE,))
            if response.status_code == _DELTA_GONE:
                if restarted:
                    raise GraphError(f"{self.name}: {what}: {self._describe(response)}")
                log.warning(
                    "%s: the delta link has expired (%s); reading the whole folder again",
                    self.name,
                    self._describe(response),
                )
                restarted = True
                url, params = self._start_link(None)
                continue
            page = self._json(response, what)
            entries = [e for e in page.get("value", []) if isinstance(e, dict) and "@removed" not in e]
            entries.sort(key=lambda e: str(e.get("receivedDateTime", "")))
            log.debug(
                "%s: %d messages on this page (%s)",
                self.name,
                len(entries),
                "changes" if resuming else "full",
            )
            for entry in entries:
                message_id = str(entry["id"])
                raw = self._mime(message_id)
                if raw is None:
                    log.warning("%s: message %s vanished before it could be read", self.name, message_id)
                    continue
                yield FetchedMessage(
                    key=message_id,
                    raw=raw,
                    received_at=_received_at(entry.get("receivedDateTime")),
                    label=f"{folder} {message_id}",
                )
            next_link = page.get("@odata.nextLink")
            if isinstance(next_link, str):
                url, params = next_link, None  # the link carries the query and the page size
                continue
            delta_link = page.get("@odata.deltaLink")
            if not isinstance(delta_link, str):
                raise GraphError(f"{self.name}: {what}: the last page has no delta link")
            self._check_own(delta_link)
            self._position = delta_link
            return

    # -- filing -------------------------------------------------------------------------------

    def move(self, key: str, folder: str) -> None:
        """File the message ``key`` into ``folder`` (found by displayName, made under the root if missing).

        A message no longer in the mailbox (filed by hand, or by an earlier
        attempt whose answer was lost) is left alone.
        """
        source_id = self._folder_id(self.settings.folder, create=False)
        destination = self._folder_id(folder, create=True)
        if destination == source_id:
            raise GraphError(f"{self.name}: cannot file {key} into the folder it is read from")
        what = f"filing a message in {folder!r}"
        response = self._request(
            "POST",
            self._url(f"/messages/{quote(key, safe='')}/move"),
            what,
            json={"destinationId": destination},
            expect=(404,),
        )
        if response.status_code == 404:
            log.warning("%s: message %s is no longer in the mailbox; nothing to file", self.name, key)
            return
        log.info("%s: moved %s to %r", self.name, key, folder)

    def close(self) -> None:
        """Let go of the HTTP connections (only those this source opened)."""
        if self._own_http:
            self._http.close()

    def __enter__(self) -> GraphSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
