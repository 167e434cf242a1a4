"""How long the mail adapters wait before trying a server again."""

from __future__ import annotations


def exponential_backoff(attempt: int) -> float:
    """Seconds to wait before retry ``attempt`` (1, 2, 4, 8, ... at most 60)."""
    return float(min(60, 2 ** max(attempt - 1, 0)))
