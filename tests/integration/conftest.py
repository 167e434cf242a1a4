"""Fixtures for tests against real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dovecot import DovecotServer, start_dovecot


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    """A private, empty Dovecot IMAP server, stopped and removed afterwards."""
    server = start_dovecot()
    try:
        yield server
    finally:
        server.close()
