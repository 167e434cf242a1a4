"""Where the files that ship beside the code live.

An editable install (the developer's and CI's) reads ``rules/`` and ``migrations/``
at the top of the source tree; a wheel (the Docker image) carries copies under
``inboxbot/_bundled/``. Either way the caller gets a real directory.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    packaged = _PACKAGE_DIR / "_bundled" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent / name


def rules_dir() -> Path:
    """The classification rules that come with inboxbot."""
    return _bundled("rules")


def migrations_dir() -> Path:
    """The Alembic migration scripts."""
    return _bundled("migrations")


def demo_mailbox() -> Path:
    """The bundled sample mailbox (a Maildir) that ``inboxbot demo`` ingests."""
    return _PACKAGE_DIR / "demo" / "mailbox"


def templates_dir() -> Path:
    """The email templates that come with inboxbot (a council can override them)."""
    return _PACKAGE_DIR / "templates"
