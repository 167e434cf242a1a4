"""Which messages a person in the Resident Experience Team must look at."""

from __future__ import annotations

from inboxbot.domain.kinds import MessageKind

# Mail that asks nothing of the council whoever sent it (an auto-reply, a newsletter, an
# allocation notice): not worth a person's triage even from an unverified sender.
HARMLESS = frozenset({MessageKind.AUTO_REPLY, MessageKind.OTHER, MessageKind.CASE_UPDATE})


def needs_a_person(kind: MessageKind | None, trusted: bool | None, quarantined: bool) -> bool:
    """True for mail the bot must not act on by itself: it could not be read, its kind
    is unknown, or it is about a case but its sender could not be verified."""
    if quarantined or kind is None or kind is MessageKind.UNKNOWN:
        return True
    return not trusted and kind not in HARMLESS
