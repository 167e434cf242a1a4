"""Case references: the Ombudsmen's and the council's own.

LGSCO references are 8 digits, canonical ``YY NNN NNN`` (seen as ``24012345``,
``24-012-345``, ``24 012 345a``); Housing Ombudsman references are 9 digits
starting with the year (``202412345``). Phone numbers, council tax accounts,
amounts and older case numbers quoted as background must not be taken.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from inboxbot.domain.caseless import Caseless
from inboxbot.domain.kinds import Ombudsman

# An LGSCO reference: the same separator (space, hyphen or none) in both places,
# not inside a longer run of digits or digit groups (phone numbers), plausible year.
_LGSCO = re.compile(
    r"(?<![\w£$.,/:+-])(?<!\d )(?P<yy>\d{2})(?P<sep>[ -]?)(?P<a>\d{3})(?P=sep)(?P<b>\d{3})"
    r"(?P<suffix>[a-z])?(?![\w/])(?! \d)",
    re.IGNORECASE,
)
_HOS = re.compile(r"(?<![\w£$.,/:+-])(?<!\d )(?P<ref>20[1-3]\d\d{5})(?![\w/])(?! \d)")

# Words just before a number that say it is not a case reference. The pound sign has a pattern
# of its own so that the words' pattern is plain ASCII, which Caseless scans quickly.
_NOT_A_CASE = Caseless(
    r"(?:account|acct|a/c|tel|telephone|phone|mobile|fax|call|invoice|payment|uprn|nino|sort code"
    r"|council tax|reference number for your council tax)[^\n\d]{0,20}$"
)
_POUNDS = re.compile(r"£[^\n\d]{0,20}$")
# Words just before a reference that say it is an older case quoted as background.
_BACKGROUND = Caseless(
    r"(?:previous|earlier|separate|separately|prior|older|former|background|previously|another|last year"
    r"|already decided|closed case|old case|for example|e\.g\.|annex|in one case|case study)[^\n]{0,45}$"
)

FIELD_ORDER = ("subject", "body", "forwarded", "attachment", "quoted")


@dataclass(frozen=True)
class Reference:
    """An Ombudsman case reference found in a message."""

    ombudsman: Ombudsman
    ref: str  # canonical form
    written: str  # as it appears
    found_in: str  # subject, body, forwarded, attachment or quoted
    background: bool  # quoted as an older, other case


def canonical_lgsco(text: str) -> str | None:
    """``24012345``, ``24-012-345`` or ``24 012 345a`` to ``24 012 345``; None if not one."""
    match = _LGSCO.fullmatch(text.strip())
    if not match or not _plausible_year(match.group("yy")):
        return None
    return f"{match.group('yy')} {match.group('a')} {match.group('b')}"


def _plausible_year(yy: str) -> bool:
    # LGSCO references carry the two-digit year the complaint arrived; 2005-2039
    # covers every live case and rules out most other 8-digit numbers.
    return 5 <= int(yy) <= 39


_CLAUSE_END = re.compile(r"[.;!?\n]")


def _clause_before(text: str, start: int) -> str:
    """Up to 60 characters before ``start``, not reaching back past the end of the last sentence."""
    before = text[max(0, start - 60) : start]
    ends = list(_CLAUSE_END.finditer(before))
    return before[ends[-1].end() :] if ends else before


# Every reference starts a word with eight digits, perhaps in groups of 2, 3 and 3 (a Housing
# Ombudsman reference has a ninth). Finding those places first, then trying the full patterns
# only there, reads the text once in a loop of the regex engine's own instead of running two
# look-behind-heavy patterns at every character, and passes over dates, amounts and phone
# numbers. The candidates are taken whole (a zero-width look-ahead is twice as slow to scan):
# no reference can start inside one, since every place inside follows a digit, or a space or
# hyphen after a digit, which both patterns refuse. So the matches are the same as the
# patterns' own finditer would give.
_CANDIDATE = re.compile(r"\d\d[ -]?\d{3}[ -]?\d{3}")
# On ASCII text \d is [0-9], which re tests with a comparison instead of a Unicode lookup:
# a third of the cost of a long body full of numbers.
_ASCII_CANDIDATE = re.compile(r"[0-9][0-9][ -]?[0-9]{3}[ -]?[0-9]{3}")
_WORD_CHARACTER = re.compile(r"\w")


def find_references(text: str, found_in: str) -> list[Reference]:
    """Every Ombudsman reference in ``text``, in order of appearance."""
    found: list[Reference] = []
    ends = [0] * len(_PATTERNS)  # where each pattern's last match ended: matches never overlap
    for candidate in (_ASCII_CANDIDATE if text.isascii() else _CANDIDATE).finditer(text):
        start = candidate.start()
        if start and _WORD_CHARACTER.match(text, start - 1):
            continue  # not the start of a word
        for which, (pattern, ombudsman) in enumerate(_PATTERNS):
            match = pattern.match(text, start) if start >= ends[which] else None
            if match is not None:
                ends[which] = match.end()
                reference = _reference(text, match, ombudsman, found_in)
                if reference is not None:
                    found.append(reference)
    return found


_PATTERNS = ((_LGSCO, Ombudsman.LGSCO), (_HOS, Ombudsman.HOS))


def _not_a_case(before: str) -> bool:
    """Whether the words just before a number say it is an account, a phone number or an amount."""
    return bool(_NOT_A_CASE.search(before) or _POUNDS.search(before))


def _reference(text: str, match: re.Match[str], ombudsman: Ombudsman, found_in: str) -> Reference | None:
    before = _clause_before(text, match.start())
    if _not_a_case(before[-30:]):
        return None
    if ombudsman is Ombudsman.LGSCO:
        if not _plausible_year(match.group("yy")):
            return None
        ref = f"{match.group('yy')} {match.group('a')} {match.group('b')}"
    else:
        ref = match.group("ref")
    return Reference(ombudsman, ref, match.group(0), found_in, bool(_BACKGROUND.search(before)))


def choose_reference(
    references: Iterable[Reference], ombudsman: Ombudsman | None = None
) -> tuple[Reference | None, str]:
    """The reference the message is about, and why it was chosen.

    The subject wins, then the newest text, then forwarded parts, attachments
    and finally the quoted history; a reference of the sending Ombudsman's format
    is preferred. A background reference (an older case, an example) is never the
    one: a message that names only those is about no case of them, and linking it
    to one would chase a service area about the wrong case.
    """
    candidates = list(references)
    if not candidates:
        return None, "no case reference found"

    def rank(ref: Reference) -> tuple[int, int, int]:
        field = FIELD_ORDER.index(ref.found_in) if ref.found_in in FIELD_ORDER else len(FIELD_ORDER)
        other_ombudsman = 1 if ombudsman is not None and ref.ombudsman != ombudsman else 0
        return (int(ref.background), other_ombudsman, field)

    best = min(candidates, key=rank)  # min is stable: the first of equals wins
    why = f"{best.written!r} in the {best.found_in}"
    if best.background:
        return None, f"no case reference found: only {why}, an older case or an example quoted as background"
    return best, why


def council_reference_pattern(pattern: str) -> Caseless:
    """The council's reference pattern, bounded so it is not found inside longer tokens."""
    return Caseless(rf"(?<![\w-])(?:{pattern})(?![\w])")


def find_council_reference(pattern: Caseless, texts: Iterable[str]) -> str | None:
    """The first council reference in the texts, in the order given, upper-cased."""
    for text in texts:
        match = pattern.search(text)
        if match:
            return match.group(0).upper()
    return None
