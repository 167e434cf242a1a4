"""The form rules match phrases in, and the texts the rules see."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from inboxbot.adapters.rulefiles import load_rules
from inboxbot.domain.caseless import Caseless
from inboxbot.domain.classify import ClassifySettings, classify
from inboxbot.domain.mailtext import parse
from inboxbot.domain.references import find_references
from inboxbot.domain.rules import Decision, Facts, PhraseIndex, RuleSet, _Texts, example_facts, normalise
from inboxbot.resources import rules_dir

_TEXT = st.text(
    st.sampled_from(
        ["A", "b", " ", "\n", "\t", "\u00a0", "\u2019", "\u201c", "\u0130", "\u212a", "\u2028", "é"]
    )
    | st.characters(),
    max_size=40,
)


def _first_normalise(text: str) -> str:
    """normalise as first written: lower-case, straighten quotes, then collapse whitespace."""
    text = (
        text.lower()
        .replace("\u2019", "'")
        .replace("\u2018", "'")
        .replace("\u201c", '"')
        .replace("\u201d", '"')
    )
    return " ".join(text.split())


@settings(max_examples=1000)
@given(_TEXT)
def test_normalise_collapsing_first_gives_the_same_text(text: str) -> None:
    assert normalise(text) == _first_normalise(text)


@settings(max_examples=300)
@given(_TEXT, _TEXT, _TEXT)
def test_the_texts_hold_each_field_as_the_rules_expect(subject: str, body: str, attachment: str) -> None:
    index = PhraseIndex(["a b", "k", "i", "é", "'"])
    texts = _Texts.of(Facts(subject=subject, body=body, attachment_text=attachment), index)
    fields = dict(texts.fields)
    assert fields["subject"] == texts.subject == index.present(normalise(subject))
    assert fields["body"] == index.present(normalise(body))
    assert fields["attachment"] == index.present(normalise(attachment))
    raw = "\n".join(" ".join(t.split()) for t in (subject, body, attachment))
    assert texts.raw_text == raw
    assert texts.raw_text_lower == raw.lower()


def _naive_present(phrases: list[str], text: str) -> frozenset[str]:
    """The phrases that occur in ``text`` as whole words, found one by one."""
    found = set()
    for phrase in phrases:
        at = text.find(phrase)
        while at != -1:
            end = at + len(phrase)
            before_ok = at == 0 or not text[at - 1].isalnum() or not phrase[0].isalnum()
            after_ok = end == len(text) or not text[end].isalnum() or not phrase[-1].isalnum()
            if before_ok and after_ok:
                found.add(phrase)
                break
            at = text.find(phrase, at + 1)
    return frozenset(found)


_PHRASES = ["a b", "k", "i", "é", "'", "b'a", "a"]


@settings(max_examples=500)
@given(st.lists(_TEXT, min_size=1, max_size=4))
def test_one_pass_over_the_fields_finds_what_a_search_of_each_field_finds(fields: list[str]) -> None:
    index = PhraseIndex(_PHRASES)
    found, places = index.scan([normalise(f) for f in fields])
    assert found == [_naive_present(_PHRASES, normalise(f)) for f in fields]
    assert places == []


# What rule texts are made of: the rules' own example sentences, whole and cut in two, and noise.
_RULES = load_rules(rules_dir())
_SENTENCES = sorted(
    {
        sentence
        for compiled in _RULES.rules
        for example in compiled.rule.example
        for sentence in re.split(r"(?<=[.?!\n]) ", example.body)
    }
)
_RULE_TEXT = st.lists(
    st.sampled_from(_SENTENCES)
    | st.sampled_from(_SENTENCES).flatmap(lambda s: st.sampled_from([s[: len(s) // 2], s[len(s) // 2 :]]))
    | st.sampled_from(["\n", " ", "\u2019", "PLEASE ", "Portal", "x"])
    | _TEXT,
    max_size=12,
).map("".join)


def test_the_rules_text_regexes_are_looked_for_in_the_phrases_pass() -> None:
    covered = set(_RULES.index.patterns)
    regexes = {rx for compiled in _RULES.rules for rx in compiled.text_regex if rx.entry_words}
    assert len(regexes) >= 3
    assert covered == regexes


@settings(max_examples=400)
@given(_RULE_TEXT, _RULE_TEXT, _RULE_TEXT)
def test_a_regex_given_its_places_by_the_pass_finds_what_the_plain_regex_finds(
    subject: str, body: str, attachment: str
) -> None:
    texts = _Texts.of(Facts(subject=subject, body=body, attachment_text=attachment), _RULES.index)
    for compiled in _RULES.rules:
        for rx in compiled.text_regex:
            ours, oracle = texts.search(rx), rx.pattern.search(texts.raw_text)
            assert (ours and (ours.span(), ours.group(0))) == (oracle and (oracle.span(), oracle.group(0)))


class _CurlyWords(Caseless):
    """A pattern whose words hold a curly quote (Caseless folds no such pattern today)."""

    @property
    def entry_words(self) -> tuple[str, ...]:
        return ("council\u2019s",)


def test_a_regex_with_a_curly_quote_in_its_words_looks_for_them_itself() -> None:
    # The pass reads straightened quotes: it would never find "council’s" there.
    curly, straight = _CurlyWords("council\u2019s (decision|view)"), Caseless("the (decision|view)")
    index = PhraseIndex(["decision"], [curly, straight])
    assert list(index.patterns) == [straight]


def _every_facts(rules: RuleSet) -> list[Facts]:
    """The facts of every corpus message (as classify makes them) and of every rule example."""
    seen: list[Facts] = []

    class Keeping(RuleSet):
        def decide(self, facts: Facts) -> Decision:
            seen.append(facts)
            return super().decide(facts)

    settings = ClassifySettings.build(Keeping(rules.rules, rules.index))
    for path in sorted((Path(__file__).parents[1] / "corpus").glob("*.eml")):
        classify(parse(path.read_bytes()), settings)
    for compiled in rules.rules:
        for example in compiled.rule.example:
            text = f"{example.subject}\n{example.body}"
            seen.append(example_facts(compiled.rule, example, bool(find_references(text, "body"))))
    return seen


def test_a_rule_the_quick_checks_rule_out_never_matches() -> None:
    rules = load_rules(rules_dir())
    every = _every_facts(rules)
    assert len(every) > 170  # 142 corpus messages, and the examples
    ruled_out = 0
    for facts in every:
        texts = _Texts.of(facts, rules.index)
        for compiled in rules.rules:
            if not compiled.could_match(texts):
                ruled_out += 1
                assert compiled.match(facts, texts) is None, (compiled.rule.id, facts.subject)
    assert ruled_out > len(every) * len(rules.rules) // 2  # the checks do rule most out
