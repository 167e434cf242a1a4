"""A private Dovecot IMAP server for integration tests.

Each server lives in its own temporary directory (config, sockets, state, log
and Maildirs) and listens on a free loopback port, so tests can run in
parallel. Started as root (CI), the mail belongs to the ``dovecot`` user as in a
real installation; started as anyone else, every Dovecot process runs as that
user. Dovecot is never installed here: scripts/test does that. When it is
missing the test is skipped on a developer's machine and fails under CI=true.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

from tests.support.databases import unavailable

HOST = "127.0.0.1"
USER = "ombudsman"
PASSWORD = "Tr0ub4dor-and-3-s3cret"
_SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])
_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]")


def _binary(name: str) -> str | None:
    return shutil.which(name, path=_SBIN)


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _wait(check: Callable[[], bool], timeout: float) -> bool:
    """Poll ``check`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


class DovecotServer:
    """A running Dovecot with one user, ``user`` / ``password``, on ``host``:``port``."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.host = HOST
        self.port = port
        self.user = USER
        self.password = PASSWORD
        self.conf = root / "dovecot.conf"
        self.log = root / "dovecot.log"
        self._pgid: int | None = None
        self._write_config()

    # -- set-up -------------------------------------------------------------------------------

    def _write_config(self) -> None:
        root = self.root
        (root / "mail").mkdir()
        if os.geteuid() == 0:
            internal, login, group, mail_uid = "dovecot", "dovenull", "dovecot", "dovecot"
            # Dovecot's own users must reach the sockets and the mail below the temp dir.
            root.chmod(0o755)
            shutil.chown(root / "mail", "dovecot", "dovecot")
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name  # not $USER: it may name someone else
            internal = login = mail_uid = me
            group = grp.getgrgid(os.getegid()).gr_name
        (root / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        (root / "users").chmod(0o644)
        self.conf.write_text(
            f"""\
base_dir = {root}/run
state_dir = {root}/run/state
log_path = {self.log}
instance_name = inboxbot-test-{self.port}
protocols = imap
listen = {HOST}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
default_internal_user = {internal}
default_login_user = {login}
default_internal_group = {group}
first_valid_uid = 1
auth_failure_delay = 0
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={group} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = {self.port}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""
        )

    def _doveadm(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        doveadm = _binary("doveadm") or "doveadm"
        return subprocess.run(
            [doveadm, "-c", str(self.conf), *args], input=input, capture_output=True, timeout=30, check=False
        )

    def log_tail(self, lines: int = 20) -> str:
        """The end of Dovecot's log, for failure messages."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start Dovecot (again) on the same port and wait until it accepts connections."""
        if self._pgid is not None:
            raise RuntimeError("Dovecot is already running")
        dovecot = _binary("dovecot") or "dovecot"
        errors = self.root / "start.err"
        # Not a pipe: the daemon would inherit it and keep it open for ever.
        with errors.open("wb") as err:
            done = subprocess.run(
                [dovecot, "-c", str(self.conf)],
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=30,
                check=False,
            )
        if done.returncode != 0:
            reason = errors.read_text(errors="replace").strip()
            raise RuntimeError(f"dovecot did not start: {reason}\n{self.log_tail()}")
        # The master daemonizes as a session leader: its pid is the process group of every Dovecot process.
        pidfile = self.root / "run" / "master.pid"
        # The file appears before its pid is written in it: wait for the pid, not the file.
        if not _wait(lambda: pidfile.exists() and pidfile.read_text().strip() != "", 10):
            raise RuntimeError(f"dovecot wrote no master.pid\n{self.log_tail()}")
        self._pgid = int(pidfile.read_text().split()[0])
        if not _wait(lambda: _listening(self.port), 10):
            self.kill()
            raise RuntimeError(f"dovecot is not listening on {self.port}\n{self.log_tail()}")

    def _signal_group(self, signum: int) -> None:
        if self._pgid is None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self._pgid, signum)

    def _wait_gone(self, timeout: float) -> bool:
        pgid = self._pgid
        if pgid is None:
            return True
        gone = _wait(lambda: not _group_members(pgid) and not _listening(self.port), timeout)
        if gone:
            # An orphaned master may linger as a zombie until init reaps it, and Dovecot
            # takes a zombie's pid for a running master: the pid file must go.
            (self.root / "run" / "master.pid").unlink(missing_ok=True)
        return gone

    def stop(self) -> None:
        """Shut Dovecot down as ``doveadm stop`` does and wait until the port is closed.

        SIGTERM to the master first; imap processes that outlive it get SIGTERM
        too, so their clients see ``* BYE Server shutting down`` as they would
        with ``shutdown_clients = yes``; stragglers (log, stats) are killed soon after.
        """
        pgid = self._pgid
        if pgid is None:
            return
        with suppress(ProcessLookupError):
            os.kill(pgid, signal.SIGTERM)
        if not _wait(lambda: not _listening(self.port), 10):
            raise RuntimeError(f"dovecot still listens on {self.port} after SIGTERM\n{self.log_tail()}")
        self._signal_group(signal.SIGTERM)
        if not _wait(lambda: not _group_members(pgid), 0.3):
            self._signal_group(signal.SIGKILL)
        if not self._wait_gone(10):
            raise RuntimeError(f"dovecot did not stop\n{self.log_tail()}")
        self._pgid = None

    def kill(self) -> None:
        """SIGKILL the master and every process it started: a crash, not a shutdown.

        Killing the master alone leaves the login processes holding the port, so
        the whole process group goes; clients see their connection simply end.
        """
        if self._pgid is None:
            return
        self._signal_group(signal.SIGKILL)
        if not self._wait_gone(10):
            raise RuntimeError("dovecot processes survived SIGKILL")
        self._pgid = None

    def close(self) -> None:
        """Stop Dovecot at once and remove the temporary directory."""
        try:
            self.kill()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- mailboxes ----------------------------------------------------------------------------

    def maildir_root(self, user: str | None = None) -> Path:
        """The user's Maildir (INBOX itself; other folders are ``.Name`` inside it)."""
        return self.root / "mail" / (user or self.user) / "Maildir"

    def folder_path(self, folder: str = "INBOX") -> Path:
        """Where a folder's messages and index files live (Maildir++ layout)."""
        root = self.maildir_root()
        return root if folder.upper() == "INBOX" else root / ("." + folder.replace("/", "."))

    @contextmanager
    def imap(self, folder: str | None = None, *, readonly: bool = True) -> Iterator[imaplib.IMAP4]:
        """A logged-in imaplib connection (independent of the code under test)."""
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(self.user, self.password)
            if folder is not None:
                typ, data = client.select(_quote(folder), readonly=readonly)
                if typ != "OK":
                    raise RuntimeError(f"cannot select {folder}: {data!r}")
            yield client
        finally:
            try:
                client.logout()
            except (imaplib.IMAP4.error, OSError):
                client.shutdown()

    def append_many(
        self, messages: Iterable[bytes], folder: str = "INBOX", *, when: datetime | None = None
    ) -> list[int]:
        """APPEND each message over one connection; their new UIDs."""
        uids = []
        with self.imap() as client:
            if folder.upper() != "INBOX":
                client.create(_quote(folder))  # NO when it exists already, which is fine
            date = imaplib.Time2Internaldate(when) if when is not None else None
            for raw in messages:
                typ, data = client.append(_quote(folder), "", date, raw)
                found = _APPENDUID.search(data[0] or b"") if typ == "OK" and data else None
                if found is None:
                    raise RuntimeError(f"APPEND failed: {typ} {data!r}")
                uids.append(int(found.group(2)))
        return uids

    def append(self, raw: bytes, folder: str = "INBOX", *, when: datetime | None = None) -> int:
        """APPEND one message (IMAP turns bare CR or LF into CRLF); its new UID."""
        return self.append_many([raw], folder, when=when)[0]

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        """Store a message with ``doveadm save``, as local delivery would: no IMAP in the way."""
        done = self._doveadm("save", "-u", self.user, "-m", folder, input=raw)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm save failed: {done.stderr.decode(errors='replace').strip()}")

    def uids(self, folder: str = "INBOX") -> list[int]:
        """UIDs of the messages in a folder, ascending."""
        with self.imap(folder) as client:
            _typ, data = client.uid("SEARCH", "ALL")
        return sorted(int(uid) for uid in (data[0] or b"").split())

    def uidvalidity(self, folder: str = "INBOX") -> int:
        """The folder's UIDVALIDITY as SELECT reports it."""
        with self.imap(folder) as client:
            _typ, data = client.response("UIDVALIDITY")
        return int(data[0] or b"0")

    def flags(self, uid: int, folder: str = "INBOX") -> set[str]:
        """The flags and keywords of one message."""
        with self.imap(folder) as client:
            _typ, data = client.uid("FETCH", str(uid), "(FLAGS)")
        first = data[0]
        if not isinstance(first, bytes):
            raise RuntimeError(f"no message with UID {uid} in {folder}")
        return {flag.decode() for flag in imaplib.ParseFlags(first)}

    def bodies(self, folder: str = "INBOX") -> dict[int, bytes]:
        """Every message of a folder by UID, without marking anything as read."""
        out: dict[int, bytes] = {}
        with self.imap(folder) as client:
            _typ, data = client.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        for part in data:
            if isinstance(part, tuple):
                found = re.search(rb"UID (\d+)", part[0])
                if found:
                    out[int(found.group(1))] = part[1]
        return out

    def reset_uidvalidity(self, folder: str = "INBOX") -> int:
        """Make Dovecot renumber a folder, as a rebuilt server would: a new UIDVALIDITY.

        Stops the server, deletes the folder's uidlist and indexes (the messages
        stay), starts it again, and checks that UIDVALIDITY really changed.
        """
        before = self.uidvalidity(folder)
        path = self.folder_path(folder)
        for _attempt in range(3):
            self.stop()
            doomed = [path / "dovecot-uidlist", *path.glob("dovecot.index*")]
            doomed += self.maildir_root().glob("dovecot.list.index*")
            for file in doomed:
                file.unlink(missing_ok=True)
            self.start()
            after = self.uidvalidity(folder)
            if after != before:
                return after
            time.sleep(1)  # Dovecot derives new values from the clock
        raise RuntimeError(f"UIDVALIDITY of {folder} stayed {before}")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def start_dovecot() -> DovecotServer:
    """A started private Dovecot; skips (or fails under CI=true) when Dovecot is not installed."""
    missing = [name for name in ("dovecot", "doveadm") if _binary(name) is None]
    if missing:
        unavailable(f"{' and '.join(missing)} not found: install Debian's dovecot-imapd (scripts/test does)")
    root = Path(tempfile.mkdtemp(prefix="inboxbot-dovecot-"))
    try:
        server = DovecotServer(root, free_port())
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
