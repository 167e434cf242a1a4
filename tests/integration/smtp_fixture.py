"""The ``smtp_server`` fixture: a real SMTP server (aiosmtpd) on a loopback port.

Kept out of conftest.py so it can be imported where it is wanted. aiosmtpd is a
dev dependency; without it the tests skip on a developer's machine and fail under CI=true.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.databases import unavailable

if TYPE_CHECKING:
    from tests.support.smtp import SmtpServer


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """An SMTP server that takes any message without a login; stopped afterwards."""
    try:
        from tests.support.smtp import SmtpServer
    except ImportError as exc:
        unavailable(f"aiosmtpd is not installed ({exc})")
    server = SmtpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Starts SMTP servers with options (``SmtpServer``'s arguments); all stopped afterwards."""
    try:
        from tests.support.smtp import SmtpServer
    except ImportError as exc:
        unavailable(f"aiosmtpd is not installed ({exc})")
    started: list[SmtpServer] = []

    def make(**options: Any) -> SmtpServer:
        server = SmtpServer(**options).start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()
