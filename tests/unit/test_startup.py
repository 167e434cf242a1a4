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

HEAVY = ("exchangelib", "matplotlib", "openpyxl", "alembic", "numpy")


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
