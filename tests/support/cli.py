"""Running the ``inboxbot`` command in-process, as a user would call it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from inboxbot.entrypoints.cli import main


@dataclass
class Result:
    """Exit code and output of one command."""

    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """Run ``inboxbot ARGS...`` and return what it printed and its exit code."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
