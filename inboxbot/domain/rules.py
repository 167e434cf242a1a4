"""Classification rules as data, and the engine that runs them.

A rule is a named, explainable unit (after Mailman's rules): an id, a one-line
description, the kind it gives, a priority, its conditions and examples that
double as tests. All conditions a rule states must hold. The highest priority
match decides; two matches of different kinds at the same top priority are a
conflict and the message is ``unknown`` -- never a guess. Every other match is
kept so the decision can be explained.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal, NamedTuple

import ahocorasick
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inboxbot.domain.caseless import Caseless
from inboxbot.domain.kinds import MessageKind, Ombudsman

# "generated": sent by a system, not in reply to anything (RFC 3834 auto-generated): a portal
# notification, read for what it says, and never answered.
AutomaticKind = Literal["auto_reply", "bounce", "read_receipt", "list", "generated"]


class RuleError(ValueError):
    """A rule file that cannot be used; says which file, which rule and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Conditions(_Strict):
    """What must be true of a message for a rule to fire. Phrases are case-insensitive."""

    subject: tuple[str, ...] = ()  # any of these phrases in the subject
    text: tuple[str, ...] = ()  # any of these in the subject, newest text, forwarded text or PDF text
    all_text: tuple[str, ...] = ()  # every one of these somewhere in that text
    not_text: tuple[str, ...] = ()  # none of these anywhere in that text
    subject_regex: tuple[str, ...] = ()
    text_regex: tuple[str, ...] = ()
    attachment: tuple[str, ...] = ()  # any of these in an attachment's file name
    header: dict[str, str] = Field(default_factory=dict)  # header name -> regex its value must match
    ombudsman: Literal["lgsco", "hos", "any", "none"] | None = None
    automatic: tuple[AutomaticKind, ...] = ()
    has_reference: bool | None = None
    sender_domain: tuple[str, ...] = ()

    @field_validator("subject_regex", "text_regex")
    @classmethod
    def _regexes_compile(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {value!r}: {exc}") from exc
        return values

    @field_validator("header")
    @classmethod
    def _header_regexes_compile(cls, values: dict[str, str]) -> dict[str, str]:
        cls._regexes_compile(tuple(values.values()))
        return values

    @model_validator(mode="after")
    def _says_something(self) -> Conditions:
        positive = (
            self.subject,
            self.text,
            self.all_text,
            self.subject_regex,
            self.text_regex,
            self.attachment,
            self.header,
            self.automatic,
            self.sender_domain,
        )
        if not any(positive) and self.has_reference is None and self.ombudsman is None:
            raise ValueError("a rule needs at least one condition")
        return self


class Example(_Strict):
    """A message snippet and the kind the whole rule set must give it."""

    subject: str = ""
    body: str = ""
    kind: MessageKind
    ombudsman: Literal["lgsco", "hos", "none"] | None = None  # default: the rule's, else lgsco
    automatic: AutomaticKind | None = None
    attachment: tuple[str, ...] = ()
    headers: dict[str, str] = Field(default_factory=dict)
    has_reference: bool | None = None  # default: whether the subject or body holds one


class Rule(_Strict):
    """One named classification rule."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = Field(min_length=1)
    kind: MessageKind
    priority: int = Field(ge=0, le=1000)
    when: Conditions
    example: tuple[Example, ...] = Field(min_length=1)


class RuleFile(_Strict):
    """The contents of one rules/*.toml file."""

    rule: tuple[Rule, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Evidence:
    """What made a rule fire: the phrase, regex or header, and where it was found."""

    where: str  # subject, body, attachment, header X, ...
    what: str

    def __str__(self) -> str:
        return f"{self.what} ({self.where})"


@dataclass(frozen=True)
class Facts:
    """What the rules can see of a message."""

    subject: str
    body: str  # newest text and forwarded parts
    attachment_names: Sequence[str] = ()
    attachment_text: str = ""
    headers: Mapping[str, Sequence[str]] = field(default_factory=dict)  # lower-case names
    ombudsman: Ombudsman | None = None
    automatic: str | None = None
    has_reference: bool = False
    sender_domain: str = ""


def normalise(text: str) -> str:
    """Lower case, straight quotes, single spaces: the form phrases are matched in."""
    return _straight_quotes(" ".join(text.split()).lower())


# Each curly quote and the straight one phrases are matched with.
_STRAIGHT_QUOTES = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}


def _straight_quotes(text: str) -> str:
    if text.isascii():
        return text
    for curly, straight in _STRAIGHT_QUOTES.items():
        text = text.replace(curly, straight)
    return text


class _Key(NamedTuple):
    """A key of the phrase index's automaton, with what the pass needs to know of it."""

    text: str
    length: int
    patterns: tuple[int, ...]  # the numbers of the patterns it starts
    phrase: bool
    word_start: bool  # it starts with a letter or digit
    word_end: bool  # it ends with one


class PhraseIndex:
    """Every phrase of every rule in one Aho-Corasick automaton.

    One pass over a text finds all the phrases in it, however many rules there
    are, instead of one search per phrase per rule (the cost that dominated
    classification before). The same pass finds where the rules' text regexes
    can start (:attr:`Caseless.entry_words`), which each regex would otherwise
    look for in a pass of its own over the same text.
    """

    def __init__(self, phrases: Iterable[str], patterns: Iterable[Caseless] = ()) -> None:
        self._phrases = frozenset(phrases)
        # Which patterns each word starts: a pattern is covered when the pass sees all its words.
        # The pass reads straight quotes, so a pattern with a curly quote in a word is not.
        self.patterns: dict[Caseless, int] = {}
        self._starts: dict[str, list[int]] = {}
        for pattern in dict.fromkeys(patterns):
            words = pattern.entry_words
            if words and not any(c in _STRAIGHT_QUOTES for word in words for c in word):
                number = self.patterns.setdefault(pattern, len(self.patterns))
                for word in words:
                    self._starts.setdefault(word, []).append(number)
        self._automaton = ahocorasick.Automaton()
        for key in self._phrases | self._starts.keys():
            # What the pass needs of each key, worked out once: its length, the patterns it
            # starts, and for a phrase whether a letter or digit at either edge must not touch
            # another (a phrase is found as whole words).
            self._automaton.add_word(
                key,
                _Key(
                    key,
                    len(key),
                    tuple(self._starts.get(key, ())),
                    key in self._phrases,
                    key[0].isalnum(),
                    key[-1].isalnum(),
                ),
            )
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

    def present(self, text: str) -> frozenset[str]:
        """The phrases found in ``text`` as whole words."""
        return self.scan((text,))[0][0]

    def scan(self, fields: Sequence[str]) -> tuple[list[frozenset[str]], list[list[int]]]:
        """One pass over ``fields`` joined by line breaks: the phrases found in each field as
        whole words, and for each covered pattern (by its number in :attr:`patterns`) every
        place in the joined text where one of its words starts."""
        found: list[set[str]] = [set() for _ in fields]
        places: list[list[int]] = [[] for _ in self.patterns]
        text = "\n".join(fields)
        if not self._empty and text:
            # Where each field ends in the joined text, to tell which field a phrase is in. The
            # line breaks between fields are not letters, so a phrase at a field's edge is still
            # a whole word, and no phrase spans two fields (phrases hold no line breaks).
            ends = list(accumulate(len(f) + 1 for f in fields))
            last = len(text) - 1
            for end, (key, length, numbers, phrase, word_start, word_end) in self._automaton.iter(text):
                start = end - length + 1
                for number in numbers:
                    places[number].append(start)
                if phrase and (
                    (start == 0 or not word_start or not text[start - 1].isalnum())
                    and (end == last or not word_end or not text[end + 1].isalnum())
                ):
                    found[bisect_right(ends, start)].add(key)
        return [frozenset(f) for f in found], places


@dataclass(frozen=True)
class _Texts:
    """What one message's fields contain, worked out once and shared by every rule."""

    fields: tuple[tuple[str, frozenset[str]], ...]  # (where, phrases present) for the "text" conditions
    anywhere: frozenset[str]  # every phrase present in any of those fields
    subject: frozenset[str]
    attachments: frozenset[str]
    raw_subject: str
    raw_text: str
    raw_text_lower: str  # raw_text.lower(), for the rules' regexes to share
    index: PhraseIndex
    places: list[list[int]]  # for each pattern the index covers, where it may start in raw_text

    @classmethod
    def of(cls, facts: Facts, index: PhraseIndex) -> _Texts:
        # Regexes see each field with its whitespace collapsed, so a phrase broken across lines
        # still matches; phrases see the same, lower-cased with straight quotes (normalise).
        # Straightening quotes keeps every character in its place, so one pass over the
        # straightened text serves both.
        collapsed = [" ".join(t.split()) for t in (facts.subject, facts.body, facts.attachment_text)]
        lowered = [text.lower() for text in collapsed]
        (subject, body, attachment), places = index.scan([_straight_quotes(text) for text in lowered])
        fields = (("subject", subject), ("body", body), ("attachment", attachment))
        names = facts.attachment_names
        attachments = index.present(normalise(" | ".join(names))) if names else frozenset()
        anywhere = frozenset().union(subject, body, attachment)
        raw_text, raw_text_lower = "\n".join(collapsed), "\n".join(lowered)
        return cls(
            fields, anywhere, subject, attachments, facts.subject, raw_text, raw_text_lower, index, places
        )

    def search(self, pattern: Caseless) -> re.Match[str] | None:
        """``pattern`` searched in the text fields (joined by line breaks)."""
        number = self.index.patterns.get(pattern)
        found = None if number is None else self.places[number]
        return pattern.search(self.raw_text, lowered=self.raw_text_lower, found=found)

    def find_any(self, phrases: Iterable[str]) -> Evidence | None:
        for where, present in self.fields:
            if present:
                for phrase in phrases:
                    if phrase in present:
                        return Evidence(where, f'"{phrase}"')
        return None


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its phrases normalised and regexes compiled, ready to run."""

    rule: Rule
    subject: tuple[str, ...]
    text: tuple[str, ...]
    all_text: tuple[str, ...]
    not_text: tuple[str, ...]
    attachment: tuple[str, ...]
    subject_regex: tuple[Caseless, ...]
    text_regex: tuple[Caseless, ...]
    header: tuple[tuple[str, re.Pattern[str]], ...]
    source: str  # the file it came from
    # The phrase conditions as sets, so most rules are ruled out by one set operation each.
    subject_set: frozenset[str] = frozenset()
    text_set: frozenset[str] = frozenset()
    all_text_set: frozenset[str] = frozenset()
    attachment_set: frozenset[str] = frozenset()

    @classmethod
    def of(cls, rule: Rule, source: str) -> CompiledRule:
        when = rule.when

        def phrases(values: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(normalise(v) for v in values if v.strip())

        def regexes(values: Iterable[str]) -> tuple[Caseless, ...]:
            # Any-of: one combined pattern is one scan of the text instead of one per regex.
            values = list(values)
            if not values:
                return ()
            return (Caseless("|".join(f"(?:{v})" for v in values), re.MULTILINE),)

        subject, text, all_text, attachment = (
            phrases(values) for values in (when.subject, when.text, when.all_text, when.attachment)
        )
        return cls(
            rule=rule,
            subject=subject,
            text=text,
            all_text=all_text,
            not_text=phrases(when.not_text),
            attachment=attachment,
            subject_regex=regexes(when.subject_regex),
            text_regex=regexes(when.text_regex),
            header=tuple((name.lower(), re.compile(rx, re.IGNORECASE)) for name, rx in when.header.items()),
            source=source,
            subject_set=frozenset(subject),
            text_set=frozenset(text),
            all_text_set=frozenset(all_text),
            attachment_set=frozenset(attachment),
        )

    def could_match(self, texts: _Texts) -> bool:
        """False when a phrase condition cannot hold; every condition is needed, so such a rule
        cannot match whatever else is true."""
        return not (
            (self.subject_set and self.subject_set.isdisjoint(texts.subject))
            or (self.text_set and self.text_set.isdisjoint(texts.anywhere))
            or (self.attachment_set and self.attachment_set.isdisjoint(texts.attachments))
            or (self.all_text_set and not self.all_text_set <= texts.anywhere)
        )

    def match(self, facts: Facts, texts: _Texts) -> tuple[Evidence, ...] | None:
        """The evidence when every condition holds, else None. Cheap checks first."""
        when = self.rule.when
        evidence: list[Evidence] = []
        if when.automatic:
            if facts.automatic not in when.automatic:
                return None
            evidence.append(Evidence("headers", f"automatic mail: {facts.automatic}"))
        if when.ombudsman is not None and not _ombudsman_ok(when.ombudsman, facts.ombudsman):
            return None
        if when.has_reference is not None and when.has_reference != facts.has_reference:
            return None
        if when.sender_domain:
            domain = facts.sender_domain
            hit = next((d for d in when.sender_domain if domain == d or domain.endswith("." + d)), None)
            if hit is None:
                return None
            evidence.append(Evidence("sender", f"domain {domain}"))
        for name, pattern in self.header:
            values = facts.headers.get(name, ())
            value = next((v for v in values if pattern.search(v)), None)
            if value is None:
                return None
            evidence.append(Evidence(f"header {name}", value[:80]))
        if self.subject:
            hit = next((p for p in self.subject if p in texts.subject), None)
            if hit is None:
                return None
            evidence.append(Evidence("subject", f'"{hit}"'))
        if self.subject_regex:
            found = next((m for rx in self.subject_regex if (m := rx.search(texts.raw_subject))), None)
            if found is None:
                return None
            evidence.append(Evidence("subject", f'"{found.group(0)}"'))
        if self.attachment:
            hit = next((p for p in self.attachment if p in texts.attachments), None)
            if hit is None:
                return None
            evidence.append(Evidence("attachment name", f'"{hit}"'))
        if self.text:
            found_text = texts.find_any(self.text)
            if found_text is None:
                return None
            evidence.append(found_text)
        for phrase in self.all_text:
            found_text = texts.find_any((phrase,))
            if found_text is None:
                return None
            evidence.append(found_text)
        if self.text_regex:
            found = next((m for rx in self.text_regex if (m := texts.search(rx))), None)
            if found is None:
                return None
            evidence.append(Evidence("text", f'"{" ".join(found.group(0).split())[:80]}"'))
        if self.not_text and texts.find_any(self.not_text) is not None:
            return None
        return tuple(evidence)


def _ombudsman_ok(wanted: str, actual: Ombudsman | None) -> bool:
    if wanted == "any":
        return actual is not None
    if wanted == "none":
        return actual is None
    return actual is not None and actual.value == wanted


@dataclass(frozen=True)
class RuleMatch:
    """A rule that fired, with its evidence."""

    rule_id: str
    kind: MessageKind
    priority: int
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Decision:
    """The kind the rules gave, the rule that decided, and every other rule that fired."""

    kind: MessageKind
    rule_id: str | None
    evidence: tuple[Evidence, ...]
    matches: tuple[RuleMatch, ...]
    conflict: str | None = None

    def explain(self) -> str:
        """One line on why: the rule and its evidence, or what was missing."""
        if self.conflict:
            return self.conflict
        if self.rule_id is None:
            return "no rule matched"
        return f"{self.rule_id}: " + "; ".join(str(e) for e in self.evidence)


@dataclass(frozen=True)
class RuleSet:
    """Every rule, highest priority first."""

    rules: tuple[CompiledRule, ...]
    index: PhraseIndex = field(compare=False, repr=False)

    @classmethod
    def from_documents(cls, documents: Iterable[tuple[str, Mapping[str, Any]]]) -> RuleSet:
        """Build from (file name, parsed TOML) pairs; RuleError names file, rule and problem."""
        compiled: list[CompiledRule] = []
        seen: dict[str, str] = {}
        for source, data in documents:
            try:
                parsed = RuleFile.model_validate(data)
            except ValidationError as exc:
                raise RuleError(_rule_error(source, data, exc)) from None
            for rule in parsed.rule:
                if rule.id in seen:
                    raise RuleError(f"{source}: rule {rule.id}: id already used in {seen[rule.id]}")
                seen[rule.id] = source
                compiled.append(CompiledRule.of(rule, source))
        compiled.sort(key=lambda c: (-c.rule.priority, c.rule.id))
        phrases = [
            phrase
            for c in compiled
            for phrase in (*c.subject, *c.text, *c.all_text, *c.not_text, *c.attachment)
        ]
        patterns = [rx for c in compiled for rx in c.text_regex]
        return cls(tuple(compiled), PhraseIndex(phrases, patterns))

    def decide(self, facts: Facts) -> Decision:
        """Run every rule on ``facts`` and settle on one kind."""
        texts = _Texts.of(facts, self.index)
        matches = []
        for compiled in self.rules:
            evidence = compiled.match(facts, texts) if compiled.could_match(texts) else None
            if evidence is not None:
                rule = compiled.rule
                matches.append(RuleMatch(rule.id, rule.kind, rule.priority, evidence))
        if not matches:
            return Decision(MessageKind.UNKNOWN, None, (), ())
        top = matches[0]
        rivals = [m for m in matches if m.priority == top.priority and m.kind != top.kind]
        if rivals:
            names = ", ".join(f"{m.rule_id} ({m.kind})" for m in [top, *rivals])
            conflict = f"conflict at priority {top.priority}: {names}"
            return Decision(MessageKind.UNKNOWN, None, (), tuple(matches), conflict)
        return Decision(top.kind, top.rule_id, top.evidence, tuple(matches))


def _rule_error(source: str, data: Mapping[str, Any], exc: ValidationError) -> str:
    problems = []
    rules = data.get("rule") if isinstance(data, Mapping) else None
    for error in exc.errors():
        loc = list(error["loc"])
        rule_id = "?"
        if len(loc) >= 2 and loc[0] == "rule" and isinstance(loc[1], int) and isinstance(rules, list):
            entry = rules[loc[1]] if loc[1] < len(rules) else None
            rule_id = str(entry.get("id", f"#{loc[1] + 1}")) if isinstance(entry, dict) else f"#{loc[1] + 1}"
            loc = loc[2:]
        where = ".".join(str(p) for p in loc) or "(rule)"
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        problems.append(f"{source}: rule {rule_id}: {where}: {message}")
    return "\n".join(problems)


@dataclass(frozen=True)
class ExampleResult:
    """One rule example run through the whole rule set."""

    source: str
    rule_id: str
    example: Example
    decision: Decision

    @property
    def passed(self) -> bool:
        """True when the rule set gave the kind the example expects."""
        return self.decision.kind == self.example.kind


def example_facts(rule: Rule, example: Example, has_reference: bool) -> Facts:
    """The facts an example stands for; the ombudsman defaults to the rule's own."""
    wanted = example.ombudsman or (
        rule.when.ombudsman if rule.when.ombudsman in ("lgsco", "hos", "none") else "lgsco"
    )
    return Facts(
        subject=example.subject,
        body=example.body,
        attachment_names=example.attachment,
        headers={name.lower(): (value,) for name, value in example.headers.items()},
        ombudsman=None if wanted == "none" else Ombudsman(wanted),
        automatic=example.automatic,
        has_reference=has_reference if example.has_reference is None else example.has_reference,
    )


def run_examples(rules: RuleSet, has_reference: Callable[[str], bool]) -> list[ExampleResult]:
    """Run every rule's examples through the whole rule set.

    ``has_reference`` tells whether a text holds a case reference (the
    references module, passed in to keep this module free of it).
    """
    results = []
    for compiled in rules.rules:
        rule = compiled.rule
        for example in rule.example:
            facts = example_facts(rule, example, has_reference(f"{example.subject}\n{example.body}"))
            results.append(ExampleResult(compiled.source, rule.id, example, rules.decide(facts)))
    return results
