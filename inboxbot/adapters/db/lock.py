"""One worker at a time.

With PostgreSQL several instances may run against one database: only the
holder of a session-level advisory lock works, the others wait as standbys and
take over when the holder's connection goes (it died, or was stopped). With
SQLite a second instance on the same database file refuses to start.

Advisory locks belong to the whole database, so the lock is named by the schema
too: instances working on different schemas of one database (two councils, or
tests running side by side) do not wait for each other.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

# An arbitrary constant that names "the inboxbot worker" among advisory locks; the second
# key is the schema's (the first one on the search path, where inboxbot's tables are).
ADVISORY_KEY = 0x1B0B_0751
_THIS_SCHEMA = "hashtext(current_schema())"


class LockError(Exception):
    """Another instance holds the lock and this one cannot wait for it."""


class WorkerLock:
    """Held while this process is the one doing the work."""

    def __init__(self, engine: Engine, lock_file: Path) -> None:
        self._engine = engine
        self._lock_file = lock_file
        self._file: IO[str] | None = None
        self._connection: Connection | None = None

    @property
    def postgres(self) -> bool:
        """True when standbys can wait for the lock (PostgreSQL)."""
        return self._engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True when this process now holds it."""
        if self.postgres:
            if self._connection is None:
                self._connection = self._engine.connect()
            got = self._connection.execute(
                text(f"SELECT pg_try_advisory_lock(:key, {_THIS_SCHEMA})"), {"key": ADVISORY_KEY}
            ).scalar()
            self._connection.commit()
            return bool(got)
        self._lock_file.parent.mkdir(parents=True, exist_ok=True)
        handle = self._lock_file.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def wait(self, stop: threading.Event, every: float = 10.0) -> bool:
        """Wait as a standby until the lock is ours (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            if self.try_acquire():
                return True
            stop.wait(every)
        return False

    def still_held(self) -> bool:
        """False when the database connection behind the lock was lost."""
        if self._connection is None:
            return self._file is not None
        try:
            self._connection.execute(text("SELECT 1"))
            self._connection.commit()
        except Exception:
            return False
        return True

    def release(self) -> None:
        """Let the lock go (a standby takes over)."""
        if self._connection is not None:
            try:
                self._connection.execute(
                    text(f"SELECT pg_advisory_unlock(:key, {_THIS_SCHEMA})"), {"key": ADVISORY_KEY}
                )
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
