"""The fast parse must build exactly the Message the email package builds."""

from __future__ import annotations

import email
import re
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxbot.domain import headers, mimeparse
from inboxbot.domain.mimeparse import message_from_bytes

ROOT = Path(__file__).parents[2]
MAIL = sorted(
    [
        *(ROOT / "tests" / "corpus").glob("*.eml"),
        *(ROOT / "tests" / "holdout").glob("*.eml"),
        *(ROOT / "inboxbot" / "demo" / "mailbox").rglob("*.eml"),
    ]
)


def state(message: Message) -> dict[str, Any]:
    """Everything a parse decides about a message, its parts included."""
    payload = getattr(message, "_payload", None)  # as stored, undecodable bytes included
    return {
        "class": type(message),
        "unixfrom": message.get_unixfrom(),
        "headers": message.items(),
        "payload": [state(part) for part in payload] if isinstance(payload, list) else payload,
        "defects": [(type(d), str(d)) for d in message.defects],
        "preamble": message.preamble,
        "epilogue": message.epilogue,
        "default_type": message.get_default_type(),
        "charset": message.get_charset(),
    }


def tables(message: Message) -> list[headers.Table | None]:
    """The header table of every part: kept by our parse, built from the headers for the package's."""
    return [headers.table(part) for part in message.walk()]


def assert_same_parse(raw: bytes) -> None:
    ours, theirs = message_from_bytes(raw), email.message_from_bytes(raw)
    assert state(ours) == state(theirs)
    assert tables(ours) == tables(theirs)


def test_the_bundled_mail_is_there() -> None:
    assert len(MAIL) > 150


@pytest.mark.parametrize("path", MAIL, ids=lambda p: p.name)
def test_every_message_we_keep_parses_as_the_email_package_parses_it(path: Path) -> None:
    assert_same_parse(path.read_bytes())


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: plain\r\n\r\nbody line\r\nsecond\r\n",
        b"Subject: bare CR\r\rbody\rline\r",
        b"Subject: mixed\n\r\nbody\r\n",
        b"From someone@example.org Mon Mar 30 2026\nSubject: unix from\n\nbody\n",
        b"Subject: a\nFrom late@example.org\n\nbody after a misplaced From line\n",
        b"Subject: a\nFrom late@example.org\nTo: b\n\nbody\n",
        b" continuation first\nSubject: a\n\nbody\n",
        b"Subject: no blank line\nthis is body text\n",
        b"Subject: only headers\n",
        b"Subject: only headers, no newline",
        b"",
        b"\n\nbody with no headers\n",
        b":no name\nSubject: x\n\nbody\n",
        b"Subject: caf\xc3\xa9\n\nna\xefve body \xff\n",
        b"Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nparts\n--b--\n",
        b"Subject: x\nContent-Type: multipart/mixed\n\nno boundary\n",
        b"Subject: x\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner body\n",
        b"Subject: x\nContent-Type: message/delivery-status\n\nA: b\n\nC: d\n",
        b"Subject: x\nContent-Type: message/rfc822\r\rSubject: inner\n\ninner body\n",
        b"Subject: x\nContent-Type: message/rfc822\nnot a header\nSubject: inner\n\ninner body\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\r\rS: i\n\n--b--\n",
        b"Subject: x\nContent-Type: text\n\ninvalid type is text/plain\n",
        b"Subject: x\nContent-Type: MULTIPART/Alternative; boundary=q\n\n--q\n\nhi\n--q--\n",
        b"Content-Type: text/plain\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst header wins\n",
        b"Subject: x\n \t\n\nwhitespace-only continuation\n",
        b"Subject: x\n\x0cform feed\x0b\x1c\n\nbody\x0cwith\x1eodd\x85breaks\n",
    ],
)
def test_edge_cases_parse_as_the_email_package_parses_them(raw: bytes) -> None:
    assert_same_parse(raw)


HEAD_LINES = st.sampled_from(
    [
        "Subject: s",
        "From: a@b.c",
        "From someone Mon Mar 30",
        " continued",
        "\tcontinued",
        ":",
        "X-Odd:",
        "Content-Type: text/plain",
        "Content-Type: text/html; charset=windows-1252",
        "Content-Type: multipart/mixed; boundary=b",
        "Content-Type: message/rfc822",
        "Content-Type: application/pdf",
        "not a header",
        "",
    ]
)
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=400, deadline=None)
@given(
    lines=st.lists(st.tuples(HEAD_LINES | st.text(max_size=20), ENDINGS), max_size=12),
    body=st.text(max_size=200),
    tail=st.binary(max_size=40),
)
def test_generated_mail_parses_as_the_email_package_parses_it(
    lines: list[tuple[str, str]], body: str, tail: bytes
) -> None:
    raw = "".join(line + ending for line, ending in lines).encode("utf-8", "surrogateescape") + body.encode(
        "utf-8", "surrogateescape"
    )
    assert_same_parse(raw + tail)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=400))
