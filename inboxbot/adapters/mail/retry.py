"""How long the mail adapters wait before trying a server again."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("inboxbot.adapters.mail")


def exponential_backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, 4, 8, ... at most 60)."""
    return float(min(60, 2 ** max(attempt - 1, 0)))


def wait_or_give_up(
    *,
    name: str,
    what: str,
    reason: str,
    failures: int,
    retries: int,
    delay: float,
    sleep: Callable[[float], None],
    error: Callable[[str], Exception],
    cause: BaseException | None = None,
) -> None:
    """After a failed attempt: raise ``error`` when the retries are used up, else log and wait ``delay``."""
    if failures > retries:
        raise error(f"{name}: {what}: gave up after {failures} failed attempts ({reason})") from cause
    log.warning(
        "%s: %s: %s; retrying in %.1f s (attempt %d of %d)", name, what, reason, delay, failures, retries
    )
    sleep(delay)
