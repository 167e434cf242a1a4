"""The Microsoft Graph mail source against a fake Graph at the HTTP layer (httpx.MockTransport).

Microsoft 365 cannot run here, so the fake answers the calls the source makes the
way Graph documents them: delta queries with ``@odata.nextLink`` pages and a
closing ``@odata.deltaLink``, ``$value`` for MIME, ``move`` with ``destinationId``,
429/503 with ``Retry-After`` and 401 for an expired token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import msal
import pytest

from inboxbot.adapters.mail.graph import GraphError, GraphSettings, GraphSource
from inboxbot.service.ports import FetchedMessage, FilingSource, MailSource, ResumableSource
from tests.support.mail import make_message

BASE = "https://graph.test/v1.0"
MAILBOX = "ombudsman@northmere.gov.uk"
SECRET = "s3cr3t-client-secret-value"
SENT = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
_NAME_FILTER = re.compile(r"displayName eq '((?:[^']|'')*)'")


@dataclass
class _Message:
    folder: str
    received: datetime
    mime: bytes


@dataclass
class _Fault:
    matches: Callable[[httpx.Request], bool]
    response: Callable[[], httpx.Response]
    times: int


@dataclass
class FakeGraph:
    """One mailbox as Graph shows it, with failures that can be queued up."""

    mailbox: str = MAILBOX
    folders: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"inbox-id": {"displayName": "Inbox", "parent": None}}
    )
    messages: dict[str, _Message] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)  # tokens refused from now on
    refuse_all: bool = False
    requests: list[httpx.Request] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    snapshots: dict[str, set[str]] = field(default_factory=dict)  # deltatoken -> ids in the folder then
    syncs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sync round -> its changes
    _counter: int = 0

    # -- test set-up ---------------------------------------------------------------------------

    def deliver(self, message_id: str, raw: bytes, received: datetime, folder: str = "inbox-id") -> None:
        self.messages[message_id] = _Message(folder, received, raw)

    def fail(self, matches: Callable[[httpx.Request], bool], status: int, times: int = 1, **kw: Any) -> None:
        """The next ``times`` requests that ``matches`` get ``status`` instead of an answer."""
        headers = kw.get("headers", {})
        body = kw.get("body", {"error": {"code": "Fault", "message": f"fake fault {status}"}})
        self.faults.append(_Fault(matches, lambda: httpx.Response(status, headers=headers, json=body), times))

    def folder_named(self, name: str) -> str | None:
        return next((fid for fid, f in self.folders.items() if f["displayName"] == name), None)

    def calls(self, method: str, fragment: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and fragment in r.url.path]

    # -- the HTTP side --------------------------------------------------------------------------

    def _next(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def _folder(self, folder_id: str) -> str:
        return "inbox-id" if folder_id == "inbox" else folder_id

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for fault in self.faults:
            if fault.times > 0 and fault.matches(request):
                fault.times -= 1
                return fault.response()
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.refuse_all or not token.startswith("token-") or token in self.expired:
            return httpx.Response(
                401,
                json={
                    "error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}
                },
            )
        prefix = f"/v1.0/users/{self.mailbox}"
        path = request.url.path
        assert path.startswith(prefix), path
        parts = path[len(prefix) :].strip("/").split("/")
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        if parts[0] == "mailFolders":
            return self._folders(request, parts[1:], query)
        if parts[0] == "messages":
            return self._message(request, parts[1:])
        return httpx.Response(400, json={"error": {"code": "BadRequest", "message": path}})

    def _folders(self, request: httpx.Request, parts: list[str], query: dict[str, str]) -> httpx.Response:
        if not parts or parts[-1] == "childFolders":
            parent = self._folder(parts[0]) if parts else None
            if request.method == "POST":
                name = json.loads(request.content)["displayName"]
                if any(f["displayName"] == name and f["parent"] == parent for f in self.folders.values()):
                    return httpx.Response(
                        409, json={"error": {"code": "ErrorFolderExists", "message": "exists"}}
                    )
                fid = self._next("folder-")
                self.folders[fid] = {"displayName": name, "parent": parent}
                return httpx.Response(201, json={"id": fid, "displayName": name})
            found = _NAME_FILTER.search(query.get("$filter", ""))
            wanted = found.group(1).replace("''", "'") if found else None
            value = [
                {"id": fid, "displayName": f["displayName"]}
                for fid, f in self.folders.items()
                if f["parent"] == parent and (wanted is None or f["displayName"].lower() == wanted.lower())
            ]
            return httpx.Response(200, json={"value": value})
        folder = self._folder(parts[0])
        if folder not in self.folders:
            return httpx.Response(404, json={"error": {"code": "ErrorItemNotFound", "message": "no folder"}})
        if parts[1:] == ["messages", "delta"]:
            return self._delta(request, folder, query)
        total = sum(1 for m in self.messages.values() if m.folder == folder)
        return httpx.Response(200, json={"id": folder, "totalItemCount": total})

    def _delta(self, request: httpx.Request, folder: str, query: dict[str, str]) -> httpx.Response:
        link = f"{BASE}/users/{self.mailbox}/mailFolders/{folder}/messages/delta"
        if "$skiptoken" in query:
            sync, offset = query["$skiptoken"].split(".")
            changes, start = self.syncs[sync], int(offset)
        else:
            now = {mid for mid, m in self.messages.items() if m.folder == folder}
            if "$deltatoken" in query:
                if query["$deltatoken"] not in self.snapshots:
                    return httpx.Response(
                        410, json={"error": {"code": "SyncStateNotFound", "message": "generation gone"}}
                    )
                before = self.snapshots[query["$deltatoken"]]
            else:
                assert query.get("$select") == "receivedDateTime"
                before = set()
            changes = [
                {"id": mid, "receivedDateTime": self.messages[mid].received.strftime("%Y-%m-%dT%H:%M:%SZ")}
                for mid in self.messages
                if mid in now and mid not in before
            ] + [{"id": mid, "@removed": {"reason": "deleted"}} for mid in sorted(before - now)]
            sync = self._next("sync")
            self.syncs[sync] = changes
            self.snapshots[f"delta-{sync}"] = now
            start = 0
        size = 10
        for prefer in request.headers.get_list("Prefer"):
            if prefer.startswith("odata.maxpagesize="):
                size = int(prefer.split("=")[1])
        page = changes[start : start + size]
        # Graph promises no order inside a page: hand them over newest first.
        body: dict[str, Any] = {"value": list(reversed(page))}
        if start + size < len(changes):
            body["@odata.nextLink"] = f"{link}?$skiptoken={sync}.{start + size}"
        else:
            body["@odata.deltaLink"] = f"{link}?$deltatoken=delta-{sync}"
        return httpx.Response(200, json=body)

    def _message(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        message_id = parts[0]
        message = self.messages.get(message_id)
        if message is None:
            return httpx.Response(404, json={"error": {"code": "ErrorItemNotFound", "message": "not found"}})
        if parts[1:] == ["$value"] and request.method == "GET":
            return httpx.Response(200, headers={"Content-Type": "message/rfc822"}, content=message.mime)
        if parts[1:] == ["move"] and request.method == "POST":
            destination = json.loads(request.content)["destinationId"]
            message.folder = self._folder(destination)
            return httpx.Response(201, json={"id": message_id, "parentFolderId": message.folder})
        return httpx.Response(400, json={"error": {"code": "BadRequest", "message": "?"}})


class Sleeps:
    """A ``sleep`` that only remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Tokens:
    """A token provider handing out token-1, token-2, ... and counting the calls."""

    def __init__(self) -> None:
        self.handed_out: list[str] = []

    def __call__(self) -> str:
        token = f"token-{len(self.handed_out) + 1}"
        self.handed_out.append(token)
        return token


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def tokens() -> Tokens:
    return Tokens()


