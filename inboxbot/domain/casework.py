"""Pure decisions about cases: which messages may open one, and which service area a case is for."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from inboxbot.domain.kinds import MessageKind
from inboxbot.domain.rules import normalise

# Kinds that show the Ombudsman has a case with the council: a trusted one may open a case
# the council has not seen yet (a chaser for a notification that went astray, say).
OPENS_A_CASE = frozenset(
    {
        MessageKind.NOTIFICATION,
        MessageKind.INFORMATION_REQUEST,
        MessageKind.DRAFT_DECISION,
        MessageKind.FINAL_DECISION,
        MessageKind.PUBLIC_REPORT,
        MessageKind.CHASER_FIRST,
        MessageKind.CHASER_FINAL,
        MessageKind.PORTAL_MESSAGE,
    }
)


def may_open_case(kind: MessageKind, trusted: bool, ombudsman_ref: str | None) -> bool:
    """Only a verified Ombudsman message about a named case may open one; anything else can
    only be linked to a case that already exists."""
    return trusted and ombudsman_ref is not None and kind in OPENS_A_CASE


def guess_service_area(text: str, keywords: Mapping[str, Sequence[str]]) -> tuple[str | None, str]:
    """The service area whose keywords the text mentions most, and why; None when no area
    wins outright (a person then assigns the case)."""
    haystack = normalise(text)
    scores: dict[str, list[str]] = {}
    for area, words in keywords.items():
        hits = [
            w for w in words if w.strip() and re.search(rf"(?<!\w){re.escape(normalise(w))}(?!\w)", haystack)
        ]
        if hits:
            scores[area] = hits
    if not scores:
        return None, "no service area keyword found"
    ranked = sorted(scores.items(), key=lambda item: -len(item[1]))
    if len(ranked) > 1 and len(ranked[0][1]) == len(ranked[1][1]):
        tied = ", ".join(area for area, hits in ranked if len(hits) == len(ranked[0][1]))
        return None, f"keywords point to more than one service area ({tied})"
    area, hits = ranked[0]
    return area, "keywords " + ", ".join(f'"{h}"' for h in hits)
