"""Hypothesis throws malformed MIME at the whole judgement: nothing may raise."""

from __future__ import annotations

from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxbot.adapters.rulefiles import load_rules
from inboxbot.domain.classify import ClassifySettings, classify
from inboxbot.domain.kinds import MessageKind
from inboxbot.domain.mailtext import parse
from inboxbot.resources import rules_dir


@cache
def judgement() -> ClassifySettings:
    return ClassifySettings.build(load_rules(rules_dir()), authserv_ids=frozenset({"mx.northmere.gov.uk"}))


HEADER_NAMES = [
    "From",
    "To",
    "Subject",
    "Date",
    "Received",
    "Message-ID",
    "Authentication-Results",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
    "Auto-Submitted",
    "Precedence",
    "List-Id",
    "X-Autoreply",
    "In-Reply-To",
    "References",
    "MIME-Version",
]
VALUES = [
    'multipart/mixed; boundary="b"',
    "multipart/report; report-type=delivery-status; boundary=b",
    "text/html; charset=x-unknown",
    'text/plain; charset="windows-1252"',
    "message/rfc822",
    'application/pdf; name="x.pdf"',
    "base64",
    "quoted-printable",
    'attachment; filename="=?utf-8?q?a="',
    "mx.northmere.gov.uk; dmarc=pass header.from=lgo.org.uk",
    "mx.northmere.gov.uk; dmarc=pass (unbalanced",
    '"Housing Ombudsman" <x@gmail.com>',
    "<intake@lgo.org.uk>",
    "=?utf-8?b?////?=",
    "auto-replied",
    "from a by mx.northmere.gov.uk; Mon, 30 Mar 2026 16:59:59 +0000",
    "Mon, 99 Foo 2026 25:61 +9999",
    "",
    "Final chaser 25 004 217 witness summons",
    "CAS-1234567",
    "\u00e9\u00e8 \ud83d\ude00",
]
BODY_LINES = [
    "--b",
    "--b--",
    "Content-Type: text/html",
    "Content-Type: message/rfc822",
    "",
    "<p>Please provide",
    "within 20 working days",
    "by 31/02/2026",
    "no later than 14 May 2026",
    "=E2=80=99=",
    "PGh0bWw+",
    "> On Mon, 2 Mar 2026 someone wrote:",
    "From: a@lgo.org.uk",
    "Sent: yesterday",
    "Subject: FW: x",
    "---------- Forwarded message ---------",
    "Kind regards",
    "%PDF-1.4",
    "\x00\x01\x02",
    "25 004 217 0300 061 0614",
]

headers = st.lists(
    st.tuples(st.sampled_from(HEADER_NAMES), st.sampled_from(VALUES) | st.text(max_size=40)), max_size=12
)
bodies = st.lists(st.sampled_from(BODY_LINES) | st.text(max_size=60), max_size=40)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers=headers, body=bodies, crlf=st.booleans())
def test_malformed_mime_never_raises(headers: list[tuple[str, str]], body: list[str], crlf: bool) -> None:
    newline = "\r\n" if crlf else "\n"
    text = newline.join(f"{name}: {value}" for name, value in headers) + newline * 2 + newline.join(body)
    raw = text.encode("utf-8", "replace")
    result = classify(parse(raw), judgement())
    assert isinstance(result.kind, MessageKind)
    assert result.due is None or result.due_source in ("explicit", "relative", "default")


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=3000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    result = classify(parse(raw), judgement())
    assert isinstance(result.kind, MessageKind)
