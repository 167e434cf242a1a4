"""The form rules match phrases in, and the texts the rules see."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inboxbot.domain.rules import Facts, PhraseIndex, _Texts, normalise

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