def settings(**overrides: Any) -> GraphSettings:
    options: dict[str, Any] = {
        "mailbox": MAILBOX,
        "tenant_id": "tenant-1",
        "client_id": "client-1",
        "client_secret": SECRET,
        "base_url": BASE,
    }
    options.update(overrides)
    return GraphSettings(**options)


@pytest.fixture
def make_source(graph: FakeGraph, sleeps: Sleeps, tokens: Tokens) -> Iterator[Callable[..., GraphSource]]:
    made: list[GraphSource] = []

    def make(retries: int = 5, **overrides: Any) -> GraphSource:
        source = GraphSource(
            settings(**overrides),
            token_provider=tokens,
            http=httpx.Client(transport=httpx.MockTransport(graph.handler)),
            sleep=sleeps,
            retries=retries,
        )
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def deliver(graph: FakeGraph, count: int, start: int = 0) -> list[bytes]:
    raws = []
    for i in range(start, start + count):
        # CRLF line ends and a Latin-1 byte: what comes back must be byte for byte what was stored.
        raw = make_message(f"Complaint 25 004 {i:03d}", f"Body {i}", date=SENT).replace(b"\n", b"\r\n")
        raw += b"caf\xe9\r\n"
        graph.deliver(f"AAMkAD-{i:03d}=", raw, SENT + timedelta(minutes=i))
        raws.append(raw)
    return raws


