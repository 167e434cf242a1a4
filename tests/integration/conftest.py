"""Fixtures for tests against real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.test_run import Service
from tests.support.dovecot import DovecotServer, start_dovecot


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A private, empty Dovecot IMAP server, stopped and removed afterwards."""
    server = start_dovecot()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Real ``inboxbot run`` processes started by a test, stopped after it."""
    started: list[Service] = []
    yield started
    for service in started:
        service.stop()
