"""IMAP backfill speed and memory, against mbsync on the same mailbox in the same run.

Starts a private Dovecot, fills folders with 1,000, 5,000 and 10,000 generated
messages (2 KB to 200 KB, some with attachments), then for each folder times
``mbsync`` (Debian's isync, the reference for raw IMAP fetch speed) syncing it
to a local Maildir, and ``inboxbot ingest`` backfilling it into a fresh SQLite
database (store, classify, register and act). Prints both rates, the ratio,
inboxbot's peak RSS (the largest of its processes) and the cost per message.
The cost per message after inboxbot's fixed start (measured on an empty folder:
start-up, schema, connecting) should stay flat as the folder grows.

Targets: at least 50% of mbsync's rate, peak RSS under 200 MB.

    .venv/bin/python -m benchmarks.imap_backfill [--sizes 1000,5000,10000] [--workers N]

``--workers`` sets ``mailbox.classify_workers`` (default: one per CPU; 0 classifies
in the main process).

mbsync's own rate swings by a factor of three on a shared machine, so to compare two
versions of inboxbot, run them alternately on the same folders and compare medians:

    git worktree add /tmp/before <commit>
    .venv/bin/python -m benchmarks.imap_backfill --sizes 5000 --compare /tmp/before --rounds 3
"""

from __future__ import annotations

import argparse
import base64
import compileall
import os
import pwd
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.dovecot import DovecotServer, start_dovecot

CORPUS = Path(__file__).parents[1] / "tests" / "corpus"
TARGET_RATIO = 0.5
TARGET_RSS_MB = 200


def generate(count: int, seed: int) -> Iterator[bytes]:
    """Realistic messages: corpus bodies padded to a spread of sizes, one in ten with an attachment."""
    rng = random.Random(seed)
    bodies = [p.read_bytes().split(b"\n\n", 1)[-1] for p in sorted(CORPUS.glob("*.eml"))]
    for n in range(count):
        size = int(min(200_000, max(2_000, rng.lognormvariate(8.6, 1.0))))  # median ~5 KB, long tail
        body = rng.choice(bodies).decode("utf-8", "replace")
        padding = "\n".join(
            f"Case note {i}: the resident called about the repair." for i in range(size // 55)
        )
        text = f"{body}\n\n{padding}"[:size]
        boundary = f"b{n}"
        headers = (
            f"From: Intake Team <intake@lgo.org.uk>\r\nTo: ombudsman@northmere.gov.uk\r\n"
            f"Subject: Complaint {25 + n % 2:02d} {n % 1000:03d} {n % 997:03d} - case note {n}\r\n"
            f"Date: Mon, 2 Mar 2026 09:{n % 60:02d}:00 +0000\r\nMessage-ID: <bench-{seed}-{n}@lgo.org.uk>\r\n"
            "MIME-Version: 1.0\r\n"
        )
        if rng.random() < 0.1:
            blob = base64.encodebytes(rng.randbytes(min(size, 60_000))).decode()
            yield (
                f"{headers}Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n"
                f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
                f"--{boundary}\r\nContent-Type: application/octet-stream; name=evidence.bin\r\n"
                "Content-Disposition: attachment; filename=evidence.bin\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n"
                f"{blob}\r\n--{boundary}--\r\n"
            ).encode()
        else:
            yield f"{headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n".encode()


def fill_folder(server: DovecotServer, folder: str, count: int) -> int:
    """Write messages straight into the server's Maildir (far faster than APPEND); total bytes."""
    path = server.folder_path(folder)
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    (path / "maildirfolder").touch()
    total = 0
    for n, raw in enumerate(generate(count, seed=count)):
        (path / "cur" / f"{1_770_000_000 + n}.M{n}P1.bench:2,S").write_bytes(raw)
        total += len(raw)
    dovecot = pwd.getpwnam("dovecot")
    for root, dirs, files in os.walk(server.maildir_root()):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), dovecot.pw_uid, dovecot.pw_gid)
    os.chown(server.maildir_root(), dovecot.pw_uid, dovecot.pw_gid)
    return total


@dataclass
class Run:
    seconds: float
    max_rss_mb: float


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Wall time and the child's own peak RSS (from wait4, so nothing else is counted)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    out = child.stdout.read().decode() if child.stdout else ""
    err = child.stderr.read().decode() if child.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[0]} failed: {err.strip() or out.strip()}")
    return Run(seconds, usage.ru_maxrss / 1024)


def run_mbsync(server: DovecotServer, folder: str, work: Path) -> Run:
    local = work / "mbsync"
    local.mkdir()
    config = work / "mbsyncrc"
    config.write_text(
        f"IMAPAccount bench\nHost {server.host}\nPort {server.port}\n"
        f"User {server.user}\nPass {server.password}\n"
        "SSLType None\nAuthMechs LOGIN\n\nIMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        f"Channel pull\nFar :remote:{folder}\nNear :local:{folder}\nCreate Near\nSync Pull\nSyncState *\n"
    )
    return timed(["mbsync", "-q", "-c", str(config), "pull"])


def run_inboxbot(
    server: DovecotServer, folder: str, work: Path, workers: int | None, tree: Path | None = None
) -> Run:
    """``inboxbot ingest`` of the folder; ``tree``: the package from that source tree instead."""
    config = work / "inboxbot.toml"
    text = f'data_dir = "{work / "data"}"\n'
    if workers is not None:
        text += f"\n[mailbox]\nclassify_workers = {workers}\n"
    config.write_text(text)
    env = {**os.environ, "INBOXBOT_MAILBOX__PASSWORD": server.password}
    source = f"imap://{server.user}@{server.host}:{server.port}/{folder}?security=none"
    command = [str(Path(sys.executable).parent / "inboxbot")]
    if tree is not None:
        command = [sys.executable, "-m", "inboxbot"]
    return timed([*command, "--config", str(config), "ingest", "--source", source], *_running(tree, env))


