"""The PostgreSQL backend: one database shared by every receiver and worker, on any machine.

``psycopg`` 3 with a ``psycopg_pool`` connection pool (autocommit connections; ``transaction()``
is a server-side transaction at READ COMMITTED); the store's SQL is shared with SQLite, written
with ``?`` placeholders that are turned into psycopg's ``%s`` here. Claims lock their rows with
``FOR UPDATE SKIP LOCKED``; ``lock()`` is a session advisory lock (released by the server when
the holder's connection ends, so a killed process never leaves one behind). The schema has the
same versions as SQLite's (``MIGRATIONS``), applied under an advisory lock so that processes
starting together migrate once. ``psycopg`` is imported only when a PostgreSQL URL is used.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from connector.errors import ConfigurationError
from connector.store.migrations import Migration, apply_pending, for_dialect

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

    from connector.store.interfaces import Connection

URL_SCHEMES = ("postgresql://", "postgres://")

MIGRATIONS: tuple[Migration, ...] = for_dialect("postgresql")

_CHANNEL = "outlook_connector_queue"
_MIGRATION_LOCK = 0x6F75746C6F6F6B  # the advisory lock key migrations run under
_POOL_SIZE = 10


@functools.lru_cache(maxsize=512)
def _psycopg_sql(sql: str) -> str:
    """``?`` placeholders -> ``%s`` (the store's SQL has no literal ``?`` or ``%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


def lock_key(name: str) -> int:
    """A signed 64-bit advisory lock key for a lock name."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def redacted(url: str) -> str:
    """The URL without its user info (a password must not reach messages or logs)."""
    return re.sub(r"^(postgres(?:ql)?://)[^@/]*@", r"\1", url.split("?", 1)[0])


class _Cursor:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()


class PgConnection:
    """A psycopg connection speaking the store's ``?`` SQL (``raw`` is the psycopg connection)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> _Cursor:
        return _Cursor(self.raw.execute(_psycopg_sql(sql), parameters))

    def executemany(self, sql: str, parameters: Sequence[Sequence[Any]], /) -> _Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(_psycopg_sql(sql), parameters)
        return _Cursor(cursor)


class PostgresDatabase:
    """The database at ``url`` (``postgresql://user:password@host:port/dbname?options``); the
    schema is brought up to date on open."""

    name = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, url: str, *, clock: Callable[[], float], pool_size: int = _POOL_SIZE) -> None:
        try:
            import psycopg
            import psycopg_pool  # noqa: F401  (checked here, used by _new_pool)
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise ConfigurationError(f"a PostgreSQL store needs psycopg 3 and psycopg_pool ({exc})") from None
        self.integrity_errors: tuple[type[Exception], ...] = (psycopg.errors.IntegrityError,)
        self.url = url
        self._clock = clock
        self._pool_size = pool_size
        self._guard = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        self.on_fork: Callable[[], None] = lambda: None
        self._listen_guard = threading.Lock()
        self._listener: tuple[int, psycopg.Connection[Any]] | None = None
        self._pool = self._new_pool()
        try:
            self._prepare()
        except BaseException:
            self._pool.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresDatabase({redacted(self.url)!r})"

    def _new_pool(self) -> ConnectionPool[Any]:
        import psycopg
        from psycopg_pool import ConnectionPool

        try:  # one direct connection first: a wrong URL fails at once, not after the pool's retries
            psycopg.connect(self.url, connect_timeout=10).close()
        except psycopg.Error as exc:
            reason = str(exc).replace(self.url, redacted(self.url)).strip().splitlines()[:1]
            raise ConfigurationError(
                f"cannot connect to the PostgreSQL store {redacted(self.url)}: {''.join(reason)[:300]}"
            ) from None
        pool: ConnectionPool[Any] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self._pool_size,
            kwargs={"autocommit": True},
            open=True,
            timeout=30.0,
            name="outlook-connector",
        )
        return pool

    # -- life cycle ----------------------------------------------------------------------------------
    def _prepare(self) -> None:
        latest = MIGRATIONS[-1][0]
        with self.transaction() as db:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                " description TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            )
            current = int(db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])
            current = apply_pending(db, MIGRATIONS, current, self._clock())
        if current > latest:
            raise ConfigurationError(
                f"{redacted(self.url)} was written by a newer outlook-connector"
                f" (schema {current}); upgrade it"
            )

    def schema_version(self) -> int:
        with self.read() as db:
            return int(db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0])

    def close(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
            mine = self._pid == os.getpid()
        if mine:
            self._pool.close()
            if self._listener is not None and self._listener[0] == os.getpid():
                self._listener[1].close()

    def announce_enqueue(self, db: Connection) -> None:
        """``NOTIFY`` in the enqueue's transaction: sent by the server when it commits."""
        db.execute(f"NOTIFY {_CHANNEL}")

    def wait_for_enqueue(self, timeout: float) -> bool:
        """``LISTEN`` on a connection of its own (kept for the next wait) until a NOTIFY arrives."""
        import psycopg

        with self._listen_guard:
            listener = self._listener
            if listener is None or listener[0] != os.getpid() or listener[1].closed:
                connection = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
                connection.execute(f"LISTEN {_CHANNEL}")
                listener = self._listener = (os.getpid(), connection)
            try:
                return any(True for _ in listener[1].notifies(timeout=max(0.0, timeout), stop_after=1))
            except psycopg.OperationalError:
                listener[1].close()  # reconnect on the next wait
                return False

    # -- connections ---------------------------------------------------------------------------------
    def _current_pool(self) -> ConnectionPool[Any]:
        with self._guard:
            if self._closed:
                raise ConfigurationError("the state store is closed")
            if self._pid != os.getpid():  # forked: the parent's pool (and its threads) are not ours
                self._pid = os.getpid()
                self._pool = self._new_pool()
                self.on_fork()
            return self._pool

    @contextlib.contextmanager
    def read(self) -> Iterator[PgConnection]:
        with self._current_pool().connection() as raw:
            yield PgConnection(raw)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        with self._current_pool().connection() as raw, raw.transaction():
            yield PgConnection(raw)

    @contextlib.contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """A session advisory lock on a connection held for the duration (the server frees it if
        this process dies)."""
        key = lock_key(name)
        with self._current_pool().connection() as raw:
            raw.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                raw.execute("SELECT pg_advisory_unlock(%s)", (key,))
