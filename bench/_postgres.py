"""A throw-away PostgreSQL cluster (Debian's ``postgresql`` package), for tests and benchmarks.

    with TemporaryPostgres() as server:      # initdb + pg_ctl start; stop and delete on exit
        store = Store(server.url())

The cluster lives in a fresh temporary folder and listens on a free 127.0.0.1 port and a unix
socket in that folder. PostgreSQL refuses to run as root: as root, the folder is given to the
``postgres`` user (created by the Debian package) and the server programs run through
``runuser``. ``unavailable()`` says why a cluster cannot be made here (for a test's skip reason).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_SERVER_USER = "postgres"


def _bin_dir() -> Path | None:
    found = sorted(
        glob.glob(_BIN_GLOB), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0
    )
    for candidate in reversed(found):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def unavailable() -> str | None:
    """Why no cluster can be made on this machine, or None."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        return "psycopg 3 / psycopg_pool are not installed (pip install -e '.[dev]')"
    if _bin_dir() is None:
        return f"PostgreSQL server programs not found in {_BIN_GLOB} (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(_SERVER_USER)
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and 'runuser' is missing"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TemporaryPostgres:
    """One cluster; ``url(dbname)`` connects as the superuser ``postgres`` (trust auth, loopback)."""

    def __init__(self, *, fsync: bool = False) -> None:
        reason = unavailable()
        if reason is not None:
            raise RuntimeError(reason)
        self.bin = _bin_dir()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="outlook-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_root = os.geteuid() == 0
        self._started = False
        self._durable = "on" if fsync else "off"
        """fsync and full_page_writes: off (tests: fast, nothing to keep) unless ``fsync=True``."""

    def _run(self, *command: str) -> None:
        assert self.bin is not None
        argv = [str(self.bin / command[0]), *command[1:]]
        if self._as_root:
            argv = ["runuser", "-u", _SERVER_USER, "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stdout}{result.stderr}{self._server_log()}")

    def _server_log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-2000:]
        return ""

    def start(self) -> TemporaryPostgres:
        if self._as_root:
            user = pwd.getpwnam(_SERVER_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.root.chmod(0o700)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            )
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync={self._durable}"
                f" -c synchronous_commit=on -c max_connections=200 -c full_page_writes={self._durable}"
            )
            self._run(
                "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start"
            )
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        self._started = True
        return self

    def url(self, dbname: str = "postgres", *, search_path: str | None = None) -> str:
        url = f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"
        if search_path is not None:
            url += f"?options=-csearch_path%3D{search_path}"
        return url

    def new_schema(self) -> str:
        """A fresh empty schema; ``url(search_path=...)`` puts a store in it."""
        import psycopg

        name = "s_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE SCHEMA {name}")
        return name

    def drop_schema(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")

    def stop(self) -> None:
        if self._started:
            self._started = False
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> TemporaryPostgres:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
