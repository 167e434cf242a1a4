"""Replies to the bot's own mail: a service area saying a task is done, RET naming a service area.

Pure: the subject, the newest text of the reply and its sender go in; what the
reply asks for comes out. Whether the sender may ask it is checked by the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TASK_TOKEN = re.compile(r"\[Task (T[A-Z0-9]{5})\]", re.IGNORECASE)
_CASE_REF = re.compile(r"\[Case ([^\]]+)\]", re.IGNORECASE)
_DONE = re.compile(r"^\s*(done|completed?|task (is )?(done|complete))\b[\s.!:,-]*", re.IGNORECASE)
_AREA = re.compile(r"^\s*area\s*:\s*(?P<area>[^\r\n]+?)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class TaskDone:
    """A reply saying the task with this token is done; ``note`` is the rest of the first line."""

    token: str
    note: str


@dataclass(frozen=True)
class AreaNamed:
    """A reply naming the service area of the case in its subject."""

    case_ref: str
    area: str


def read_reply(subject: str, newest: str) -> TaskDone | AreaNamed | None:
    """What a reply to the bot's mail asks for, or None when it is not such a reply."""
    first_line = next((line for line in newest.splitlines() if line.strip()), "")
    token = _TASK_TOKEN.search(subject)
    if token is not None:
        done = _DONE.match(first_line)
        if done is not None:
            return TaskDone(token.group(1).upper(), first_line[done.end() :].strip())
    case = _CASE_REF.search(subject)
    area = _AREA.search(newest[:2000])
    if case is not None and area is not None:
        return AreaNamed(case.group(1).strip(), area.group("area").strip())
    return None
