"""The EWS mail source against a fake Exchange server at the HTTP layer.

Exchange Server cannot run here, so a requests adapter mounted on exchangelib's
sessions (``BaseProtocol.HTTP_ADAPTER_CLS``) answers the SOAP calls exchangelib
makes (GetFolder, FindFolder, CreateFolder, FindItem, GetItem, MoveItem, and
ConvertId for the version check) from a small mailbox in memory. Everything
above the HTTP layer is the real exchangelib.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import exchangelib
import pytest
import requests
from exchangelib.protocol import BaseProtocol, close_connections
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from inboxbot.adapters.mail.ews import EwsError, EwsSettings, EwsSource, format_position, parse_position
from inboxbot.service.ports import FilingSource, MailSource
from tests.support.mail import make_message

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MNS = "http://schemas.microsoft.com/exchange/services/2006/messages"
TNS = "http://schemas.microsoft.com/exchange/services/2006/types"
ENS = "http://schemas.microsoft.com/exchange/services/2006/errors"
SERVER = "exchange.northmere.test"
USER = "svc-inboxbot@northmere.gov.uk"
MAILBOX = "ombudsman@northmere.gov.uk"
PASSWORD = "pa55-w0rd-never-shown"
SECRET = "s3cr3t-client-secret-value"
SENT = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)
DISTINGUISHED = {"root": "root-id", "msgfolderroot": "tois-id", "inbox": "inbox-id"}


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class _Item:
    folder: str
    received: datetime
    mime: bytes


@dataclass
class FakeExchange:
    """One mailbox behind an EWS endpoint, with failures that can be queued up."""

    folders: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "root-id": {"name": "root", "parent": None},
            "tois-id": {"name": "Top of Information Store", "parent": "root-id"},
            "inbox-id": {"name": "Inbox", "parent": "tois-id"},
        }
    )
    items: dict[str, _Item] = field(default_factory=dict)
    operations: list[str] = field(default_factory=list)
    find_items: list[ET.Element] = field(default_factory=list)  # every FindItem request, to inspect
    faults: list[tuple[str, Callable[[], requests.Response]]] = field(default_factory=list)
    basic_auth: tuple[str, str] | None = None  # when set, only these credentials are let in
    hidden_once: set[str] = field(default_factory=set)  # folder names the next FindFolder misses
    token_requests: int = 0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # -- test set-up ---------------------------------------------------------------------------

    def deliver(self, item_id: str, raw: bytes, received: datetime, folder: str = "inbox-id") -> None:
        self.items[item_id] = _Item(folder, received, raw)

    def fail(
        self, operation: str, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        """The next ``operation`` call gets ``status`` and ``body`` instead of an answer."""
        self.faults.append((operation, lambda: self._response(status, body, headers)))

    def busy(self, operation: str, back_off_ms: int) -> None:
        """The next ``operation`` call gets the SOAP fault ErrorServerBusy with a back-off."""
        fault = f"""<s:Envelope xmlns:s="{SOAP}"><s:Body><s:Fault>
