"""The Docker image's install, without Docker.

No Docker engine runs here, so the image itself cannot be built in the tests.
What can go wrong inside it can still be checked: the Dockerfile copies a few
folders and installs them as a wheel, so the wheel must carry the rules and
the migrations, and an installed inboxbot must work from any folder with
nothing from the source tree on its path. These tests build that wheel from
exactly what the Dockerfile copies and run it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions(name: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE.splitlines() if line.startswith(f"{name} ")]


def _copied_sources() -> list[str]:
    sources = []
    for arguments in _instructions("COPY"):
        *paths, _destination = arguments.split()
        sources += paths
    return sources


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from what the Dockerfile copies, unpacked as an installed package."""
    work = tmp_path_factory.mktemp("image")
    context = work / "app"
    context.mkdir()
    for source in _copied_sources():
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, context / source)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(work / "dist"),
            str(context),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (work / "dist").glob("inboxbot-*.whl")
    site = work / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def _run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The installed copy first on the path, so the editable source tree is never what runs.
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r}); sys.argv = ['inboxbot', *sys.argv[1:]]; "
        "from inboxbot.entrypoints.cli import main; main()"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("INBOXBOT_")}
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )


def test_the_wheel_carries_the_rules_and_the_migrations(installed: Path) -> None:
    bundled = installed / "inboxbot" / "_bundled"
    rule_files = sorted(p.name for p in (bundled / "rules").glob("*.toml"))
    assert rule_files == sorted(p.name for p in (ROOT / "rules").glob("*.toml"))
    migrations = sorted(p.name for p in (bundled / "migrations" / "versions").glob("*.py"))
    assert migrations == sorted(p.name for p in (ROOT / "migrations" / "versions").glob("*.py"))
    assert (installed / "inboxbot" / "demo" / "mailbox").is_dir()
    assert list((installed / "inboxbot" / "templates").glob("*.j2"))


def test_the_installed_package_checks_its_rules_and_plays_the_demo_from_any_folder(
    installed: Path, tmp_path: Path
) -> None:
    located = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(installed)!r}); import inboxbot.resources as r; "
            "print(r.__file__); print(r.rules_dir()); print(r.migrations_dir())",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(path.startswith(str(installed)) for path in located), located
    assert "_bundled" in located[1]
    assert "_bundled" in located[2]
    rules = _run_installed(installed, tmp_path, "check-rules")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    demo = _run_installed(installed, tmp_path, "demo")
    assert demo.returncode == 0, demo.stdout + demo.stderr
    outbox = list((tmp_path / "inboxbot-data").rglob("*.eml"))
    assert len(outbox) > 50  # the story sends reminders, invites and escalations
    assert (tmp_path / "inboxbot-data" / "reports").is_dir()


def test_the_image_runs_the_service_as_a_user_with_a_health_check() -> None:
    users = _instructions("USER")
    assert users, "the image must name its user"
    assert users[-1] not in ("root", "0"), "the service must not run as root"
    assert re.search(r'CMD \["inboxbot", "health"\]$', _instructions("HEALTHCHECK")[-1])
    assert _instructions("CMD")[-1] == '["inboxbot", "run"]'
    installs = [line for line in _instructions("RUN") if "pip install" in line]
    assert installs
    assert all("-c constraints.txt" in line for line in installs), "installs must be pinned"
    environment = " ".join(_instructions("ENV"))
    assert not re.search(r"PASSWORD|SECRET|TOKEN", environment), (
        "secrets come from the environment at run time"
    )