def is_delta(request: httpx.Request) -> bool:
    return request.url.path.endswith("/messages/delta")


def is_mime(request: httpx.Request) -> bool:
    return request.url.path.endswith("/$value")


# -- reading -------------------------------------------------------------------------------------


def test_a_first_run_reads_every_page_and_ends_with_a_delta_link(
    graph: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    raws = deliver(graph, 5)
    source = make_source(page_size=2)
    assert isinstance(source, ResumableSource)
    assert isinstance(source, FilingSource)
    mail: MailSource = source

    fetched = list(mail.fetch())

    assert [m.key for m in fetched] == [f"AAMkAD-{i:03d}=" for i in range(5)]
    assert [m.raw for m in fetched] == raws  # MIME passed through unchanged
    assert [m.received_at for m in fetched] == [SENT + timedelta(minutes=i) for i in range(5)]
    assert all(m.received_at is not None and m.received_at.tzinfo is not None for m in fetched)
    assert all(m.position is None for m in fetched)  # the resume point only comes at the end
    assert all("Complaint" not in m.label and m.key in m.label for m in fetched)
    deltas = graph.calls("GET", "/messages/delta")
    assert len(deltas) == 3  # three pages of at most 2
    assert "odata.maxpagesize=2" in deltas[0].headers.get_list("Prefer")
    assert 'IdType="ImmutableId"' in deltas[0].headers.get_list("Prefer")
    assert "$skiptoken" in str(deltas[1].url)
    assert "$skiptoken" in str(deltas[2].url)
    assert source.position is not None
    assert "$deltatoken=" in source.position
    assert source.name == f"graph://{MAILBOX}/Inbox"


def test_the_delta_link_is_used_on_the_next_run(
    graph: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    deliver(graph, 3)
    first = make_source(page_size=2)
    assert len(list(first.fetch())) == 3
    link = first.position
    assert link is not None
    graph.requests.clear()
    new = deliver(graph, 1, start=3)
    del graph.messages["AAMkAD-000="]  # removed meanwhile: reported as @removed, skipped

    second = make_source(page_size=2)
    fetched = list(second.fetch(after=link))

    assert [m.key for m in fetched] == ["AAMkAD-003="]
    assert fetched[0].raw == new[0]
    assert str(graph.requests[0].url) == link  # straight to the delta link, no folder look-up
    assert second.position is not None
    assert second.position != link


def test_position_stays_empty_until_the_fetch_is_read_to_the_end(
    graph: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    deliver(graph, 3)
    source = make_source(page_size=2)
    messages = source.fetch()
    next(messages)
    assert source.position is None
    list(messages)
    assert source.position is not None


def test_an_expired_delta_link_starts_again_from_scratch(
    graph: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    deliver(graph, 2)
    stale = f"{BASE}/users/{MAILBOX}/mailFolders/inbox-id/messages/delta?$deltatoken=long-gone"

    fetched = list(make_source().fetch(after=stale))

    assert [m.key for m in fetched] == ["AAMkAD-000=", "AAMkAD-001="]


def test_a_resume_point_for_another_host_is_not_followed(
    graph: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    deliver(graph, 1)
    fetched = list(
        make_source().fetch(after="https://evil.example/v1.0/users/x/messages/delta?$deltatoken=1")
    )
    assert [m.key for m in fetched] == ["AAMkAD-000="]
    assert all(r.url.host == "graph.test" for r in graph.requests)


def test_a_message_gone_between_listing_and_reading_is_skipped(
    graph: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    deliver(graph, 2)
    graph.fail(lambda r: r.url.path.endswith("AAMkAD-000=/$value"), 404)
    assert [m.key for m in make_source().fetch()] == ["AAMkAD-001="]


def test_count_is_the_folders_total(graph: FakeGraph, make_source: Callable[..., GraphSource]) -> None:
    deliver(graph, 4)
    graph.folders["sub-id"] = {"displayName": "Ombudsman", "parent": "inbox-id"}
    graph.deliver("AAMkAD-sub=", b"Subject: x\r\n\r\nbody\r\n", SENT, folder="sub-id")
    assert make_source().count() == 4
    assert make_source(folder="Inbox/Ombudsman").count() == 1


def test_a_missing_folder_to_read_is_an_error(make_source: Callable[..., GraphSource]) -> None:
    with pytest.raises(GraphError, match="no folder 'Nowhere'"):
        list(make_source(folder="Nowhere").fetch())


# -- throttling, outages, tokens ------------------------------------------------------------------


def test_429_waits_as_long_as_retry_after_says(
    graph: FakeGraph, make_source: Callable[..., GraphSource], sleeps: Sleeps
) -> None:
    deliver(graph, 1)
    graph.fail(is_delta, 429, headers={"Retry-After": "7"})
    graph.fail(is_mime, 429, headers={"Retry-After": "3"})

    assert [m.key for m in make_source().fetch()] == ["AAMkAD-000="]
    assert sleeps.calls == [7.0, 3.0]


def test_503_then_success(graph: FakeGraph, make_source: Callable[..., GraphSource], sleeps: Sleeps) -> None:
    raws = deliver(graph, 1)
    graph.fail(is_mime, 503, headers={"Retry-After": "2"})
    graph.fail(is_delta, 503)  # no Retry-After: back off ourselves

    fetched = list(make_source().fetch())

    assert [m.raw for m in fetched] == raws
    assert sleeps.calls == [1.0, 2.0]


def test_other_server_errors_back_off_exponentially(
    graph: FakeGraph, make_source: Callable[..., GraphSource], sleeps: Sleeps
) -> None:
    deliver(graph, 1)
    graph.fail(is_delta, 500, times=2)
    graph.fail(is_mime, 502, times=1)
    assert len(list(make_source().fetch())) == 1
    assert sleeps.calls == [1.0, 2.0, 1.0]


def test_dropped_connections_are_retried(graph: FakeGraph, sleeps: Sleeps, tokens: Tokens) -> None:
    deliver(graph, 1)
    drops = [2]

    def flaky(request: httpx.Request) -> httpx.Response:
        if drops[0]:
            drops[0] -= 1
            raise httpx.ConnectError("connection refused")
        return graph.handler(request)

    source = GraphSource(
        settings(),
        token_provider=tokens,
        http=httpx.Client(transport=httpx.MockTransport(flaky)),
        sleep=sleeps,
    )
    assert len(list(source.fetch())) == 1
    assert sleeps.calls == [1.0, 2.0]


def test_gives_up_after_the_retries(
    graph: FakeGraph, make_source: Callable[..., GraphSource], sleeps: Sleeps
) -> None:
    graph.fail(is_delta, 503, times=100, headers={"Retry-After": "1"})
    with pytest.raises(
        GraphError, match=r"gave up after 4 failed attempts \(HTTP 503 Fault: fake fault 503\)"
    ):
        list(make_source(retries=3).fetch())
    assert sleeps.calls == [1.0, 1.0, 1.0]


def test_an_expired_token_is_renewed_once_and_the_call_succeeds(
    graph: FakeGraph, make_source: Callable[..., GraphSource], tokens: Tokens
) -> None:
    deliver(graph, 2)
    source = make_source(page_size=1)
    messages = source.fetch()
    first = next(messages)
    graph.expired.add("token-1")  # the token expires in the middle of the run

    rest = list(messages)

    assert [m.key for m in [first, *rest]] == ["AAMkAD-000=", "AAMkAD-001="]
    assert tokens.handed_out == ["token-1", "token-2"]
    refused = [r for r in graph.requests if r.headers["Authorization"] == "Bearer token-1"]
    retried = graph.requests[len(refused)]
    assert retried.headers["Authorization"] == "Bearer token-2"
    assert retried.url == refused[-1].url  # the refused call is the one made again
    assert source.position is not None


def test_a_token_refused_twice_is_an_error(
    graph: FakeGraph, make_source: Callable[..., GraphSource], tokens: Tokens
) -> None:
    graph.refuse_all = True
    with pytest.raises(GraphError, match="HTTP 401 InvalidAuthenticationToken") as caught:
        make_source().count()
    assert tokens.handed_out == ["token-1", "token-2"]
    assert "token-" not in str(caught.value)


class FakeMsalApp:
    """Stands in for msal.ConfidentialClientApplication (which would talk to the login service)."""

    made: list[FakeMsalApp] = []  # noqa: RUF012

    def __init__(self, client_id: str, authority: str, client_credential: str) -> None:
        self.client_id, self.authority, self.credential = client_id, authority, client_credential
        self.issued = 0
        self.forgotten = 0
        self.cached: str | None = None
        FakeMsalApp.made.append(self)

    def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
        assert scopes == ["https://graph.microsoft.com/.default"]
        if self.cached is None:
            self.issued += 1
            self.cached = f"token-{self.issued}"
        return {"access_token": self.cached, "token_type": "Bearer"}

    def remove_tokens_for_client(self) -> None:
        self.forgotten += 1
        self.cached = None


def test_the_default_tokens_come_from_msal_with_a_forced_renewal_on_401(
    graph: FakeGraph, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeMsalApp.made.clear()
    monkeypatch.setattr(msal, "ConfidentialClientApplication", FakeMsalApp)
    deliver(graph, 1)
    graph.expired.add("token-1")  # msal's cached token-1 is already refused
    source = GraphSource(
        settings(), http=httpx.Client(transport=httpx.MockTransport(graph.handler)), sleep=sleeps
    )

    assert source.count() == 1
    assert len(list(source.fetch())) == 1

    [app] = FakeMsalApp.made  # one application for the source's life
    assert app.authority == "https://login.microsoftonline.com/tenant-1"
    assert (app.client_id, app.credential) == ("client-1", SECRET)
    assert (app.issued, app.forgotten) == (2, 1)


def test_no_client_secret_and_no_token_provider_is_a_clear_error() -> None:
    with pytest.raises(GraphError, match="client secret"):
        GraphSource(settings(client_secret=None))


# -- filing --------------------------------------------------------------------------------------


def test_move_creates_the_folder_when_missing(
    graph: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    deliver(graph, 2)
    source = make_source()

    source.move("AAMkAD-000=", "Processed")
    source.move("AAMkAD-001=", "Processed")

    processed = graph.folder_named("Processed")
    assert processed is not None
    assert graph.folders[processed]["parent"] is None
    assert len(graph.calls("POST", "/mailFolders")) == 1
    moves = graph.calls("POST", "/move")
    assert [json.loads(r.content) for r in moves] == [{"destinationId": processed}] * 2
    assert {m.folder for m in graph.messages.values()} == {processed}
    # Another source finds the folder by its displayName instead of making a second one.
    graph.deliver("AAMkAD-009=", b"Subject: x\r\n\r\nbody\r\n", SENT)
    make_source().move("AAMkAD-009=", "processed")
    assert len(graph.calls("POST", "/mailFolders")) == 1
    assert graph.messages["AAMkAD-009="].folder == processed


def test_move_finds_a_folder_made_meanwhile(
    graph: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    deliver(graph, 1)
    graph.folders["triage-id"] = {"displayName": "Needs-triage", "parent": None}
    # The look-up misses it once (made by a person a moment later); the create then says 409.
    graph.fail(lambda r: r.method == "GET" and "displayName" in str(r.url), 200, body={"value": []})
    make_source().move("AAMkAD-000=", "Needs-triage")
    assert graph.messages["AAMkAD-000="].folder == "triage-id"


def test_moving_a_message_no_longer_there_is_left_alone(
    graph: FakeGraph, make_source: Callable[..., GraphSource]
) -> None:
    make_source().move("AAMkAD-404=", "Processed")
    assert len(graph.calls("POST", "/move")) == 1


def test_moving_into_the_folder_read_from_is_refused(make_source: Callable[..., GraphSource]) -> None:
    with pytest.raises(GraphError, match="into the folder it is read from"):
        make_source().move("AAMkAD-000=", "inbox")


# -- secrets -------------------------------------------------------------------------------------


def test_errors_never_contain_the_secret_or_the_token(
    graph: FakeGraph, make_source: Callable[..., GraphSource], monkeypatch: pytest.MonkeyPatch
) -> None:
    echo = {
        "error": {"code": "ErrorAccessDenied", "message": f"denied for {SECRET} with token-1\nsecond line"}
    }
    graph.fail(is_delta, 403, body=echo)
    with pytest.raises(GraphError) as caught:
        list(make_source().fetch())
    message = str(caught.value)
    assert "ErrorAccessDenied" in message
    assert SECRET not in message
    assert "token-1" not in message
    assert "\n" not in message
    assert SECRET not in repr(settings())

    # The login service failing (msal raising with the secret in its text) says so without it.
    class Broken:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise ValueError(f"bad credential {SECRET}")

    monkeypatch.setattr(msal, "ConfidentialClientApplication", Broken)
    source = GraphSource(settings(), http=httpx.Client(transport=httpx.MockTransport(graph.handler)))
    with pytest.raises(GraphError) as caught:
        source.count()
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None
    assert "ValueError" in str(caught.value)


def test_a_refused_client_secret_is_reported_by_its_error_code(
    graph: FakeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Refusing(FakeMsalApp):
        def acquire_token_for_client(self, scopes: list[str]) -> dict[str, Any]:
            return {"error": "invalid_client", "error_description": f"AADSTS7000215: bad secret {SECRET}"}

    monkeypatch.setattr(msal, "ConfidentialClientApplication", Refusing)
    source = GraphSource(settings(), http=httpx.Client(transport=httpx.MockTransport(graph.handler)))
    with pytest.raises(GraphError, match=f"^graph://{MAILBOX}/Inbox: .*invalid_client") as caught:
        list(source.fetch())
    assert SECRET not in str(caught.value)


def test_fetched_messages_are_plain_values(graph: FakeGraph, make_source: Callable[..., GraphSource]) -> None:
    deliver(graph, 1)
    [message] = make_source().fetch()
    assert isinstance(message, FetchedMessage)
    assert isinstance(message.raw, bytes)
