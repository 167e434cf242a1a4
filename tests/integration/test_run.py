"""``inboxbot run`` as real processes: one worker at a time, a standby that takes over, a clean stop,
and the spreadsheet rewritten as soon as mail is taken in."""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from inboxbot.resources import demo_mailbox
from tests.support.databases import database_url_for, postgres_schema

INBOXBOT = str(Path(sys.executable).parent / "inboxbot")


class Service:
    """An ``inboxbot run`` child process whose output lines can be waited for."""

    def __init__(self, env: dict[str, str], cwd: Path, *, tick_seconds: int = 5) -> None:
        self.process = subprocess.Popen(
            [INBOXBOT, "run", "--tick-seconds", str(tick_seconds), "--standby-seconds", "1"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, seconds: float = 30.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if text in self.lines.get(timeout=0.2):
                    return True
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    return False
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def environment(tmp_path: Path, database_url: str | None = None, extra: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOXBOT_")}
    config = tmp_path / "inboxbot.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n{extra}')
    env["INBOXBOT_CONFIG"] = str(config)
    if database_url:
        env["INBOXBOT_DATABASE_URL"] = database_url
    return env


def test_sqlite_second_instance_refuses_and_sigterm_stops_within_seconds(
    tmp_path: Path, services: list[Service]
) -> None:
    env = environment(tmp_path)
    first = Service(env, tmp_path)
    services.append(first)
    assert first.wait_for("working"), "the first instance did not start"
    second = subprocess.run(
        [INBOXBOT, "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 1
    assert "another inboxbot is already running" in second.stderr
    started = time.monotonic()
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=20) == 0
    assert time.monotonic() - started < 15


def test_postgres_standby_takes_over_when_the_worker_dies(tmp_path: Path, services: list[Service]) -> None:
    with postgres_schema() as url:
        env = environment(tmp_path, url)
        first = Service(env, tmp_path)
        services.append(first)
        assert first.wait_for("working"), "the first instance did not start"
        second = Service(env, tmp_path)
        services.append(second)
        assert second.wait_for("standby"), "the second instance did not wait as a standby"
        first.process.kill()  # SIGKILL: no chance to let go of the lock politely
        first.process.wait(timeout=10)
        started = time.monotonic()
        assert second.wait_for("working", seconds=60), "the standby never took over"
        assert time.monotonic() - started < 60
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=20) == 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_mail_taken_in_rewrites_the_spreadsheet_before_the_next_tick(
    tmp_path: Path, services: list[Service], backend: str
) -> None:
    mailbox = tmp_path / "mailbox"
    for folder in ("cur", "new", "tmp"):
        (mailbox / folder).mkdir(parents=True)
    spreadsheet = tmp_path / "shared" / "ombudsman-cases.xlsx"
    extra = (
        f'[mailbox]\nsource = "maildir:{mailbox}"\npoll_seconds = 5\n'
        f'[reports]\nsend = false\nspreadsheet = "{spreadsheet}"\n'
    )
    with database_url_for(backend, tmp_path) as url:
        env = environment(tmp_path, url, extra)
        service = Service(env, tmp_path, tick_seconds=300)  # no tick, and no timed check, during the test
        services.append(service)
        assert service.wait_for("spreadsheet: rewritten"), "the spreadsheet was not written on start"
        written = spreadsheet.stat().st_mtime_ns
        message = next((demo_mailbox() / "cur").iterdir())
        shutil.copy(message, mailbox / "new" / message.name.split(":")[0])
        assert service.wait_for("spreadsheet: rewritten", seconds=30), "mail came in; the spreadsheet stayed"
        assert spreadsheet.stat().st_mtime_ns != written
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=20) == 0
