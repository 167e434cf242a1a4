"""Every command starts by importing the CLI; the heavy libraries wait until a command needs them."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("exchangelib", "matplotlib", "openpyxl", "alembic", "numpy")


def test_the_cli_starts_without_the_heavy_libraries() -> None:
    code = (
        "import json, sys; import inboxbot.entrypoints.cli; "
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout)
    assert loaded == [], f"imported at start-up: {loaded}"
