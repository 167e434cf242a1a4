"""How find_deadlines copes with large hostile text: does its time grow with the text, or faster?

Each shape repeats a phrase that sets off one of the tests a period goes through (the
past tense, a law, someone's right, a list under "The council agreed to:", a decision's
law section) thousands of times. Each is read at a quarter of the size and at the full
size, in the same run: four times the text should take about four times as long. A test
that rereads the text for every period takes sixteen times as long, and shows here
before it shows as a hang in production.

    .venv/bin/python -m benchmarks.deadlines_hostile [--size MB]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

from inboxbot.domain.calendar import WorkingCalendar
from inboxbot.domain.deadlines import find_deadlines

# Each shape has "{n}" for a count, so that every repeat is a distinct period.
SHAPES = {
    "past tense": "was was had never within {n} weeks, ",
    "someone's right": "she could " * 40 + "within {n} working days, ",
    "the law": "under the act " * 30 + "within {n} weeks, ",
    "policy says": "The policy says policy, which says, says the code requires within {n} working days and ",
    "earlier dates": "On 2 March 2026 on 3 March 2026 we asked within {n} working days, ",
    "law sections": "Law and guidance\nThe panel should send it within {n} working days.\n",
    "agreed list": "The council agreed to:\n" + "• within {n} weeks, do it;\n" * 20,
    "counted from": "within {n} weeks of a request of the ",
}
# Four times the text: about 4x the time when the work is linear, 16x when it is quadratic.
LIMIT = 6.0


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def hostile(shape: str, megabytes: float) -> str:
    """``shape`` repeated to ``megabytes`` of text, each repeat with its own count."""
    pieces: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        piece = shape.format(n=len(pieces) % 60 + 1)
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces)


def main() -> None:
    parser = argparse.ArgumentParser(description="find_deadlines on large hostile text.")
    parser.add_argument("--size", type=float, default=1.0, help="megabytes of text per shape")
    args = parser.parse_args()
    calendar = WorkingCalendar.build()
    letter, received = date(2026, 3, 9), datetime(2026, 3, 9, 10, tzinfo=UTC)

    def seconds(text: str) -> float:
        return min(
            timed(
                lambda: find_deadlines(
                    text, letter_date=letter, received=received, calendar=calendar, is_decision=False
                )
            )
            for _ in range(2)
        )

    worst = 0.0
    print(f"{'shape':<18} {'MB':>5} {'s/MB':>7} {'4x the text takes':>18}")
    for name, shape in SHAPES.items():
        small, large = hostile(shape, args.size / 4), hostile(shape, args.size)
        small_seconds, large_seconds = seconds(small), seconds(large)
        growth = large_seconds / small_seconds * len(small) / len(large) * 4
        worst = max(worst, growth)
        size = len(large) / 1e6
        print(f"{name:<18} {size:5.2f} {large_seconds / size:7.3f} {growth:17.1f}x")
    verdict = "linear" if worst <= LIMIT else "NOT linear: a test rereads the text for each period"
    print(f"worst growth {worst:.1f}x for 4x the text (limit {LIMIT:.0f}x): {verdict}")


if __name__ == "__main__":
    main()
