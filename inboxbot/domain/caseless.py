"""Case-insensitive searching that is cheap on ordinary text.

Python's ``re`` matches an IGNORECASE pattern by case-folding every character
it compares, which makes a scan over a long body several times slower than the
same scan case-sensitively. Lower-casing the text and running a lower-cased
pattern case-sensitively finds the same place, as long as the pattern is ASCII
and the text holds none of the four characters that IGNORECASE pairs with an
ASCII letter where ``str.lower`` does not (dotted and dotless i, long s, the
Kelvin sign). The original pattern is then matched once, anchored there, so
callers get an ordinary match with the text as it was written.

Not every pattern can be lower-cased safely: ``\\S`` and ``\\D`` mean something
else in lower case, ``\\x41`` is an upper-case letter in disguise, an inline
``(?-i:...)`` switches case-insensitivity off, and a range such as ``[!-a]``
holds some upper-case letters without their lower-case twins (with IGNORECASE
it matches "b"). Such patterns, and text holding one of those four
characters, are simply searched with IGNORECASE as before.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import ahocorasick

# Escapes that name a character by number (it may be an upper-case letter), and inline flag
# groups (one may switch IGNORECASE off for part of the pattern).
_UNSAFE = re.compile(r"\\[0-9xuUN]|\(\?[a-zA-Z-]")
# Anything that may be a character range (outside a class it is only a hyphen, which costs
# nothing but a missed speed-up).
_RANGE = re.compile(r"(?:\\([^0-9A-Za-z])|([^\\]))-(?:\\([^0-9A-Za-z])|([^\\\]]))")
# The characters beyond ASCII that IGNORECASE matches to an ASCII letter, or that lower-case
# to something of another length or kind (word, digit, space). For every other character
# ``c``, an ASCII pattern treats ``c`` with IGNORECASE as it treats ``c.lower()`` without.
# tests/unit/test_caseless.py works this out again over all of Unicode.
FOLD_UNSAFE = "\u0130\u0131\u017f\u212a"


def foldable(text: str) -> bool:
    """Whether ``text`` holds none of :data:`FOLD_UNSAFE`. (Looking for each character with
    ``in`` is a memchr-like scan; a regex class is tried character by character, ten times
    slower on a letter.)"""
    return text.isascii() or not any(char in text for char in FOLD_UNSAFE)


def _range_folds(low: str, high: str) -> bool:
    """Whether ``[low-high]`` with IGNORECASE matches what its lower-cased form matches on
    lower-cased text: it holds no letters, or only letters of one case, or every letter."""
    span = set(range(ord(low), ord(high) + 1))
    upper, lower = set(range(ord("A"), ord("Z") + 1)), set(range(ord("a"), ord("z") + 1))
    if not span & (upper | lower):
        return True
    return span <= upper or span <= lower or (upper | lower) <= span


def fold_pattern(pattern: str) -> str | None:
    """``pattern`` with its letters lower-cased, or None when that would change what it matches
    on lower-cased ASCII text. Escapes (``\\S``, ``\\B``) and group names are left as written."""
    if not pattern.isascii() or _UNSAFE.search(pattern.replace("(?P<", "").replace("(?P=", "")):
        return None
    for low, high in ((a or b, c or d) for a, b, c, d in _RANGE.findall(pattern)):
        if low < high and not _range_folds(low, high):
            return None
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif pattern.startswith(("(?P<", "(?P="), i):
            end = pattern.find(">" if pattern[i + 3] == "<" else ")", i)
            if end == -1:
                return None
            out.append(pattern[i : end + 1])
            i = end + 1
        else:
            out.append(char.lower())
            i += 1
    return "".join(out)


# --- where a match can start ----------------------------------------------------------------
# Python's ``re`` only jumps ahead to a pattern's first letters when the pattern starts with a
# plain literal. One starting with ``\\b``, a look-behind or an alternation is tried at every
# character, which is most of the cost of a long body. The words a match must start with (or,
# for a pattern anchored at the start of a line, must contain on its first line) are read from
# the pattern once; the text is then searched for those words with ``str.find`` and the
# pattern tried only there.

_parser: Any = importlib.import_module("re._parser")
_sre: Any = importlib.import_module("re._constants")
_SHORTEST_WORD = 3  # shorter words ("on", "a") are everywhere: trying each place costs more


def _word_ok(word: str) -> bool:
    # Two characters will do when they are not letters ("--" is rare in a letter, "on" is not).
    return len(word) >= _SHORTEST_WORD or (len(word) == 2 and not any(c.isalpha() for c in word))


_ZERO_WIDTH = (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT)


_WORD_LENGTH = 10  # words are cut to this: long enough to be rare, short enough to share
_FEW_WORDS = 12  # up to this many words are looked for one by one (str.find is fast), more in one pass
_SPARSE = 32  # try the places one by one only when there are fewer than one per this many characters
_MOST_WORDS = 64  # beyond this, stop spelling out alternatives: the words found so far still hold
# In a text this short the folded pattern is searched directly: looking for its words first
# costs more than it saves (the words before a number in a reference, a subject line).
_SHORT_TEXT = 80


def _leading_words(items: Sequence[tuple[Any, Any]], by_line: bool, dotall: bool) -> set[str] | None:
    """Literal words one of which every match of ``items`` starts with, or None when the pattern
    gives no such set (it can start with a character class, say).

    With ``by_line``, the words only need to lie on the match's first line: whatever cannot
    cross a line break may come before them ("^[ \\t]*(best )?regards").
    """
    words, _ = _prefixes(items, by_line, dotall)
    return None if "" in words else words


def _prefixes(items: Sequence[tuple[Any, Any]], by_line: bool, dotall: bool) -> tuple[set[str], bool]:
    """(words, whole): every match of ``items`` starts with one of the words (see
    ``_leading_words`` for ``by_line``), and with ``whole`` every match is one of them, so what
    follows can be added to each. Zero-width assertions are passed over: leaving a condition
    out only lets more places be tried."""
    words, exact = {""}, True
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue
        if by_line and words == {""} and _passable(op, av) and _no_newline([(op, av)], dotall):
            exact = False  # passed over: the words found next are on the first line, not its start
            continue
        if op is _sre.LITERAL:
            words = {w + chr(av) for w in words}
            continue
        inner_by_line = by_line and words == {""}
        if op is _sre.SUBPATTERN and not (av[1] or av[2]):
            inner, whole = _prefixes(list(av[3]), inner_by_line, dotall)
        elif op is _sre.BRANCH:
            inner, whole = set(), True
            for alternative in av[1]:
                found, complete = _prefixes(list(alternative), inner_by_line, dotall)
                inner |= found
                whole = whole and complete
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and av[1] == 1:
            # Optional or exactly once: "(now |also )?" is one of those words or nothing.
            inner, whole = _prefixes(list(av[2]), inner_by_line, dotall)
            if av[0] == 0:
                inner, whole = inner | {""}, whole
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and len(av[2]) == 1 and av[2][0][0] is _sre.LITERAL:
            # "-{2,}": at least that many of one character.
            inner, whole = {chr(av[2][0][1]) * min(av[0], 8)}, av[0] == av[1]
        else:
            return words, False
        if words != {""} and len(words) * len(inner) > _MOST_WORDS:
            return words, False
        words = {w + i for w in words for i in inner}
        if not whole:
            return words, False
    return words, exact


def _passable(op: Any, av: Any) -> bool:
    """A character class, or something that may be missing: nothing to take words from."""
    if op in (_sre.IN, _sre.ANY, _sre.NOT_LITERAL):
        return True
    return op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT) and av[0] == 0


def _no_newline(items: Sequence[tuple[Any, Any]], dotall: bool) -> bool:
    """True when ``items`` cannot match a line break."""
    newline = ord("\n")
    for op, av in items:
        if op in _ZERO_WIDTH:
            continue
        if op is _sre.LITERAL:
            ok = av != newline
        elif op is _sre.NOT_LITERAL:
            ok = av == newline
        elif op is _sre.ANY:
            ok = not dotall
        elif op is _sre.IN:
            if av and av[0][0] is _sre.NEGATE:
                ok = (_sre.LITERAL, newline) in av[1:]
            else:
                ok = all(
                    (kind is _sre.LITERAL and value != newline)
                    or (kind is _sre.RANGE and not value[0] <= newline <= value[1])
                    or (kind is _sre.CATEGORY and value in (_sre.CATEGORY_DIGIT, _sre.CATEGORY_WORD))
                    for kind, value in av
                )
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
            ok = _no_newline(list(av[2]), dotall)
        elif op is _sre.SUBPATTERN:
            ok = _no_newline(list(av[3]), dotall)
        elif op is _sre.BRANCH:
            ok = all(_no_newline(list(alternative), dotall) for alternative in av[1])
        else:
            ok = False
        if not ok:
            return False
    return True


def _longest_required(items: Sequence[tuple[Any, Any]]) -> str:
    """The longest run of plain letters that every match holds (at the pattern's top level)."""
    best, run = "", ""
    for op, av in items:
        if op is _sre.LITERAL:
            run += chr(av)
            best = max(best, run, key=len)
        elif op not in _ZERO_WIDTH:
            run = ""
    return best


class Entries:
    """Where a match of a (folded, case-sensitive) pattern can start in a text."""

    __slots__ = ("_automaton", "by_line", "required", "words")

    def __init__(self, words: Iterable[str], by_line: bool, required: str) -> None:
        # Only where a word starts matters: "could you please" adds nothing to "could you".
        short = sorted({w[:_WORD_LENGTH] for w in words})
        self.words = tuple(w for w in short if not any(w != v and w.startswith(v) for v in short))
        self.by_line = by_line  # a match starts at the beginning of the line holding a word
        self.required = required  # a match holds this (may be "")
        self._automaton: Any = None
        if len(self.words) > _FEW_WORDS:  # many words: one pass over the text finds them all
            self._automaton = ahocorasick.Automaton()
            for word in self.words:
                self._automaton.add_word(word, len(word))
            self._automaton.make_automaton()

    @classmethod
    def of(cls, pattern: re.Pattern[str]) -> Entries | None:
        """What ``pattern`` shows of where its matches start; None when it shows nothing useful."""
        try:
            items = list(_parser.parse(pattern.pattern, pattern.flags))
        except Exception:  # a private module: if it changes, only the shortcut is lost
            return None
        required = _longest_required(items)
        if len(required) < _SHORTEST_WORD:
            required = ""
        # "^[ \t>]*word": the match starts at the beginning of the line that holds the word.
        multiline, dotall = bool(pattern.flags & re.MULTILINE), bool(pattern.flags & re.DOTALL)
        by_line = bool(items) and items[0] == (_sre.AT, _sre.AT_BEGINNING) and multiline
        words = _leading_words(items[1:] if by_line else items, by_line, dotall)
        if words is None or not all(_word_ok(w) for w in words):
            words = set()
        if not words and not required:
            return None
        return cls(words, by_line, required)

    def starts(
        self, lowered: str, pos: int, endpos: int, found: Iterable[int] | None = None
    ) -> list[int] | None:
        """Every place from ``pos`` where a match may start, in order; None for "anywhere".

        ``found``, where the caller has them, are the places where the words start in
        ``lowered`` from ``pos`` to ``endpos``, every one of them (a pass of the caller's own
        that found other things too); otherwise the words are looked for here.
        """
        if self.required and lowered.find(self.required, pos, endpos) == -1:
            return []
        if not self.words:
            return None
        places: set[int] = set()
        endpos = min(endpos, len(lowered))
        if found is not None:
            places.update(found)
        elif self._automaton is not None:
            places.update(end - length + 1 for end, length in self._automaton.iter(lowered, pos, endpos))
        else:
            for word in self.words:
                at = lowered.find(word, pos, endpos)
                while at != -1:
                    places.add(at)
                    at = lowered.find(word, at + 1, endpos)
        if len(places) * _SPARSE > endpos - pos:
            return None  # the words are everywhere: trying each place would cost more than a scan
        if self.by_line:
            places = {lowered.rfind("\n", 0, at) + 1 for at in places}
        return sorted(p for p in places if p >= pos)


def _after_line_break(folded: re.Pattern[str]) -> re.Pattern[str] | None:
    """For a pattern that starts with ``^`` in MULTILINE mode (the whole pattern, not one
    branch): the same pattern with ``\\n`` in place of the ``^``; else None."""
    if not folded.flags & re.MULTILINE or not folded.pattern.startswith("^"):
        return None
    try:
        items = list(_parser.parse(folded.pattern, folded.flags))
        if not items or items[0] != (_sre.AT, _sre.AT_BEGINNING):
            return None
        return re.compile("\\n" + folded.pattern[1:], folded.flags)
    except Exception:  # a private module: if it changes, only the shortcut is lost
        return None


class Caseless:
    """A case-insensitive pattern that scans lower-cased text case-sensitively where it can."""

    __slots__ = ("_entries", "_folded", "_hash", "_lines", "pattern")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern = re.compile(pattern, flags | re.IGNORECASE)
        self._hash = hash(self.pattern)  # a compiled pattern hashes all its code on every call
        folded = fold_pattern(pattern)
        try:
            self._folded = None if folded is None else re.compile(folded, flags & ~re.IGNORECASE)
        except re.error:
            self._folded = None
        self._entries = None if self._folded is None else Entries.of(self._folded)
        # A pattern anchored at line starts with no word every match holds: looked for as
        # "\n" and the rest, which ``re`` finds by jumping from line break to line break.
        self._lines = None
        if self._folded is not None and (self._entries is None or not self._entries.required):
            self._lines = _after_line_break(self._folded)

    @property
    def entry_words(self) -> tuple[str, ...]:
        """Words (lower case) one of which starts every match, when :meth:`search` looks for them
        to find where to try the pattern; () when it does not."""
        if self._lines is not None or self._entries is None:
            return ()
        return self._entries.words

    def search(
        self,
        text: str,
        pos: int = 0,
        endpos: int = sys.maxsize,
        lowered: str | None = None,
        found: Iterable[int] | None = None,
    ) -> re.Match[str] | None:
        """``self.pattern.search(text, pos, endpos)``, faster. ``lowered`` may pass
        ``text.lower()`` when the caller already has it; ``found``, every place in the whole of
        ``lowered`` where one of :attr:`entry_words` starts (used only when searching all of it)."""
        if self._folded is None or not foldable(text):
            return self.pattern.search(text, pos, endpos)
        lowered = text.lower() if lowered is None else lowered
        if min(endpos, len(lowered)) - pos <= _SHORT_TEXT:
            hit = self._folded.search(lowered, pos, endpos)
            start = None if hit is None else hit.start()
        elif self._lines is not None:
            start = self._first_line(self._folded, self._lines, lowered, pos, endpos)
        else:
            given = found if pos <= 0 and endpos >= len(lowered) else None  # only for the whole text
            starts = None if self._entries is None else self._entries.starts(lowered, pos, endpos, given)
            if starts is None:
                hit = self._folded.search(lowered, pos, endpos)
            else:
                hit = next((m for at in starts if (m := self._folded.match(lowered, at, endpos))), None)
            start = None if hit is None else hit.start()
        if start is None:
            return None
        # The same regex at the same place on the same letters: the same match, in the original case.
        return self.pattern.match(text, start, endpos) or self.pattern.search(text, pos, endpos)

    @staticmethod
    def _first_line(
        folded: re.Pattern[str], lines: re.Pattern[str], lowered: str, pos: int, endpos: int
    ) -> int | None:
        """Where ``folded`` (anchored at line starts) first matches from ``pos``: at ``pos`` itself
        when a line starts there, else just after the first line break where ``lines`` matches."""
        pos = min(max(pos, 0), len(lowered))  # as ``re`` takes them
        if (pos == 0 or lowered[pos - 1 : pos] == "\n") and folded.match(lowered, pos, endpos):
            return pos
        found = lines.search(lowered, pos, endpos)
        return None if found is None else found.start() + 1

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Caseless) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Caseless({self.pattern.pattern!r})"

    def match(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        """``self.pattern.match(text, pos, endpos)``: anchored, so nothing to gain from folding."""
        return self.pattern.match(text, pos, endpos)
