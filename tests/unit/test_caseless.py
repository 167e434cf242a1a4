"""Case-insensitive searching on lower-cased text must find exactly what IGNORECASE finds."""

from __future__ import annotations

import re
import sys
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inboxbot.adapters.rulefiles import load_rules
from inboxbot.domain import caseless, mailtext, references
from inboxbot.domain.caseless import FOLD_UNSAFE, Caseless, fold_pattern
from inboxbot.resources import rules_dir


def test_the_unsafe_characters_are_exactly_those_where_lower_and_ignorecase_part() -> None:
    letter, word, digit, space = (re.compile(p) for p in (r"(?i)[a-z]", r"\w", r"\d", r"\s"))
    unsafe = []
    for point in range(0x80, sys.maxunicode + 1):
        char = chr(point)
        lowered = char.lower()
        if (
            len(lowered) != 1
            or letter.match(char)
            or (lowered.isascii() and lowered != char)
            or any(bool(p.match(char)) != bool(p.match(lowered)) for p in (word, digit, space))
        ):
            unsafe.append(char)
    assert "".join(unsafe) == FOLD_UNSAFE


@pytest.mark.parametrize(
    ("pattern", "folded"),
    [
        (r"\bplease (now )?send\b", r"\bplease (now )?send\b"),
        (r"CAS-\d{6,7}", r"cas-\d{6,7}"),
        (r"[A-Z]{2}\S+\B", r"[a-z]{2}\S+\B"),
        (r"(?P<Sender>From:)(?P=Sender)", r"(?P<Sender>from:)(?P=Sender)"),
        (r"a\-Z[0-9]", r"a\-z[0-9]"),
        (r"\x41", None),  # an upper-case letter by number
        (r"\101", None),
        (r"(?-i:Draft)", None),  # case matters again inside
        (r"(?i)draft", None),
        (r"[!-a]", None),  # holds A-Z and only "a" of the lower case
        (r"[A-c]", None),
        (r"[\--Z]", None),
        ("caf\u00e9", None),  # not ASCII
    ],
)
def test_a_pattern_is_lower_cased_only_where_that_keeps_its_meaning(pattern: str, folded: str | None) -> None:
    assert fold_pattern(pattern) == folded


def _bundled() -> list[tuple[str, int]]:
    """The rules' regexes and the body splitter's, with their flags."""
    rules = load_rules(rules_dir())
    ours: list[tuple[str, int]] = [
        (rx.pattern.pattern, rx.pattern.flags & ~re.IGNORECASE)
        for compiled in rules.rules
        for rx in (*compiled.text_regex, *compiled.subject_regex)
    ]
    for name in ("_FORWARD_MARKER", "_HEADER_BLOCK", "_WROTE", "_SIGNOFF", "_DISCLAIMER"):
        splitter: Caseless = getattr(mailtext, name)
        ours.append((splitter.pattern.pattern, splitter.pattern.flags & ~re.IGNORECASE))
    for words in (references._NOT_A_CASE, references._BACKGROUND):
        ours.append((words.pattern.pattern, 0))
    return ours


BUNDLED = _bundled()
TRICKY = [
    (r"[!-a]+", 0),
    (r"[A-Z]{2}\w*", 0),
    (r"\bK\w+", 0),
    (r"(?P<x>ab)\s(?P=x)", 0),
    (r"i.s", 0),
    (r"[^a-z]+", 0),
    (r"\W\S\D", 0),
    # Where a match can start: words after a line start, optional and repeated parts, branches.
    (r"^[ \t>]*(?:-{2,}\s*sent|Please (now )?send)", re.MULTILINE),
    (r"^[ \t]*(?:From|Sent):[^\n]*$", re.MULTILINE),
    (r"\b(we|i) (now |also )?(need|send) (the|a) ?", 0),
    (r"(?:please|could you|portal)\b[^\n]{0,20}?send", 0),
    (r"(?<![\w-])(?:from|to)-?\w", 0),
    (r"-{2}(?!\s)", re.MULTILINE),
    (r"^\s*sent\b.*wrote:$", re.MULTILINE),
]
COUNCIL = r"(?<![\w-])(?:CAS-\d{6,7})(?![\w])"
PATTERNS = [*BUNDLED, *TRICKY, (COUNCIL, 0)]
_PIECES = st.sampled_from(
    [
        "From: ",
        "Sent: Monday",
        "To: RET\n",
        "Subject: Draft\n",
        "-----Original Message-----\n",
        "---------- Forwarded message ---------\n",
        "On Mon, 2 Mar 2026 wrote:\n",
        "Kind regards,\n",
        "please send ",
        "could you please provide ",
        "comments by ",
        "new message on the portal ",
        "CAS-1234567 ",
        "> ",
        "\n",
        " ",
        "_",
        "b",
        "Z",
        "K",
        "\u212a",  # Kelvin sign
        "\u017f",  # long s
        "\u0131",  # dotless i
        "\u0130",  # dotted capital I
        "\u00e9",
        "\u2019",
        "\u00a0",
        "1",
        "-",
        "previous case ",
        "tel ",
        "i need the ",
        "we also send a",
        "\t",
        "\n  From: ",
        "\n> --sent",
    ]
)