def _running(tree: Path | None, env: dict[str, str]) -> tuple[dict[str, str], Path | None]:
    """The environment and working folder that make ``python -m inboxbot`` import the package of
    ``tree`` (None: this checkout's install). ``-m`` puts the working folder first on the path,
    ahead of PYTHONPATH: run from this checkout, it would import this checkout's package."""
    if tree is None:
        return env, None
    return {**env, "PYTHONPATH": str(tree)}, tree


def check_imports(tree: Path) -> None:
    """Stop unless a run of ``tree`` really imports the package in ``tree``; byte-compile it first,
    so that neither side pays for compiling its modules (PYTHONDONTWRITEBYTECODE may be set)."""
    compileall.compile_dir(tree / "inboxbot", quiet=1, workers=0)
    env, cwd = _running(tree, dict(os.environ))
    command = [sys.executable, "-c", "import inboxbot; print(inboxbot.__file__)"]
    found = Path(
        subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
    )
    if not found.is_relative_to(tree):
        raise SystemExit(f"--compare {tree}: its runs would import {found} instead")


def fixed_start(server: DovecotServer, workers: int | None) -> float:
    """What a run costs before its first message: start-up, schema, connecting, finding nothing."""
    fill_folder(server, "Empty", 0)
    runs = []
    for _ in range(3):
        with tempfile.TemporaryDirectory(prefix="inboxbot-bench-") as tmp:
            runs.append(run_inboxbot(server, "Empty", Path(tmp), workers).seconds)
    return statistics.median(runs)


def compare(server: DovecotServer, sizes: list[int], other: Path, rounds: int, workers: int | None) -> None:
    """This checkout against the one at ``other``, alternately, with mbsync in each round: medians."""
    print(f"{'messages':>9} {'mbsync msg/s':>13} {'other msg/s':>12} {'this msg/s':>11} {'this/other':>11}")
    for size in sizes:
        folder = f"Compare{size}"
        fill_folder(server, folder, size)
        rates: dict[str, list[float]] = {"mbsync": [], "other": [], "this": []}
        for _ in range(rounds):
            for name in rates:
                with tempfile.TemporaryDirectory(prefix="inboxbot-bench-") as tmp:
                    work = Path(tmp)
                    if name == "mbsync":
                        run = run_mbsync(server, folder, work)
                    else:
                        run = run_inboxbot(server, folder, work, workers, other if name == "other" else None)
                rates[name].append(size / run.seconds)
        mbsync, theirs, ours = (statistics.median(rates[name]) for name in ("mbsync", "other", "this"))
        print(f"{size:>9} {mbsync:>13.0f} {theirs:>12.0f} {ours:>11.0f} {ours / theirs:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description="IMAP backfill: inboxbot against mbsync.")
    parser.add_argument("--sizes", default="1000,5000,10000", help="comma-separated folder sizes")
    parser.add_argument("--workers", type=int, default=None, help="mailbox.classify_workers (default: CPUs)")
    parser.add_argument("--compare", type=Path, help="another source tree to run alternately with this one")
    parser.add_argument("--rounds", type=int, default=3, help="with --compare: runs of each (default 3)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.compare is not None:
        if not (args.compare / "inboxbot" / "__init__.py").is_file():
            parser.error(f"--compare {args.compare}: not a checkout of inboxbot (no inboxbot/__init__.py)")
        check_imports(args.compare.resolve())
    if shutil.which("mbsync") is None:
        raise SystemExit("mbsync not found: install Debian's isync (scripts/test does)")
    server = start_dovecot()
    try:
        if args.compare is not None:
            compare(server, sizes, args.compare.resolve(), args.rounds, args.workers)
            return
        workers = os.cpu_count() if args.workers is None else args.workers
        print(f"{os.cpu_count()} CPUs; inboxbot classifies in {workers} worker processes")
        start = fixed_start(server, args.workers)
        print(f"inboxbot's fixed start (an empty folder, median of 3 runs): {start:.2f} s")
        print(
            f"{'messages':>9} {'MB':>6} {'mbsync msg/s':>13} {'inboxbot msg/s':>15} {'ratio':>6} "
            f"{'ms/msg':>7} {'after start':>12} {'peak RSS MB':>12}"
        )
        for size in sizes:
            folder = f"Backfill{size}"
            megabytes = fill_folder(server, folder, size) / 1e6
            with tempfile.TemporaryDirectory(prefix="inboxbot-bench-") as tmp:
                work = Path(tmp)
                reference = run_mbsync(server, folder, work)
                ours = run_inboxbot(server, folder, work, args.workers)
            ratio = reference.seconds / ours.seconds
            print(
                f"{size:>9} {megabytes:>6.0f} {size / reference.seconds:>13.0f} {size / ours.seconds:>15.0f} "
                f"{ratio:>6.2f} {ours.seconds / size * 1000:>7.2f} "
                f"{(ours.seconds - start) / size * 1000:>12.2f} {ours.max_rss_mb:>12.0f}"
            )
        print(
            f"targets: ratio >= {TARGET_RATIO} of mbsync's rate, peak RSS < {TARGET_RSS_MB} MB, "
            "cost linear in the messages (ms/msg after the fixed start flat)"
        )
    finally:
        server.close()


if __name__ == "__main__":
    main()
