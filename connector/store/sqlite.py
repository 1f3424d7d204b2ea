"""The SQLite backend: one database file, safe between threads and between processes.

Each operation borrows a pooled connection; WAL journal, busy timeout and ``BEGIN IMMEDIATE`` for
writes make processes take turns; ``lock()`` is an ``flock`` on a file beside the database. The
schema is versioned by the ``schema_migrations`` table (``MIGRATIONS``; the PostgreSQL backend has
the same versions). ``sqlite3`` is imported lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from connector.errors import ConfigurationError
from connector.store.migrations import Migration, apply_pending, for_dialect

if TYPE_CHECKING:
    import sqlite3

    from connector.store.interfaces import Connection

MIGRATIONS: tuple[Migration, ...] = for_dialect("sqlite")

_MAX_IDLE_CONNECTIONS = 8
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _forget_thread_locks() -> None:
    """In a forked child, locks another thread of the parent held would never be released."""
    global _THREAD_LOCKS, _THREAD_LOCKS_GUARD
    _THREAD_LOCKS, _THREAD_LOCKS_GUARD = {}, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_thread_locks)


class SQLiteDatabase:
    """The database file ``path`` (created private, schema brought up to date on open)."""

    name = "sqlite"
    for_update = ""  # BEGIN IMMEDIATE: one writer at a time

    def __init__(self, path: Path, *, clock: Callable[[], float], busy_timeout: float = 30.0) -> None:
        import sqlite3

        self.integrity_errors: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)
        self.path = path
        self.lock_dir = path.with_name(path.name + ".locks")
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._guard = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False
        self.on_fork: Callable[[], None] = lambda: None
        """Called (under the pool's guard) when this object is first used in a forked child."""
        self._prepare()

    # -- life cycle ----------------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Create the directory and a private database file, then bring the schema up to date."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():  # SQLite gives the -wal and -shm files the database file's mode
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with self._borrow() as db:
            current = self._migrate(db)
        if current > MIGRATIONS[-1][0]:
            raise ConfigurationError(
                f"{self.path} was written by a newer outlook-connector (schema {current}); upgrade it"
            )

    def _migrate(self, db: sqlite3.Connection) -> int:
        latest = MIGRATIONS[-1][0]
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").fetchone():
            current = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
            if current >= latest:  # up to date: no write lock needed
                return int(current)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
            )
            current = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
            current = apply_pending(db, MIGRATIONS, current, self._clock())
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(current)

    def schema_version(self) -> int:
        with self._borrow() as db:
            return int(db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0])

    def close(self) -> None:
        """Close every pooled SQLite connection (connections in use close when given back)."""
        with self._guard:
            self._closed = True
            idle, self._idle = self._idle, []
        for db in idle:
            db.close()

    def announce_enqueue(self, db: Connection) -> None:
        """Nothing: SQLite cannot wake another process (workers poll, ``wait_for_enqueue``)."""

    def wait_for_enqueue(self, timeout: float) -> bool:
        """A plain wait: the short poll of SQLite workers."""
        time.sleep(max(0.0, timeout))
        return False

    # -- connections ---------------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        import sqlite3

        db = sqlite3.connect(
            self.path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            db.close()
            raise
        return db

    @contextlib.contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        """A SQLite connection for this thread's operation (autocommit mode), back to the pool after."""
        with self._guard:
            if self._pid != os.getpid():  # forked: the parent's connections must not be used here
                self._pid, self._idle = os.getpid(), []
                self.on_fork()
            if self._closed:
                raise ConfigurationError("the state store is closed")
            db = self._idle.pop() if self._idle else None
        if db is None:
            db = self._open()
        try:
            yield db
        finally:
            if db.in_transaction:  # an exception escaped a transaction's own handling
                db.execute("ROLLBACK")
            with self._guard:
                keep = (
                    not self._closed and self._pid == os.getpid() and len(self._idle) < _MAX_IDLE_CONNECTIONS
                )
                if keep:
                    self._idle.append(db)
            if not keep:
                db.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads (each statement sees the latest committed state)."""
        with self._borrow() as db:
            yield db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error."""
        with self._borrow() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- cross-thread, cross-process lock --------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the lock called ``name`` against other threads and other processes using this
        database (an ``flock`` on a file under ``<db>.locks/``; thread-only where flock is missing)."""
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:40]
        lock_path = self.lock_dir / f"{digest}.lock"
        with _THREAD_LOCKS_GUARD:
            thread_lock = _THREAD_LOCKS.setdefault(str(lock_path), threading.Lock())
        with thread_lock:
            try:
                import fcntl
            except ImportError:  # not POSIX
                yield
                return
            self.lock_dir.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the flock