def test_random_bytes_parse_as_the_email_package_parses_them(raw: bytes) -> None:
    assert_same_parse(raw)


@pytest.fixture
def no_full_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any parse by the email package in full fails the test."""

    def refuse(text: str) -> Message:
        raise AssertionError("parsed in full")

    monkeypatch.setattr(mimeparse, "_parse_in_full", refuse)


@pytest.mark.usefixtures("no_full_parse")
def test_a_single_part_message_is_not_parsed_line_by_line() -> None:
    message = message_from_bytes(b"Subject: s\r\nContent-Type: text/html\r\n\r\n<p>one</p>\r\n<p>two</p>\r\n")
    assert message.get_payload() == "<p>one</p>\r\n<p>two</p>\r\n"
    assert message["Subject"] == "s"


# --- multipart messages, cut at their boundaries -----------------------------------------

MULTIPART_HEADS = st.sampled_from(
    [
        "Content-Type: multipart/mixed; boundary=B",
        'Content-Type: multipart/alternative; boundary="B"',
        "Content-Type: multipart/digest; boundary=B",
        "Content-Type: multipart/mixed; boundary=B\nContent-Transfer-Encoding: base64",
        "Content-Type: multipart/mixed; boundary=B\nContent-Transfer-Encoding: 7bit",
        "Content-Type: multipart/mixed",
        "Content-Type: multipart/mixed; boundary=B\nSubject: s",
    ]
)
MULTIPART_LINES = st.sampled_from(
    [
        "--B",
        "--B--",
        "--B  ",
        "--B--\t",
        "--Bx",
        "--B-- trailing",
        " --B",
        "Content-Type: text/plain",
        "Content-Type: text/html; charset=utf-8",
        "Content-Type: application/octet-stream; name=a.bin",
        "Content-Transfer-Encoding: base64",
        "Content-Type: multipart/alternative; boundary=C",
        "Content-Type: message/rfc822",
        "--C",
        "--C--",
        "Subject: inner",
        "From someone",
        "not a header",
        "QUJDRA==",
        "",
        "",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(
    head=MULTIPART_HEADS,
    lines=st.lists(st.tuples(MULTIPART_LINES | st.text(max_size=8), ENDINGS), max_size=16),
    last_ending=st.booleans(),
)
def test_generated_multipart_mail_parses_as_the_email_package_parses_it(
    head: str, lines: list[tuple[str, str]], last_ending: bool
) -> None:
    text = head.replace("\n", "\r\n") + "\r\n\r\n" + "".join(line + ending for line, ending in lines)
    if not last_ending:
        text = text.rstrip("\r\n")
    assert_same_parse(text.encode("utf-8", "surrogateescape"))


@pytest.mark.parametrize(
    "raw",
    [
        b"Content-Type: multipart/mixed; boundary=b\n\npreamble\n--b\n\none\n--b\n\n\n--b--\nepilogue\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n--b\n\ntwo\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n--b\n\nafter the end\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\r\rone\r--b--\r\rlone carriage returns\r",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\ncaf\xc3\xa9 \xff\n--b--\n",
        b'Content-Type: multipart/mixed; boundary="a b"\n\n--a b\n\none\n--a b--\n',
    ],
)
def test_multipart_edge_cases_parse_as_the_email_package_parses_them(raw: bytes) -> None:
    assert_same_parse(raw)


@pytest.mark.usefixtures("no_full_parse")
def test_a_multipart_of_single_parts_is_not_parsed_line_by_line() -> None:
    raw = (
        b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\npreamble\r\n--b1\r\n"
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b1\r\nContent-Type: application/pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\nepilogue\r\n"
    )
    message = message_from_bytes(raw)
    parts = message.get_payload()
    assert isinstance(parts, list)
    assert [part.get_payload() for part in parts if isinstance(part, Message)] == ["hello", "JVBERi0="]
    assert (message.preamble, message.epilogue) == ("preamble", "epilogue\r\n")


@given(st.text(alphabet="\r\na", max_size=6))
def test_one_line_break_comes_off_the_end_as_the_package_takes_it_off(text: str) -> None:
    assert mimeparse._without_last_line_break(text) == re.sub(r"(\r\n|\r|\n)\Z", "", text, count=1)


@settings(max_examples=500, deadline=None)
@given(
    head=MULTIPART_HEADS,
    lines=st.lists(
        st.tuples(
            st.lists(
                MULTIPART_LINES | st.sampled_from(["x", " ", "-", "B", "B--"]), min_size=1, max_size=3
            ).map("".join),
            ENDINGS | st.just(""),
        ),
        max_size=16,
    ),
)
def test_boundary_text_inside_a_line_is_not_a_boundary(head: str, lines: list[tuple[str, str]]) -> None:
    text = head.replace("\n", "\r\n") + "\r\n\r\n" + "".join(line + ending for line, ending in lines)
    assert_same_parse(text.encode("utf-8", "surrogateescape"))


# --- nested parts: multiparts within multiparts, forwarded messages, read receipts --------

LEAF_HEADS = st.sampled_from(
    [
        "Content-Type: text/plain",
        "Content-Type: text/html; charset=utf-8",
        "Content-Type: message/disposition-notification",
        "Content-Type: message/delivery-status",
        "Subject: no type",
        "Final-Recipient: rfc822; a@b.c",
        "not a header",
    ]
)
LEAF_BODIES = st.lists(st.sampled_from(["text", "", "--B", "--C--", "Action: failed", " x"]), max_size=3)


def leaf(head: str, body: list[str], blank: bool) -> str:
    return head + ("\n\n" if blank else "\n") + "\n".join(body)


def multipart(boundary: str, parts: list[str], preamble: str, epilogue: str, closed: bool) -> str:
    text = f"Content-Type: multipart/mixed; boundary={boundary}\n\n{preamble}"
    text += "".join(f"\n--{boundary}\n{part}" for part in parts)
    return text + (f"\n--{boundary}--\n{epilogue}" if closed else "")


def forwarded(head: str, inner: str) -> str:
    return f"Content-Type: {head}\nSubject: fwd\n\n{inner}"


TEXTS = st.sampled_from(["", "text", "text\n", "\n"])
NESTED = st.recursive(
    st.builds(leaf, LEAF_HEADS, LEAF_BODIES, st.booleans()),
    lambda inner: (
        st.builds(
            multipart,
            st.sampled_from(["B", "C", "D"]),
            st.lists(inner, max_size=3),
            TEXTS,
            TEXTS,
            st.booleans() | st.just(True),
        )
        | st.builds(forwarded, st.sampled_from(["message/rfc822", "message/disposition-notification"]), inner)
    ),
    max_leaves=8,
)


@settings(max_examples=1500, deadline=None)
@given(message=NESTED, ending=ENDINGS, headers_first=st.booleans())
def test_nested_mail_parses_as_the_email_package_parses_it(
    message: str, ending: str, headers_first: bool
) -> None:
    text = ("Subject: s\n" if headers_first else "") + message
    assert_same_parse(text.replace("\n", ending).encode("utf-8", "surrogateescape"))


@pytest.mark.usefixtures("no_full_parse")
@pytest.mark.parametrize(
    "path",
    [
        p
        for p in MAIL
        if p.name.endswith("-fwd822.eml") or p.name.startswith(("auto-reply-bounce-", "auto-reply-read-"))
    ],
    ids=lambda p: p.name,
)
def test_forwarded_mail_bounces_and_read_receipts_are_not_parsed_line_by_line(path: Path) -> None:
    message = message_from_bytes(path.read_bytes())
    assert any(part.get_content_maintype() == "message" for part in message.walk())


STATUS_LINES = st.sampled_from(
    [
        "Action: failed",
        "Status: 5.1.1",
        " continued",
        "not a field",
        "",
        "Content-Type: message/rfc822",
        "--B",
    ]
)


@settings(max_examples=800, deadline=None)
@given(
    lines=st.lists(st.tuples(STATUS_LINES, ENDINGS), max_size=10),
    in_multipart=st.booleans(),
    ending=ENDINGS,
)
def test_delivery_status_blocks_parse_as_the_email_package_parses_them(
    lines: list[tuple[str, str]], in_multipart: bool, ending: str
) -> None:
    status = "Content-Type: message/delivery-status" + ending * 2 + "".join(a + b for a, b in lines)
    if in_multipart:
        status = multipart("B", [status, "Content-Type: text/plain\n\nx"], "", "", True).replace("\n", ending)
    assert_same_parse(status.encode())
