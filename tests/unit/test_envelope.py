"""Reading dates and encoded words from headers, checked against the email package itself."""

from __future__ import annotations

import email.header
import email.parser
import email.policy
import email.utils
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxbot.domain import headers
from inboxbot.domain.envelope import decode_words, header_block, parse_time
from inboxbot.domain.mimeparse import header_message


def _package_time(value: str) -> datetime | None:
    """What the email package makes of a date (the oracle): aware or None."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None


_ZONES = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m))
)


_EARLIEST = datetime(1970, 1, 1)  # noqa: DTZ001 - hypothesis wants naive bounds
_LATEST = datetime(2100, 1, 1)  # noqa: DTZ001


@settings(max_examples=1000, deadline=None)
@given(st.datetimes(min_value=_EARLIEST, max_value=_LATEST), _ZONES, st.booleans())
def test_a_date_as_mail_software_writes_it_reads_as_the_email_package_reads_it(
    moment: datetime, zone: timezone, comment: bool
) -> None:
    value = email.utils.format_datetime(moment.replace(microsecond=0, tzinfo=zone)) + (
        " (GMT)" if comment else ""
    )
    assert parse_time(value) == _package_time(value)
    assert parse_time(value) is not None


_DATE_PIECES = ["Mon, ", "2", "02", "31", " Mar", " Foo", " 2026", " 26", " 09:05:00", " 9:05", " 25:00:00"]
_DATE_PIECES += [" +0000", " -0000", " +0530", " -2400", " +9999", " (GMT)", " GMT", "  ", "x", ","]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_DATE_PIECES), max_size=9).map("".join))
def test_any_date_text_reads_as_the_email_package_reads_it(value: str) -> None:
    assert parse_time(value) == _package_time(value)


def test_a_date_with_no_zone_is_not_a_time() -> None:
    assert parse_time("Mon, 2 Mar 2026 09:05:00 -0000") is None
    assert parse_time("Mon, 2 Mar 2026 09:05:00 +0000") == datetime(2026, 3, 2, 9, 5, tzinfo=UTC)


_WORD_PIECES = [*"ab =?Q_\t\n", "=?utf-8?q?caf=C3=A9?=", "=?x-unknown?b?AA==?="]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_WORD_PIECES), max_size=12).map("".join))
def test_encoded_words_are_decoded_as_the_email_package_decodes_them(value: str) -> None:
    try:
        parts = email.header.decode_header(value)
        expected = "".join(
            part.decode(charset or "ascii", errors="replace") if isinstance(part, bytes) else part
            for part, charset in parts
        )
    except Exception:
        expected = value
    assert decode_words(value) == (" ".join(expected.split()) or None)


# --- the header block, split as the email package splits it --------------------------------

_HEADER_PIECES = st.sampled_from(
    [
        "Subject: Draft decision",
        "From: LGSCO <intake@lgo.org.uk>",
        "Message-ID: <a@b>",
        "Received: from mx; Mon, 2 Mar 2026 09:05:00 +0000",
        "Date: Mon, 2 Mar 2026 09:05:00 +0000",
        "X-Empty:",
        " folded on",
        "\tfolded with a tab",
        "   ",
        "",
        "From someone@example.org Mon Mar  2 09:05:00 2026",
        ": no name",
        "X Bad : header",
        "Subject: =?utf-8?q?caf=C3=A9?=",
        "Subject: caf\u00e9",
        "A:b\rC: d",
        "A: \x0b vertical tab",
        "A: x\x0cB: form feed",
        "body text with no colon",
        "Two:: colons: here",
    ]
)
_ENDINGS = st.sampled_from(["\r\n", "\n"])


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.tuples(_HEADER_PIECES, _ENDINGS), max_size=8), st.sampled_from(["\r\n", "\n", ""]))
def test_a_header_block_is_split_as_the_email_package_splits_it(
    lines: list[tuple[str, str]], blank: str
) -> None:
    head = ("".join(text + ending for text, ending in lines) + blank).encode("utf-8", "surrogateescape")
    expected = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head, headersonly=True)
    found = header_message(head)
    assert found.items() == expected.items()
    assert headers.table(found) == headers.table(expected)
    assert found.get_unixfrom() == expected.get_unixfrom()


def test_ordinary_headers_take_the_quick_way(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed by the email package")

    monkeypatch.setattr(email.parser.BytesParser, "parsebytes", refuse)
    message = header_message(b"Subject: Draft\r\n decision\r\nMessage-ID: <a@b>\r\n\r\n")
    assert message.items() == [("Subject", "Draft\r\n decision"), ("Message-ID", "<a@b>")]


def test_the_corpus_envelopes_read_as_before() -> None:
    corpus = Path(__file__).parents[1] / "corpus"
    for path in sorted(corpus.glob("*.eml")):
        head = header_block(path.read_bytes())
        expected = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head, headersonly=True)
        assert header_message(head).items() == expected.items(), path.name
