"""The classify benchmark's ratio in instructions, which a shared machine cannot disturb.

``benchmarks/classify.py`` times CPU seconds, and on a machine shared with other
jobs its figures move by a third from run to run. This counts the instructions
the same work takes under valgrind's callgrind, which gives the same count for
the same code and input whatever else is running: the figure to compare two
versions of the code by. Each piece of work runs in a child process under
callgrind, once with nothing to do (loading Python and the rules) and once
with ``--rounds`` passes; the difference, per message, is the work's own cost.

    .venv/bin/python -m benchmarks.classify_instructions [--rounds N]

Needs valgrind (Debian's ``valgrind``); about four minutes.
"""

from __future__ import annotations

import argparse
import email
import os
import re
import shutil
import subprocess
import sys
from itertools import islice

from benchmarks.classify import CORPUS, TARGET_RATIO
from benchmarks.imap_backfill import generate
from inboxbot.adapters.rulefiles import load_rules
from inboxbot.domain.classify import ClassifySettings, classify
from inboxbot.domain.mailtext import parse
from inboxbot.resources import rules_dir

SETS = ("corpus", "generated")
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def messages(which: str) -> list[bytes]:
    """The corpus, or 300 of the backfill benchmark's generated messages."""
    if which == "corpus":
        return [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    return list(islice(generate(300, seed=1), 300))


def child(which: str, work: str, rounds: int) -> None:
    """Load everything, warm up, then do ``work`` ``rounds`` times (the part that is counted)."""
    rules = load_rules(rules_dir())
    settings = ClassifySettings.build(rules, authserv_ids=frozenset({"mx.northmere.gov.uk"}))
    raws = messages(which)
    for raw in raws:  # compiled regexes, holiday tables: as in benchmarks/classify.py
        classify(parse(raw), settings)
        email.message_from_bytes(raw)
    for _ in range(rounds):
        for raw in raws:
            if work == "parse":
                email.message_from_bytes(raw)
            elif work == "full":
                classify(parse(raw), settings)


def count(which: str, work: str, rounds: int) -> int:
    """Instructions of one child run under callgrind."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.classify_instructions",
        "--child",
        which,
        work,
        str(rounds),
    ]
    # A fixed hash seed: set and dict order, and so the set-up's instructions, are the same in
    # every child, and subtracting the idle run leaves only the work. With a random seed per
    # child the set-up's count moves from run to run, and the difference with it.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind gave no count: {done.stderr[-500:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description="Classification against parse-only, in instructions.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("SET", "WORK", "ROUNDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: apt-get install valgrind")
    for which in SETS:
        total = len(messages(which)) * args.rounds
        setup = count(which, "nothing", args.rounds)
        parse_only = (count(which, "parse", args.rounds) - setup) / total
        full = (count(which, "full", args.rounds) - setup) / total
        print(
            f"{which:<9}  parse only {parse_only / 1e6:5.2f} M instructions/msg, "
            f"parse + classify + extract {full / 1e6:5.2f} M, ratio {full / parse_only:.2f}x "
            f"(target <= {TARGET_RATIO:.1f}x)"
        )


if __name__ == "__main__":
    main()
