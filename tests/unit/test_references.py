"""Case references and their traps."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxbot.domain.kinds import Ombudsman
from inboxbot.domain.references import (
    _BACKGROUND,
    _HOS,
    _LGSCO,
    Reference,
    _not_a_case,
    _reference,
    canonical_lgsco,
    choose_reference,
    council_reference_pattern,
    find_council_reference,
    find_references,
)


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("24 012 345", "24 012 345"),
        ("24012345", "24 012 345"),
        ("24-012-345", "24 012 345"),
        ("24 012 345a", "24 012 345"),
    ],
)
def test_lgsco_forms_are_made_canonical(written: str, canonical: str) -> None:
    assert canonical_lgsco(written) == canonical
    [found] = find_references(f"Our reference: {written}.", "body")
    assert (found.ombudsman, found.ref) == (Ombudsman.LGSCO, canonical)


@pytest.mark.parametrize(
    "text",
    [
        "Call us on 0300 061 0614 between 8.30 and 5.",
        "Helpline 0300 111 3000.",
        "Council tax account 50012345 is in arrears.",
        "The amount was £12,345,678.",
        "Mixed separators 24 012-345 are not a reference.",
        "Part of a longer number 1240123456.",
        "A date 20/03/2026 and a time 09:15.",
    ],
)
def test_traps_are_not_references(text: str) -> None:
    assert find_references(text, "body") == []


def test_hos_reference() -> None:
    [found] = find_references("Case reference: 202512345", "subject")
    assert (found.ombudsman, found.ref) == (Ombudsman.HOS, "202512345")


def test_background_reference_loses_to_the_real_one() -> None:
    text = "This complaint is separate from our earlier case 22 001 998. Our reference is 25 004 217."
    chosen, _ = choose_reference(find_references(text, "body"))
    assert chosen is not None
    assert chosen.ref == "25 004 217"


def test_a_message_naming_only_background_references_is_about_no_case() -> None:
    text = (
        "The cases considered are listed in the annex to the report (for example 202503311, 202507729 "
        "and 202601154). This complaint is separate from our earlier case 22 001 998. In one case "
        "(202619804) the landlord did not respond for four months."
    )
    references = find_references(text, "body")
    assert len(references) == 5
    assert all(found.background for found in references)
    chosen, why = choose_reference(references)
    assert chosen is None
    assert why.startswith("no case reference found: only '202503311' in the body")


def test_subject_wins_over_the_body() -> None:
    refs = find_references("Complaint 25 004 217", "subject") + find_references("see also 25 004 300", "body")
    chosen, why = choose_reference(refs)
    assert chosen is not None
    assert chosen.ref == "25 004 217"
    assert "subject" in why


def test_the_senders_ombudsman_is_preferred() -> None:
    refs = find_references("LGSCO 25 004 217 and HOS 202512345", "body")
    chosen, _ = choose_reference(refs, Ombudsman.HOS)
    assert chosen is not None
    assert chosen.ref == "202512345"


def test_council_reference() -> None:
    pattern = council_reference_pattern(r"CAS-\d{6,7}")
    assert find_council_reference(pattern, ["nothing", "Your ref cas-1187342."]) == "CAS-1187342"
    assert find_council_reference(pattern, ["XCAS-123456", "CAS-12345678"]) is None


@given(st.text(max_size=300))
def test_never_raises(text: str) -> None:
    for ref in find_references(text, "body"):
        assert ref.ref.replace(" ", "").isdigit()


def _reference_find(text: str, found_in: str) -> list[Reference]:
    """The first implementation, one finditer per pattern: the oracle for the candidate scan."""
    found: list[tuple[int, Reference]] = []
    for pattern, ombudsman in ((_LGSCO, Ombudsman.LGSCO), (_HOS, Ombudsman.HOS)):
        for match in pattern.finditer(text):
            reference = _reference(text, match, ombudsman, found_in)
            if reference is not None:
                found.append((match.start(), reference))
    return [ref for _, ref in sorted(found, key=lambda item: item[0])]


_PIECES = st.sampled_from(
    [
        "24",
        "012",
        "345",
        "2024",
        "12345",
        "20241",
        " ",
        "-",
        "a",
        "£",
        "tel ",
        "previous case ",
        ".",
        "\n",
        "x",
        "/",
        "_",
        "\u00e9",
        "5 ",
        "0",
        "\u0663\u0664",  # digits beyond ASCII: \d holds them, so the text takes the Unicode scan
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
def test_the_candidate_scan_finds_exactly_what_the_full_patterns_find(text: str) -> None:
    assert find_references(text, "body") == _reference_find(text, "body")


# The words before a number, as one IGNORECASE pattern, before the pound sign had its own.
_OLD_NOT_A_CASE = re.compile(
    r"(?:account|acct|a/c|tel|telephone|phone|mobile|fax|call|£|invoice|payment|uprn|nino|sort code"
    r"|council tax|reference number for your council tax)[^\n\d]{0,20}$",
    re.IGNORECASE,
)
_BEFORE = st.lists(
    st.sampled_from(
        ["Account", "TEL", "a/c", "£", "Previous case", "earlier", " ", "no.", "\n", "1", "x", "\u212a"]
    ),
    max_size=10,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(_BEFORE)
def test_the_words_before_a_number_are_read_as_they_were(before: str) -> None:
    assert _not_a_case(before) == bool(_OLD_NOT_A_CASE.search(before))
    assert bool(_BACKGROUND.search(before)) == bool(_BACKGROUND.pattern.search(before))