<faultcode xmlns:a="{TNS}">a:ErrorServerBusy</faultcode>
<faultstring>The server cannot service this request right now. Try again later.</faultstring>
<detail><e:ResponseCode xmlns:e="{ENS}">ErrorServerBusy</e:ResponseCode>
<e:Message xmlns:e="{ENS}">The server cannot service this request right now. Try again later.</e:Message>
<t:MessageXml xmlns:t="{TNS}"><t:Value Name="BackOffMilliseconds">{back_off_ms}</t:Value></t:MessageXml>
</detail></s:Fault></s:Body></s:Envelope>"""
        self.fail(operation, 500, fault.encode())

    def drop(self, operation: str) -> None:
        """The next ``operation`` call loses its connection."""

        def broken() -> requests.Response:
            raise requests.ConnectionError("connection reset by peer")

        self.faults.append((operation, broken))

    def folder_named(self, name: str, parent: str | None = None) -> str | None:
        return next(
            (
                fid
                for fid, f in self.folders.items()
                if f["name"] == name and (parent is None or f["parent"] == parent)
            ),
            None,
        )

    def adapter(self) -> type[HTTPAdapter]:
        """A requests adapter class that sends every request to this fake."""
        fake = self

        class Adapter(HTTPAdapter):
            def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
                response = fake.handle(request)
                response.request = request
                response.url = request.url or ""
                return response

        return Adapter

    # -- the HTTP side --------------------------------------------------------------------------

    @staticmethod
    def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = body
        response._content_consumed = True
        response.headers = CaseInsensitiveDict(headers or {"Content-Type": "text/xml; charset=utf-8"})
        response.encoding = "utf-8"
        return response

    def handle(self, request: requests.PreparedRequest) -> requests.Response:
        if "login.microsoftonline.com" in (request.url or ""):
            self.token_requests += 1
            return self._response(
                401,
                b'{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."}',
                {"Content-Type": "application/json"},
            )
        if self.basic_auth is not None:
            user, password = self.basic_auth
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return self._response(401, b"", {"WWW-Authenticate": 'Basic realm="exchange"'})
        assert request.url == f"https://{SERVER}/EWS/Exchange.asmx", request.url
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        envelope = ET.fromstring(body)  # noqa: S314 (our own client's request, in a test)
        soap_body = envelope.find(_tag(SOAP, "Body"))
        assert soap_body is not None
        operation = soap_body[0]
        name = operation.tag.split("}")[1]
        self.operations.append(name)
        for index, (faulty, make) in enumerate(self.faults):
            if faulty == name:
                del self.faults[index]
                return make()
        handler = getattr(self, f"_op_{name}")
        messages: str = handler(operation)
        xml = f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="{SOAP}"><s:Header>
<h:ServerVersionInfo xmlns:h="{TNS}" MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507"
 MinorBuildNumber="6" Version="V2017_07_11"/></s:Header>
<s:Body><m:{name}Response xmlns:m="{MNS}" xmlns:t="{TNS}"><m:ResponseMessages>{messages}</m:ResponseMessages>
</m:{name}Response></s:Body></s:Envelope>"""
        return self._response(200, xml.encode())

    # -- operations -----------------------------------------------------------------------------

    def _folder_id(self, elem: ET.Element) -> str:
        """The folder an id element names (FolderId or DistinguishedFolderId)."""
        if elem.tag == _tag(TNS, "DistinguishedFolderId"):
            return DISTINGUISHED[elem.attrib["Id"]]
        return elem.attrib["Id"]

    def _folder_xml(self, fid: str) -> str:
        folder = self.folders[fid]
        parent = f'<t:ParentFolderId Id="{folder["parent"]}" ChangeKey="ck"/>' if folder["parent"] else ""
        total = sum(1 for item in self.items.values() if item.folder == fid)
        children = sum(1 for f in self.folders.values() if f["parent"] == fid)
        folder_class = "<t:FolderClass>IPF.Note</t:FolderClass>" if fid != "root-id" else ""
        return (
            f'<t:Folder><t:FolderId Id="{fid}" ChangeKey="ck"/>{parent}{folder_class}'
            f"<t:DisplayName>{escape(folder['name'])}</t:DisplayName><t:TotalCount>{total}</t:TotalCount>"
            f"<t:ChildFolderCount>{children}</t:ChildFolderCount><t:UnreadCount>0</t:UnreadCount></t:Folder>"
        )

    @staticmethod
    def _ok(operation: str, inner: str) -> str:
        return (
            f'<m:{operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>'
            f"{inner}</m:{operation}ResponseMessage>"
        )

    @staticmethod
    def _error(operation: str, code: str, text: str) -> str:
        return (
            f'<m:{operation}ResponseMessage ResponseClass="Error">'
            f"<m:MessageText>{escape(text)}</m:MessageText><m:ResponseCode>{code}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
            f"</m:{operation}ResponseMessage>"
        )

    def _op_ConvertId(self, operation: ET.Element) -> str:
        # Only used to learn the server version, which every answer's header carries.
        return self._error("ConvertId", "ErrorInvalidIdMalformed", "Id is malformed.")

    def _op_GetFolder(self, operation: ET.Element) -> str:
        ids = operation.find(_tag(MNS, "FolderIds"))
        assert ids is not None
        return "".join(
            self._ok("GetFolder", f"<m:Folders>{self._folder_xml(self._folder_id(elem))}</m:Folders>")
            for elem in ids
        )

    def _op_FindFolder(self, operation: ET.Element) -> str:
        assert operation.attrib["Traversal"] == "Shallow"
        parents = operation.find(_tag(MNS, "ParentFolderIds"))
        assert parents is not None
        parent = self._folder_id(parents[0])
        wanted = None
        restriction = operation.find(_tag(MNS, "Restriction"))
        if restriction is not None:
            equal = restriction.find(_tag(TNS, "IsEqualTo"))
            assert equal is not None
            uri = equal.find(_tag(TNS, "FieldURI"))
            constant = equal.find(f"{_tag(TNS, 'FieldURIOrConstant')}/{_tag(TNS, 'Constant')}")
            assert uri is not None
            assert uri.attrib["FieldURI"] == "folder:DisplayName"
            assert constant is not None
            wanted = constant.attrib["Value"].lower()
        found = [
            fid
            for fid, f in self.folders.items()
            if f["parent"] == parent
            and (wanted is None or f["name"].lower() == wanted)
            and f["name"] not in self.hidden_once
        ]
        self.hidden_once.clear()
        folders = "".join(self._folder_xml(fid) for fid in found)
        return self._ok(
            "FindFolder",
            f'<m:RootFolder IndexedPagingOffset="{len(found)}" TotalItemsInView="{len(found)}" '
            f'IncludesLastItemInRange="true"><t:Folders>{folders}</t:Folders></m:RootFolder>',
        )

    def _op_CreateFolder(self, operation: ET.Element) -> str:
        parent_elem = operation.find(_tag(MNS, "ParentFolderId"))
        folders = operation.find(_tag(MNS, "Folders"))
        assert parent_elem is not None
        assert folders is not None
        parent = self._folder_id(parent_elem[0])
        out = []
        for folder in folders:
            name = folder.findtext(_tag(TNS, "DisplayName")) or ""
            assert folder.findtext(_tag(TNS, "FolderClass")) == "IPF.Note"
            if self.folder_named(name, parent):
                out.append(
                    self._error("CreateFolder", "ErrorFolderExists", "A folder with that name exists.")
                )
                continue
            fid = f"folder-{next(self._ids)}"
            self.folders[fid] = {"name": name, "parent": parent}
            out.append(
                self._ok(
                    "CreateFolder",
                    f'<m:Folders><t:Folder><t:FolderId Id="{fid}" ChangeKey="ck"/></t:Folder></m:Folders>',
                )
            )
        return "".join(out)

    def _op_FindItem(self, operation: ET.Element) -> str:
        self.find_items.append(operation)
        assert operation.attrib["Traversal"] == "Shallow"
        parents = operation.find(_tag(MNS, "ParentFolderIds"))
        assert parents is not None
        folder = self._folder_id(parents[0])
        chosen = [(iid, item) for iid, item in self.items.items() if item.folder == folder]
        restriction = operation.find(_tag(MNS, "Restriction"))
        if restriction is not None:
            at_least = restriction.find(_tag(TNS, "IsGreaterThanOrEqualTo"))
            assert at_least is not None
            uri = at_least.find(_tag(TNS, "FieldURI"))
            constant = at_least.find(f"{_tag(TNS, 'FieldURIOrConstant')}/{_tag(TNS, 'Constant')}")
            assert uri is not None
            assert uri.attrib["FieldURI"] == "item:DateTimeReceived"
            assert constant is not None
            since = datetime.fromisoformat(constant.attrib["Value"])
            chosen = [(iid, item) for iid, item in chosen if item.received >= since]
        order = operation.find(f"{_tag(MNS, 'SortOrder')}/{_tag(TNS, 'FieldOrder')}")
        assert order is not None
        assert order.attrib["Order"] == "Ascending"
        order_uri = order.find(_tag(TNS, "FieldURI"))
        assert order_uri is not None
        assert order_uri.attrib["FieldURI"] == "item:DateTimeReceived"
        chosen.sort(key=lambda pair: pair[1].received)  # stable: delivery order within one second
        view = operation.find(_tag(MNS, "IndexedPageItemView"))
        assert view is not None
        offset, limit = int(view.attrib.get("Offset", "0")), int(view.attrib["MaxEntriesReturned"])
        page = chosen[offset : offset + limit]
        last = offset + len(page) >= len(chosen)
        items = "".join(
            f'<t:Message><t:ItemId Id="{iid}" ChangeKey="ck"/>'
            f"<t:DateTimeReceived>{_stamp(item.received)}</t:DateTimeReceived></t:Message>"
            for iid, item in page
        )
        return self._ok(
            "FindItem",
            f'<m:RootFolder IndexedPagingOffset="{offset + len(page)}" TotalItemsInView="{len(chosen)}" '
            f'IncludesLastItemInRange="{"true" if last else "false"}">'
            f"<t:Items>{items}</t:Items></m:RootFolder>",
        )

    def _op_GetItem(self, operation: ET.Element) -> str:
        fields = {e.attrib["FieldURI"] for e in operation.iter(_tag(TNS, "FieldURI"))}
        assert "item:MimeContent" in fields
        ids = operation.find(_tag(MNS, "ItemIds"))
        assert ids is not None
        out = []
        for elem in ids:
            iid = elem.attrib["Id"]
            item = self.items.get(iid)
            if item is None:
                out.append(self._error("GetItem", "ErrorItemNotFound", "The specified object was not found."))
                continue
            mime = base64.b64encode(item.mime).decode()
            out.append(
                self._ok(
                    "GetItem",
                    f'<m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">{mime}</t:MimeContent>'
                    f'<t:ItemId Id="{iid}" ChangeKey="ck"/></t:Message></m:Items>',
                )
            )
        return "".join(out)

    def _op_MoveItem(self, operation: ET.Element) -> str:
        target_elem = operation.find(_tag(MNS, "ToFolderId"))
        ids = operation.find(_tag(MNS, "ItemIds"))
        assert target_elem is not None
        assert ids is not None
        target = self._folder_id(target_elem[0])
        out = []
        for elem in ids:
            iid = elem.attrib["Id"]
            item = self.items.pop(iid, None)
            if item is None:
                out.append(
                    self._error("MoveItem", "ErrorItemNotFound", "The specified object was not found.")
                )
                continue
            # Exchange gives a moved item a new id.
            new_id = f"{iid}-moved"
            self.items[new_id] = _Item(target, item.received, item.mime)
            out.append(
                self._ok(
                    "MoveItem",
                    f'<m:Items><t:Message><t:ItemId Id={quoteattr(new_id)} ChangeKey="ck"/>'
                    "</t:Message></m:Items>",
                )
            )
        return "".join(out)