@settings(max_examples=3000, deadline=None)
@given(
    st.sampled_from(PATTERNS),
    st.lists(st.tuples(_PIECES, st.booleans()), max_size=16).map(
        lambda parts: "".join(p.upper() if up else p for p, up in parts)
    ),
    st.integers(0, 20),
    st.one_of(st.integers(0, 400), st.just(sys.maxsize)),
)
@example((r"^[ \t]*(?:From|Sent):[^\n]*$", re.MULTILINE), "Dear RET\n  FROM: Ombudsman\n", 0, 400)
@example((r"^[ \t>]*(?:-{2,}\s*sent|Please (now )?send)", re.MULTILINE), "x\n> ---- Sent", 0, 400)
def test_caseless_search_finds_what_ignorecase_finds(
    pattern: tuple[str, int], text: str, pos: int, endpos: int
) -> None:
    source, flags = pattern
    expected = re.compile(source, flags | re.IGNORECASE).search(text, pos, endpos)
    found = Caseless(source, flags).search(text, pos, endpos)
    assert (found and (found.span(), found.groups())) == (expected and (expected.span(), expected.groups()))
    with mock.patch.object(caseless, "_SHORT_TEXT", -1):  # no text is too short for the shortcuts
        shortcut = Caseless(source, flags).search(text, pos, endpos)
        assert (shortcut and shortcut.span()) == (expected and expected.span())
        with mock.patch.object(caseless, "_SPARSE", 0):  # try the words' places however many there are
            tried = Caseless(source, flags).search(text, pos, endpos)
    assert (tried and tried.span()) == (expected and expected.span())
    if text.isascii():  # the caller's own lower-cased copy gives the same
        again = Caseless(source, flags).search(text, pos, endpos, lowered=text.lower())
        assert (again and again.span()) == (expected and expected.span())


def test_the_bundled_patterns_take_the_fast_path() -> None:
    # If one stops folding (a rule edited to use \x41, say), it still works, only slower: say so here.
    assert len(BUNDLED) >= 10
    assert [source for source, _ in [*BUNDLED, (COUNCIL, 0)] if fold_pattern(source) is None] == []


def test_patterns_anchored_at_line_starts_jump_between_line_breaks() -> None:
    signoff = mailtext._SIGNOFF
    assert signoff._lines is not None
    assert signoff._lines.pattern.startswith("\\n")
    # "^" of one branch only, or no MULTILINE: no shortcut.
    assert Caseless(r"^a|b", re.MULTILINE)._lines is None
    assert Caseless(r"^kind regards")._lines is None
    # A word every match holds is looked for first instead.
    assert mailtext._HEADER_BLOCK._lines is None
    text = "Dear RET\nThis is the reply.\n\nKind Regards\nAnn"
    found = signoff.search(text)
    assert found is not None
    assert found.start() == text.index("Kind")
    assert signoff.search(text, text.index("Kind")) is not None  # a line starts at pos itself
    assert signoff.search(text, text.index("Kind") + 1) is None
    # A start past the end is taken as the end, as ``re`` takes it.
    past = Caseless(r"^$", re.MULTILINE).search("a\n", 5)
    assert past is not None
    assert past.span() == (2, 2)
