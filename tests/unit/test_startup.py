"""Every command starts by importing the CLI; the heavy libraries wait until a command needs them.

The classifying workers start with even less: multiprocessing runs the main script
again in each of them, so the script imports nothing of the command line until
it is run as a command, and the workers' own module imports no database code.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path

import pytest

# Imported by the commands that use them: the Microsoft 365 adapters (httpx), calendar invites
# (icalendar) and the service's scheduler (APScheduler) add a tenth of a second to every start.
HEAVY = ("exchangelib", "matplotlib", "openpyxl", "alembic", "numpy", "httpx", "icalendar", "apscheduler")


def loaded_by(module: str, prefixes: Iterable[str]) -> list[str]:
    """The modules named with one of ``prefixes`` that a fresh interpreter holds after importing
    ``module``."""
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({tuple(prefixes)!r}))))"
    )
    result: list[str] = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    )
    return result


def test_the_cli_starts_without_the_heavy_libraries() -> None:
    loaded = loaded_by("inboxbot.entrypoints.cli", HEAVY)
    assert loaded == [], f"imported at start-up: {loaded}"


def test_the_inboxbot_script_is_the_launcher() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "inboxbot"]
    assert script.value == "inboxbot.entrypoints.launcher:main"


def test_the_launcher_imports_nothing_of_the_command_line_until_it_runs() -> None:
    loaded = loaded_by(
        "inboxbot.entrypoints.launcher", ("inboxbot", "typer", "sqlalchemy", "pydantic", "rich")
    )
    assert loaded == ["inboxbot", "inboxbot.entrypoints", "inboxbot.entrypoints.launcher"]


def test_a_classifying_worker_imports_no_database_configuration_or_command_line_code() -> None:
    loaded = loaded_by(
        "inboxbot.service.classify_pool",
        (
            "sqlalchemy",
            "alembic",
            "typer",
            "rich",
            "inboxbot.config",
            "inboxbot.entrypoints",
            "inboxbot.adapters.db",
        ),
    )
    assert loaded == [], f"a worker imports: {loaded}"


def _fork_server_children(code: str) -> list[str]:
    """The command lines of the fork servers a fresh interpreter has started after running ``code``."""
    probe = (
        f"{code}\n"
        "import json, os, pathlib\n"
        "kids = [k for t in pathlib.Path(f'/proc/{os.getpid()}/task').iterdir()\n"
        "        for k in (t / 'children').read_text().split()]\n"
        "lines = [pathlib.Path(f'/proc/{k}/cmdline').read_bytes().replace(b'\\0', b' ').decode()\n"
        "         for k in kids]\n"
        "print(json.dumps([line for line in lines if 'multiprocessing.forkserver' in line]))\n"
    )
    result: list[str] = json.loads(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True, text=True).stdout
    )
    return result


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")
def test_start_early_starts_the_fork_server_with_the_workers_imports() -> None:
    started = _fork_server_children(
        "from inboxbot.service.classify_pool import start_early; start_early(['inboxbot.domain.rules'])"
    )
    assert len(started) == 1, started
    assert "'inboxbot.service.classify_pool', 'holidays.countries', 'inboxbot.domain.rules'" in started[0]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")
def test_importing_the_pool_starts_no_fork_server() -> None:
    assert _fork_server_children("import inboxbot.service.classify_pool") == []


def test_the_launcher_freezes_the_heap_once_every_other_exit_handler_has_run() -> None:
    code = (
        "import atexit, gc, sys\n"
        # Registered before the launcher's own handler, so it runs after it.
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from inboxbot.entrypoints import launcher\n"
        "sys.argv = ['inboxbot', '--version']\n"
        "print('frozen while running:', gc.get_freeze_count() > 0)\n"
        "launcher.main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "frozen while running: False" in result.stdout
    assert "frozen at exit: True" in result.stdout