class Sleeps:
    """A ``sleep`` that only remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def exchange(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeExchange]:
    """The fake server, wired under every exchangelib session made during the test."""
    fake = FakeExchange()
    close_connections()  # exchangelib caches protocols (and their sessions) per endpoint and login
    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", fake.adapter())
    yield fake
    close_connections()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def settings(**overrides: Any) -> EwsSettings:
    options: dict[str, Any] = {
        "server": SERVER,
        "username": USER,
        "mailbox": MAILBOX,
        "password": PASSWORD,
        "auth": "basic",
    }
    options.update(overrides)
    return EwsSettings(**options)


@pytest.fixture
def make_source(exchange: FakeExchange, sleeps: Sleeps) -> Iterator[Callable[..., EwsSource]]:
    made: list[EwsSource] = []

    def make(retries: int = 5, **overrides: Any) -> EwsSource:
        source = EwsSource(settings(**overrides), sleep=sleeps, retries=retries)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()


def deliver(exchange: FakeExchange, specs: list[tuple[str, datetime]]) -> dict[str, bytes]:
    raws = {}
    for item_id, received in specs:
        # CRLF line ends and a Latin-1 byte: what comes back must be byte for byte what was stored.
        raw = make_message(f"Complaint {item_id}", "Body", date=SENT).replace(b"\n", b"\r\n") + b"caf\xe9\r\n"
        exchange.deliver(item_id, raw, received)
        raws[item_id] = raw
    return raws


# -- reading -------------------------------------------------------------------------------------


def test_fetch_reads_two_items_oldest_first_with_their_mime_unchanged(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    # Delivered newest first: the order handed over must follow the arrival time.
    raws = deliver(exchange, [("AAMk-new", SENT + timedelta(minutes=5)), ("AAMk-old", SENT)])
    source = make_source()
    assert isinstance(source, FilingSource)
    mail: MailSource = source

    fetched = list(mail.fetch())

    assert [m.key for m in fetched] == ["AAMk-old", "AAMk-new"]
    assert [m.raw for m in fetched] == [raws["AAMk-old"], raws["AAMk-new"]]
    assert [m.received_at for m in fetched] == [SENT, SENT + timedelta(minutes=5)]
    assert all(type(m.received_at) is datetime for m in fetched)  # plain, aware datetimes
    assert [m.position for m in fetched] == [
        f"{SENT.isoformat()} AAMk-old",
        f"{(SENT + timedelta(minutes=5)).isoformat()} AAMk-new",
    ]
    assert all("Complaint" not in m.label for m in fetched)
    assert source.name == f"ews://{USER}@{SERVER}/Inbox"
    assert mail.count() == 2


def test_fetch_resumes_after_the_last_instant_skipping_what_was_handed_out(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    deliver(exchange, [("AAMk-1", SENT), ("AAMk-2", SENT + timedelta(minutes=1))])
    first = list(make_source().fetch())
    position = first[-1].position
    assert position is not None
    # One more in the same second as the last one handed out, and one later.
    deliver(exchange, [("AAMk-3", SENT + timedelta(minutes=1)), ("AAMk-4", SENT + timedelta(minutes=2))])
    asked = len(exchange.find_items)

    resumed = list(make_source().fetch(after=position))

    assert [m.key for m in resumed] == ["AAMk-3", "AAMk-4"]
    restriction = exchange.find_items[asked].find(f".//{{{TNS}}}Constant")
    assert restriction is not None
    assert restriction.attrib["Value"] == _stamp(SENT + timedelta(minutes=1))
    assert resumed[0].position == f"{(SENT + timedelta(minutes=1)).isoformat()} AAMk-2 AAMk-3"
    assert list(make_source().fetch(after=resumed[-1].position)) == []


def test_fetch_pages_in_batches_and_past_a_crowded_second(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    # Five items in one second and a batch of two: the source must still get past them.
    deliver(exchange, [(f"AAMk-{i}", SENT) for i in range(5)] + [("AAMk-later", SENT + timedelta(hours=1))])
    fetched = list(make_source(batch_size=2).fetch())
    assert [m.key for m in fetched] == [*(f"AAMk-{i}" for i in range(5)), "AAMk-later"]


def test_an_item_gone_between_listing_and_reading_is_skipped(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    deliver(exchange, [("AAMk-1", SENT), ("AAMk-2", SENT + timedelta(minutes=1))])
    source = make_source()
    original = source._list

    def list_then_lose_one(since: datetime | None, limit: int) -> Any:
        listed = original(since, limit)
        exchange.items.pop("AAMk-1", None)  # filed by a person in between
        return listed

    source._list = list_then_lose_one  # type: ignore[method-assign]
    assert [m.key for m in source.fetch()] == ["AAMk-2"]


def test_a_resume_point_that_is_not_one_reads_everything(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    deliver(exchange, [("AAMk-1", SENT)])
    assert [m.key for m in make_source().fetch(after="17:42")] == ["AAMk-1"]


def test_positions_read_back() -> None:
    instant = SENT + timedelta(seconds=3)
    assert parse_position(format_position(instant, {"b", "a"})) == (instant, {"a", "b"})
    with pytest.raises(ValueError, match="zone"):
        parse_position("2026-03-02T08:15:00 a")


def test_a_sub_folder_path_is_read(exchange: FakeExchange, make_source: Callable[..., EwsSource]) -> None:
    exchange.folders["ombudsman-id"] = {"name": "Ombudsman", "parent": "inbox-id"}
    exchange.deliver("AAMk-sub", b"Subject: x\r\n\r\nbody\r\n", SENT, folder="ombudsman-id")
    deliver(exchange, [("AAMk-inbox", SENT)])
    assert [m.key for m in make_source(folder="Inbox/Ombudsman").fetch()] == ["AAMk-sub"]
    with pytest.raises(EwsError, match="no folder 'Nowhere'"):
        make_source(folder="Nowhere").count()


# -- filing --------------------------------------------------------------------------------------


def test_move_creates_the_folder_when_missing(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    deliver(exchange, [("AAMk-1", SENT), ("AAMk-2", SENT)])
    source = make_source()

    source.move("AAMk-1", "Processed")
    source.move("AAMk-2", "Processed")

    processed = exchange.folder_named("Processed")
    assert processed is not None
    assert exchange.folders[processed]["parent"] == "tois-id"  # at the top of the mailbox, beside the Inbox
    assert exchange.operations.count("CreateFolder") == 1
    assert {item.folder for item in exchange.items.values()} == {processed}
    # Another source finds the folder instead of making a second one.
    deliver(exchange, [("AAMk-3", SENT)])
    make_source().move("AAMk-3", "processed")
    assert exchange.operations.count("CreateFolder") == 1
    assert exchange.items["AAMk-3-moved"].folder == processed


def test_move_finds_a_folder_made_meanwhile(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    deliver(exchange, [("AAMk-1", SENT)])
    exchange.folders["triage-id"] = {"name": "Needs-triage", "parent": "tois-id"}
    exchange.hidden_once.add("Needs-triage")  # made by a person just after the look-up

    make_source().move("AAMk-1", "Needs-triage")

    assert exchange.items["AAMk-1-moved"].folder == "triage-id"
    assert exchange.operations.count("CreateFolder") == 1  # tried, refused as existing, then found


def test_moving_an_item_no_longer_there_is_left_alone(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    make_source().move("AAMk-gone", "Processed")
    assert exchange.operations.count("MoveItem") == 1


def test_moving_into_the_folder_read_from_is_refused(make_source: Callable[..., EwsSource]) -> None:
    with pytest.raises(EwsError, match="into the folder it is read from"):
        make_source().move("AAMk-1", "Inbox")


# -- failures ------------------------------------------------------------------------------------


def test_a_busy_server_is_waited_out(
    exchange: FakeExchange, make_source: Callable[..., EwsSource], sleeps: Sleeps
) -> None:
    raws = deliver(exchange, [("AAMk-1", SENT)])
    exchange.busy("FindItem", back_off_ms=4000)
    exchange.fail("GetItem", 503)

    fetched = list(make_source().fetch())

    assert [m.raw for m in fetched] == [raws["AAMk-1"]]
    assert sleeps.calls == [4.0, 1.0]


def test_a_dropped_connection_is_retried(
    exchange: FakeExchange, make_source: Callable[..., EwsSource], sleeps: Sleeps
) -> None:
    deliver(exchange, [("AAMk-1", SENT)])
    source = make_source()
    source.count()  # connected and the folder found
    exchange.drop("FindItem")
    exchange.drop("FindItem")
    assert [m.key for m in source.fetch()] == ["AAMk-1"]
    assert sleeps.calls == [1.0, 2.0]


def test_gives_up_after_the_retries(
    exchange: FakeExchange, make_source: Callable[..., EwsSource], sleeps: Sleeps
) -> None:
    deliver(exchange, [("AAMk-1", SENT)])
    for _ in range(4):
        exchange.fail("FindItem", 503)
    with pytest.raises(EwsError, match="gave up after 3 failed attempts"):
        list(make_source(retries=2).fetch())
    assert sleeps.calls == [1.0, 2.0]


def test_a_wrong_password_is_an_ews_error_without_the_password(
    exchange: FakeExchange, make_source: Callable[..., EwsSource], sleeps: Sleeps
) -> None:
    exchange.basic_auth = (USER, "the-right-password")
    with pytest.raises(EwsError, match="login refused") as caught:
        list(make_source().fetch())
    assert PASSWORD not in str(caught.value)
    assert caught.value.__cause__ is None
    assert sleeps.calls == []  # a refused login is not retried
    assert PASSWORD not in repr(settings())


def test_the_right_password_is_let_in(exchange: FakeExchange, make_source: Callable[..., EwsSource]) -> None:
    exchange.basic_auth = (USER, PASSWORD)
    deliver(exchange, [("AAMk-1", SENT)])
    assert [m.key for m in make_source().fetch()] == ["AAMk-1"]


def test_a_refused_client_secret_is_an_ews_error_without_the_secret(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    source = make_source(
        auth="oauth2", password=None, tenant_id="tenant-1", client_id="client-1", client_secret=SECRET
    )
    with pytest.raises(EwsError, match="login refused") as caught:
        source.count()
    assert exchange.token_requests == 1
    assert SECRET not in str(caught.value)
    assert "\n" not in str(caught.value)


def test_server_errors_never_carry_the_secrets(
    exchange: FakeExchange, make_source: Callable[..., EwsSource]
) -> None:
    exchange.fail("FindItem", 400, f"bad request from {USER} with {PASSWORD}\nline two".encode())
    deliver(exchange, [("AAMk-1", SENT)])
    with pytest.raises(EwsError) as caught:
        list(make_source().fetch())
    message = str(caught.value)
    assert PASSWORD not in message
    assert "\n" not in message
    assert message.startswith(f"ews://{USER}@{SERVER}/Inbox: listing messages:")


def test_missing_login_details_are_clear_errors() -> None:
    with pytest.raises(EwsError, match="needs a password"):
        EwsSource(settings(password=None))
    with pytest.raises(EwsError, match="oauth2 needs tenant_id, client_id and client_secret"):
        EwsSource(settings(auth="oauth2", client_id="c"))
    with pytest.raises(EwsError, match="no server"):
        EwsSource(settings(server=""))
    with pytest.raises(EwsError, match="must be an email address"):
        EwsSource(settings(mailbox="ombudsman"))


def test_an_account_can_be_handed_in(exchange: FakeExchange) -> None:
    deliver(exchange, [("AAMk-1", SENT)])
    account = exchangelib.Account(
        primary_smtp_address=MAILBOX,
        config=exchangelib.Configuration(
            server=SERVER,
            credentials=exchangelib.Credentials(USER, PASSWORD),
            auth_type=exchangelib.BASIC,
            version=exchangelib.Version(build=exchangelib.Build(15, 1, 2507, 6)),
        ),
        autodiscover=False,
        access_type=exchangelib.DELEGATE,
    )
    source = EwsSource(settings(password=None), account=account)
    assert [m.key for m in source.fetch()] == ["AAMk-1"]
    assert "ConvertId" not in exchange.operations  # the given account's version is used as it is
    source.close()
    assert source.count() == 1  # the handed-in account is used again after close
