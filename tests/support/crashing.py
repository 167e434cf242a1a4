"""Worker tasks that die, for testing what a backfill does when a classifying process is lost.

They are top-level functions of an importable module, so a worker process can be told to run them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from inboxbot.service.classify_pool import judge_all
from inboxbot.service.classifying import Judged

# A message carrying this header kills the worker process that classifies it.
KILLER_HEADER = b"X-Kill-The-Worker: yes"


def judge_or_die(items: Sequence[tuple[bytes, datetime | None]]) -> list[Judged]:
    """Like judge_all, but the whole process dies on a message carrying KILLER_HEADER."""
    if any(KILLER_HEADER in raw for raw, _ in items):
        os._exit(3)  # as a segfault or the OOM killer would: no exception, no clean-up
    return judge_all(items)


def always_die(items: Sequence[tuple[bytes, datetime | None]]) -> list[Judged]:
    """A worker that can never classify anything."""
    os._exit(3)
