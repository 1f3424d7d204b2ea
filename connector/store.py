"""The connector's state in one SQLite database: connections and their tokens, and a key-value table.

    store = Store()                      # $OUTLOOK_CONNECTOR_HOME/state.db (~/.outlook-connector)
    store.save_connection(ConnectionRecord("work", "oauth2_code", {"tenant": "common"}, {...}))
    store.save_tokens("work", {...})     # atomic; encrypted
    store.kv_put("delta", "work:inbox", "https://graph.microsoft.com/...deltatoken=...")

Safe to share between threads (each operation borrows a pooled SQLite connection) and between
processes (WAL journal, busy timeout, ``BEGIN IMMEDIATE`` for writes, ``lock()`` for longer critical
sections such as a token refresh). The schema is versioned by the ``schema_migrations`` table;
later features add tables by appending to ``MIGRATIONS``.

Triggers: instances, the durable notification queue (claims with leases) and delivered keys. The
receiver appends notifications to the inbox beside the database (``connector.inbox``);
``absorb_inbox`` moves them into the queue, and every claim calls it first.

Secrets, tokens and ``encrypt=True`` values are sealed with AES-256-GCM (``connector.crypto``),
bound to what they belong to (the connection name; the namespace and key), so a sealed value
cannot be moved to another row unnoticed. ``sqlite3``, ``cryptography`` and ``orjson`` are imported
lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from secrets import token_urlsafe
from typing import TYPE_CHECKING, Any

from connector.errors import ConfigurationError

if TYPE_CHECKING:
    import sqlite3

    from connector.crypto import Cipher
    from connector.inbox import InboxRecord

log = logging.getLogger(__name__)

HOME_ENV = "OUTLOOK_CONNECTOR_HOME"
DEFAULT_HOME = "~/.outlook-connector"
DB_FILE_NAME = "state.db"

Migration = tuple[int, str, tuple[str, ...]]
"""(version, description, SQL statements) applied in one transaction."""

MIGRATIONS: tuple[Migration, ...] = (
    (
        1,
        "connections with encrypted secrets and tokens; key-value table; key check",
        (
            """CREATE TABLE connections (
                name TEXT PRIMARY KEY,
                type_key TEXT NOT NULL,
                config TEXT NOT NULL,
                secrets BLOB,
                tokens BLOB,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                tokens_updated_at REAL,
                last_success_at REAL,
                last_error TEXT,
                last_error_at REAL
            )""",
            """CREATE TABLE kv (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value BLOB NOT NULL,
                encrypted INTEGER NOT NULL DEFAULT 0,
                updated_at REAL NOT NULL,
                expires_at REAL,
                PRIMARY KEY (namespace, key)
            ) WITHOUT ROWID""",
            "CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL",
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
        ),
    ),
    (
        2,
        "trigger instances (encrypted clientState and secrets); durable notification queue; delivered keys",
        (
            """CREATE TABLE trigger_instances (
                id TEXT PRIMARY KEY,
                trigger_key TEXT NOT NULL,
                connection_name TEXT NOT NULL,
                config TEXT NOT NULL,
                client_state BLOB NOT NULL,
                state TEXT NOT NULL,
                secrets BLOB NOT NULL,
                status TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                last_success_at REAL,
                last_error TEXT,
                last_error_at REAL
            )""",
            """CREATE TABLE trigger_queue (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                instance_id TEXT NOT NULL REFERENCES trigger_instances (id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                item TEXT NOT NULL,
                received_at REAL NOT NULL,
                available_at REAL NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                claimed_by TEXT,
                last_error TEXT
            )""",
            "CREATE INDEX trigger_queue_available_at ON trigger_queue (available_at, seq)",
            """CREATE TABLE trigger_delivered (
                instance_id TEXT NOT NULL,
                dedupe_key TEXT NOT NULL,
                delivered_at REAL NOT NULL,
                PRIMARY KEY (instance_id, dedupe_key)
            ) WITHOUT ROWID""",
            "CREATE INDEX trigger_delivered_at ON trigger_delivered (delivered_at)",
        ),
    ),
    (
        3,
        "how much of each receiver inbox segment has been moved into the queue",
        (
            """CREATE TABLE trigger_inbox (
                segment TEXT PRIMARY KEY,
                moved_bytes INTEGER NOT NULL
            ) WITHOUT ROWID""",
        ),
    ),
)

_KEY_CHECK = b"outlook-connector key check"
_ROWS_PER_INSERT = 500
"""Rows per multi-row INSERT of queued notifications (2 parameters a row; SQLite allows 32,766)."""
_MAX_IDLE_CONNECTIONS = 8
_INBOX_READ_BYTES = 4 << 20
"""Bytes of an inbox segment moved per transaction (more if one record is larger)."""
_THREAD_LOCKS: dict[str, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _forget_thread_locks() -> None:
    """In a forked child, locks another thread of the parent held would never be released."""
    global _THREAD_LOCKS, _THREAD_LOCKS_GUARD
    _THREAD_LOCKS, _THREAD_LOCKS_GUARD = {}, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_thread_locks)


def default_home() -> Path:
    """``$OUTLOOK_CONNECTOR_HOME``, else ``~/.outlook-connector``."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()


@dataclass(frozen=True)
class ConnectionRecord:
    """A saved connection. ``config`` holds the non-secret settings, ``secrets`` the secret ones
    (client secret...). Timestamps are epoch seconds. Tokens are kept apart (``load_tokens``)."""

    name: str
    type_key: str
    config: Mapping[str, Any]
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Decrypted only by ``get_connection`` and ``list_connections(include_secrets=True)``."""
    created_at: float = 0.0
    updated_at: float = 0.0
    last_success_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    has_tokens: bool = False


TRIGGER_STATUSES = ("active", "paused", "disabled")
"""``paused``: notifications are still received and queued; ``disabled``: the receiver refuses them."""


@dataclass(frozen=True)
class TriggerInstance:
    """One enabled trigger. ``id`` is opaque and URL-safe (also the receiver's URL path part);
    ``client_state`` and ``secrets`` are stored encrypted; ``state`` is JSON owned by the trigger
    lifecycle code (subscriptions, delta cursors...). Timestamps are epoch seconds."""

    id: str
    trigger_key: str
    connection_name: str
    config: Mapping[str, Any]
    client_state: str = field(repr=False)
    state: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    status: str = "active"
    created_at: float = 0.0
    updated_at: float = 0.0
    last_success_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    @classmethod
    def new(
        cls,
        trigger_key: str,
        connection_name: str,
        config: Mapping[str, Any],
        state: Mapping[str, Any],
        now: float,
    ) -> TriggerInstance:
        """A new active instance with a fresh opaque id and a fresh clientState secret."""
        return cls(
            id=token_urlsafe(24),
            trigger_key=trigger_key,
            connection_name=connection_name,
            config=dict(config),
            client_state=token_urlsafe(32),
            state=state,
            created_at=now,
            updated_at=now,
        )


@dataclass(frozen=True)
class ReceiverAccess:
    """A trigger instance as the notification receiver sees it (``Store.receiver_access``)."""

    status: str
    client_state: str = field(repr=False)
    sealed_client_state: bytes = field(repr=False)
    """The stored (encrypted) clientState: ``enqueue_checked_notifications`` queues only while it
    is unchanged, so a cached access can never let items through against an old secret."""


@dataclass(frozen=True)
class QueuedNotification:
    """A claimed queue row: one notification item (``kind`` "change" or "lifecycle") as received.
    ``attempts`` counts claims, this one included."""

    seq: int
    instance_id: str
    kind: str
    item: dict[str, Any]
    received_at: float
    attempts: int


class UnknownTriggerInstanceError(LookupError):
    """Notifications were enqueued for a trigger instance the store does not have (any more)."""


class Store:
    """State database; see the module docstring. ``key`` (32 bytes) overrides the key lookup."""

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        key: bytes | None = None,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_home() / DB_FILE_NAME
        self.key_file = self.path.parent / "secret.key"
        self.lock_dir = self.path.with_name(self.path.name + ".locks")
        self.inbox_dir = self.path.with_name(self.path.name + ".inbox")
        self.clock = clock
        self._key = key
        self._busy_timeout = busy_timeout
        self._guard = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._cipher: Cipher | None = None
        self._closed = False
        self._inbox_moved: dict[str, int] = {}  # segment -> bytes known moved (skips unchanged ones)
        self._prepare()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

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
            for version, description, statements in MIGRATIONS:
                if version <= current:
                    continue
                for statement in statements:
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                    (version, description, self.clock()),
                )
                current = version
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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- SQLite connections ----------------------------------------------------------------------------
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
                self._pid, self._idle, self._cipher = os.getpid(), [], None
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

    # -- encryption ----------------------------------------------------------------------------------
    def cipher(self) -> Cipher:
        """The cipher for this database, checked against the key this database was first sealed with."""
        with self._guard:
            if self._cipher is not None:
                return self._cipher
        from connector.crypto import Cipher, DecryptionError, load_key

        cipher = Cipher(self._key if self._key is not None else load_key(self.key_file))
        with self.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('key_check', ?)",
                    (cipher.seal(_KEY_CHECK, b"key-check"),),
                )
        if row is not None:
            try:
                cipher.open(bytes(row[0]), b"key-check", "the key check")
            except DecryptionError:
                raise ConfigurationError(
                    f"the encryption key is not the one {self.path} was written with: set "
                    "OUTLOOK_CONNECTOR_KEY to the original key (or restore its secret.key file), or "
                    "start over with a new state database"
                ) from None
        with self._guard:
            self._cipher = cipher
        return cipher

    def _seal_json(self, value: Any, label: bytes) -> bytes:
        data = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return self.cipher().seal(data, label)

    def _open_json(self, sealed: bytes, label: bytes, what: str) -> Any:
        return json.loads(self.cipher().open(bytes(sealed), label, what))

    # -- connections ---------------------------------------------------------------------------------
    _COLUMNS = (
        "name, type_key, config, created_at, updated_at, last_success_at, last_error, last_error_at, "
        "tokens IS NOT NULL"
    )

    def save_connection(self, record: ConnectionRecord, tokens: Mapping[str, Any] | None = None) -> None:
        """Create or replace connection ``record.name``: its type, config, secrets and tokens
        (``tokens``; None removes them, since tokens belong to the old settings). Replacing keeps
        the creation time and clears the health (it was about the old settings)."""
        _check_name(record.name)
        now = self.clock()
        config = json.dumps(dict(record.config), separators=(",", ":"), sort_keys=True)
        secrets = self._seal_json(dict(record.secrets), _label("secrets", record.name))
        sealed_tokens = (
            None if tokens is None else self._seal_json(dict(tokens), _label("tokens", record.name))
        )
        with self.transaction() as db:
            db.execute(
                "INSERT INTO connections (name, type_key, config, secrets, tokens, created_at, updated_at,"
                " tokens_updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " type_key = excluded.type_key, config = excluded.config, secrets = excluded.secrets,"
                " tokens = excluded.tokens, updated_at = excluded.updated_at,"
                " tokens_updated_at = excluded.tokens_updated_at, last_success_at = NULL,"
                " last_error = NULL, last_error_at = NULL",
                (record.name, record.type_key, config, secrets, sealed_tokens, now, now, now),
            )

    def get_connection(self, name: str) -> ConnectionRecord | None:
        """The connection with its secrets decrypted, or None."""
        with self.read() as db:
            row = db.execute(
                f"SELECT {self._COLUMNS}, secrets FROM connections WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            return None
        return self._with_secrets(_record(row), row[-1])

    def list_connections(self, *, include_secrets: bool = False) -> list[ConnectionRecord]:
        """Every connection by name; secrets are left out (and not decrypted) unless asked for."""
        with self.read() as db:
            rows = db.execute(f"SELECT {self._COLUMNS}, secrets FROM connections ORDER BY name").fetchall()
        records = [_record(row) for row in rows]
        if include_secrets:
            records = [self._with_secrets(r, row[-1]) for r, row in zip(records, rows, strict=True)]
        return records

    def _with_secrets(self, record: ConnectionRecord, sealed: bytes | None) -> ConnectionRecord:
        if sealed is None:
            return record
        what = f"the secrets of connection {record.name!r}"
        return replace(record, secrets=self._open_json(sealed, _label("secrets", record.name), what))

    def delete_connection(self, name: str) -> bool:
        """Forget the connection, its secrets and tokens. False if there was none."""
        with self.transaction() as db:
            return db.execute("DELETE FROM connections WHERE name = ?", (name,)).rowcount > 0

    def save_tokens(self, name: str, tokens: Mapping[str, Any] | None) -> None:
        """Replace the connection's token set (one atomic update); None removes it."""
        sealed = None if tokens is None else self._seal_json(dict(tokens), _label("tokens", name))
        with self.transaction() as db:
            updated = db.execute(
                "UPDATE connections SET tokens = ?, tokens_updated_at = ? WHERE name = ?",
                (sealed, self.clock(), name),
            ).rowcount
        if not updated:
            raise ConfigurationError(f"no connection named {name!r}")

    def load_tokens(self, name: str) -> dict[str, Any] | None:
        """The connection's token set, or None (no such connection, or no tokens yet)."""
        with self.read() as db:
            row = db.execute("SELECT tokens FROM connections WHERE name = ?", (name,)).fetchone()
        if row is None or row[0] is None:
            return None
        tokens: dict[str, Any] = self._open_json(row[0], _label("tokens", name), f"the tokens of {name!r}")
        return tokens

    def record_health(self, name: str, ok: bool, error: str | None = None) -> None:
        """Note a successful use (clears the last error) or a failure with its message."""
        now = self.clock()
        with self.transaction() as db:
            if ok:
                db.execute(
                    "UPDATE connections SET last_success_at = ?, last_error = NULL, last_error_at = NULL"
                    " WHERE name = ?",
                    (now, name),
                )
            else:
                db.execute(
                    "UPDATE connections SET last_error = ?, last_error_at = ? WHERE name = ?",
                    ((error or "failed")[:2000], now, name),
                )

    # -- key-value table -------------------------------------------------------------------------------
    def kv_put(
        self, namespace: str, key: str, value: Any, *, encrypt: bool = False, ttl: float | None = None
    ) -> None:
        """Store JSON-serializable ``value`` under (namespace, key), replacing any; ``ttl`` seconds."""
        blob, now = self._kv_blob(namespace, key, value, encrypt), self.clock()
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO kv (namespace, key, value, encrypted, updated_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (namespace, key, blob, int(encrypt), now, None if ttl is None else now + ttl),
            )

    def kv_add(
        self, namespace: str, key: str, value: Any = True, *, encrypt: bool = False, ttl: float | None = None
    ) -> bool:
        """Store the value only if the key is absent (or expired); True if this call stored it.
        Atomic across threads and processes (e.g. "have I seen this notification before?")."""
        blob, now = self._kv_blob(namespace, key, value, encrypt), self.clock()
        with self.transaction() as db:
            db.execute(
                "DELETE FROM kv WHERE namespace = ? AND key = ? AND expires_at <= ?", (namespace, key, now)
            )
            cursor = db.execute(
                "INSERT OR IGNORE INTO kv (namespace, key, value, encrypted, updated_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (namespace, key, blob, int(encrypt), now, None if ttl is None else now + ttl),
            )
            return cursor.rowcount > 0

    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any:
        with self.read() as db:
            row = db.execute(
                "SELECT value, encrypted FROM kv WHERE namespace = ? AND key = ?"
                " AND (expires_at IS NULL OR expires_at > ?)",
                (namespace, key, self.clock()),
            ).fetchone()
        return default if row is None else self._kv_value(namespace, key, row[0], row[1])

    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, Any]]:
        """Unexpired (key, value) pairs of a namespace whose key starts with ``prefix``, by key."""
        with self.read() as db:
            rows = db.execute(
                "SELECT key, value, encrypted FROM kv WHERE namespace = ? AND substr(key, 1, ?) = ?"
                " AND (expires_at IS NULL OR expires_at > ?) ORDER BY key",
                (namespace, len(prefix), prefix, self.clock()),
            ).fetchall()
        return [(k, self._kv_value(namespace, k, v, enc)) for k, v, enc in rows]

    def kv_delete(self, namespace: str, key: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key)).rowcount > 0

    def kv_purge_expired(self) -> int:
        """Delete expired entries; returns how many."""
        with self.transaction() as db:
            return db.execute("DELETE FROM kv WHERE expires_at <= ?", (self.clock(),)).rowcount

    def _kv_blob(self, namespace: str, key: str, value: Any, encrypt: bool) -> bytes:
        if encrypt:
            return self._seal_json(value, _label("kv", namespace, key))
        return json.dumps(value, separators=(",", ":")).encode("utf-8")

    def _kv_value(self, namespace: str, key: str, blob: bytes, encrypted: int) -> Any:
        if encrypted:
            return self._open_json(blob, _label("kv", namespace, key), f"the value of {namespace}/{key}")
        return json.loads(blob)

    # -- trigger instances ---------------------------------------------------------------------------
    _TRIGGER_COLUMNS = (
        "id, trigger_key, connection_name, config, client_state, state, secrets, status, created_at,"
        " updated_at, last_success_at, last_error, last_error_at"
    )

    def save_trigger_instance(self, instance: TriggerInstance) -> None:
        """Create or replace the instance (its queue and delivered keys are kept on replace).
        A new instance's ``created_at``/``updated_at`` of 0 are set to now."""
        if not instance.id or len(instance.id) > 200 or not instance.id.isascii():
            raise ConfigurationError(f"invalid trigger instance id {instance.id!r}")
        _check_status(instance.status)
        now = self.clock()
        client_state = instance.client_state.encode("utf-8")
        sealed_state = self.cipher().seal(client_state, _label("trigger", instance.id))
        sealed_secrets = self._seal_json(dict(instance.secrets), _label("trigger-secrets", instance.id))
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO trigger_instances ({self._TRIGGER_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " trigger_key = excluded.trigger_key, connection_name = excluded.connection_name,"
                " config = excluded.config, client_state = excluded.client_state, state = excluded.state,"
                " secrets = excluded.secrets, status = excluded.status, updated_at = excluded.updated_at,"
                " last_success_at = excluded.last_success_at, last_error = excluded.last_error,"
                " last_error_at = excluded.last_error_at",
                (
                    instance.id,
                    instance.trigger_key,
                    instance.connection_name,
                    _dump(instance.config),
                    sealed_state,
                    _dump(instance.state),
                    sealed_secrets,
                    instance.status,
                    instance.created_at or now,
                    now,
                    instance.last_success_at,
                    instance.last_error,
                    instance.last_error_at,
                ),
            )

    def get_trigger_instance(self, instance_id: str) -> TriggerInstance | None:
        """The instance with its clientState and secrets decrypted, or None."""
        with self.read() as db:
            row = db.execute(
                f"SELECT {self._TRIGGER_COLUMNS} FROM trigger_instances WHERE id = ?", (instance_id,)
            ).fetchone()
        return None if row is None else self._trigger_instance(row)

    def receiver_access(self, instance_id: str) -> ReceiverAccess | None:
        """What the notification receiver checks a request against, or None if the instance is
        unknown: its status and clientState (decrypted, without the other secrets or the state)."""
        with self.read() as db:
            row = db.execute(
                "SELECT status, client_state FROM trigger_instances WHERE id = ?", (instance_id,)
            ).fetchone()
        if row is None:
            return None
        sealed = bytes(row[1])
        what = f"the clientState of {instance_id}"
        client_state = self.cipher().open(sealed, _label("trigger", instance_id), what).decode("utf-8")
        return ReceiverAccess(status=row[0], client_state=client_state, sealed_client_state=sealed)

    def list_trigger_instances(self) -> list[TriggerInstance]:
        """Every instance, oldest first."""
        with self.read() as db:
            rows = db.execute(
                f"SELECT {self._TRIGGER_COLUMNS} FROM trigger_instances ORDER BY created_at, id"
            ).fetchall()
        return [self._trigger_instance(row) for row in rows]

    def _trigger_instance(self, row: tuple[Any, ...]) -> TriggerInstance:
        id_ = row[0]
        client_state = self.cipher().open(bytes(row[4]), _label("trigger", id_), f"the clientState of {id_}")
        secrets = self._open_json(row[6], _label("trigger-secrets", id_), f"the secrets of trigger {id_}")
        return TriggerInstance(
            id=id_,
            trigger_key=row[1],
            connection_name=row[2],
            config=json.loads(row[3]),
            client_state=client_state.decode("utf-8"),
            state=json.loads(row[5]),
            secrets=secrets,
            status=row[7],
            created_at=row[8],
            updated_at=row[9],
            last_success_at=row[10],
            last_error=row[11],
            last_error_at=row[12],
        )

    def update_trigger_state(
        self, instance_id: str, state: Mapping[str, Any], *, expected: Mapping[str, Any] | None = None
    ) -> bool:
        """Replace the instance's state; with ``expected``, only if the current state equals it
        (compare-and-set). False if the instance is gone or the state had changed."""
        with self.transaction() as db:
            if expected is not None:
                sql = "SELECT state FROM trigger_instances WHERE id = ?"
                row = db.execute(sql, (instance_id,)).fetchone()
                if row is None or json.loads(row[0]) != json.loads(_dump(expected)):
                    return False
            return (
                db.execute(
                    "UPDATE trigger_instances SET state = ?, updated_at = ? WHERE id = ?",
                    (_dump(state), self.clock(), instance_id),
                ).rowcount
                > 0
            )

    def set_trigger_status(self, instance_id: str, status: str) -> bool:
        """Set "active", "paused" or "disabled"; False if the instance is gone."""
        _check_status(status)
        with self.transaction() as db:
            return (
                db.execute(
                    "UPDATE trigger_instances SET status = ?, updated_at = ? WHERE id = ?",
                    (status, self.clock(), instance_id),
                ).rowcount
                > 0
            )

    def record_trigger_success(self, instance_id: str) -> None:
        """Note a successful delivery or sync (clears the last error)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE trigger_instances SET last_success_at = ?, last_error = NULL, last_error_at = NULL"
                " WHERE id = ?",
                (self.clock(), instance_id),
            )

    def record_trigger_error(self, instance_id: str, message: str) -> None:
        """Note a failure; the message must not contain secrets (it is shown in listings)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE trigger_instances SET last_error = ?, last_error_at = ? WHERE id = ?",
                ((message or "failed")[:2000], self.clock(), instance_id),
            )

    def delete_trigger_instance(self, instance_id: str) -> bool:
        """Forget the instance, its queued notifications and its delivered keys. False if unknown."""
        with self.transaction() as db:
            db.execute("DELETE FROM trigger_queue WHERE instance_id = ?", (instance_id,))
            db.execute("DELETE FROM trigger_delivered WHERE instance_id = ?", (instance_id,))
            return db.execute("DELETE FROM trigger_instances WHERE id = ?", (instance_id,)).rowcount > 0

    # -- durable notification queue --------------------------------------------------------------------
    def enqueue_notifications(self, instance_id: str, kind: str, items: list[dict[str, Any]]) -> int:
        """Queue notification items (``kind`` "change" or "lifecycle") in one transaction: all of
        them or none. Returns how many rows were added. Raises ``UnknownTriggerInstanceError`` if
        the instance does not exist."""
        import sqlite3

        statements = _queue_inserts(instance_id, [(kind, item) for item in items], self.clock())
        if not statements:
            return 0
        try:
            with self.transaction() as db:
                for sql, parameters, _ in statements:
                    db.execute(sql, parameters)
        except sqlite3.IntegrityError:  # the foreign key: no such instance
            raise UnknownTriggerInstanceError(f"no trigger instance {instance_id!r}") from None
        return len(items)

    def enqueue_checked_notifications(
        self, groups: Sequence[tuple[str, bytes, Sequence[tuple[str, Mapping[str, Any]]]]]
    ) -> list[bool]:
        """The receiver's write where the inbox is not supported (no flock): (instance id, sealed
        clientState, (kind, item) rows) groups, in ONE transaction. A group is queued whole only
        if its instance exists, is not disabled and still has that sealed clientState (the one its
        items were checked against); otherwise none of its rows are, and the other groups are not
        affected. Returns, per group, whether it was queued."""
        now = self.clock()
        with self.transaction() as db:
            return [
                _queue_checked(db, instance_id, sealed, rows, now) for instance_id, sealed, rows in groups
            ]

    def absorb_inbox(self) -> int:
        """Move what receivers appended to the inbox (``connector.inbox``) into the queue and
        return how many items were queued. Each record is moved once whichever thread or process
        calls this: the moved length of a segment is stored in the transaction that queues its
        rows. Like ``enqueue_checked_notifications``, a record is dropped (and logged) if its
        instance is gone, disabled or has another clientState than the one it was checked
        against. Finished segments are deleted once moved. ``claim_notifications`` and
        ``pending_notification_count`` call this first."""
        from connector import inbox

        if not inbox.SUPPORTED:  # pragma: no cover - receivers write to the queue directly
            return 0
        queued = 0
        found = inbox.segments(self.inbox_dir)
        for gone in self._inbox_moved.keys() - {path.name for path in found}:
            self._inbox_moved.pop(gone, None)  # deleted by another process
        for path in found:
            try:
                with inbox.hold_if_finished(path) as finished:
                    if finished or self._inbox_moved.get(path.name) != path.stat().st_size:
                        queued += self._absorb_segment(path, finished=finished)
            except FileNotFoundError:
                continue  # deleted by another reader meanwhile
            except Exception:  # one bad segment must not stop the others, nor the queue
                log.exception("could not move inbox segment %s into the queue", path.name)
        return queued

    def _absorb_segment(self, path: Path, *, finished: bool) -> int:
        from connector import inbox

        queued = 0
        with open(path, "rb") as segment:
            while True:
                with self.transaction() as db:
                    if not inbox.names_open_file(path, segment.fileno()):
                        raise FileNotFoundError(path)
                    # Still there with the write lock held: a reader that finished the segment
                    # deletes the file before its moved length, so that length is not gone yet.
                    row = db.execute(
                        "SELECT moved_bytes FROM trigger_inbox WHERE segment = ?", (path.name,)
                    ).fetchone()
                    moved = int(row[0]) if row else 0
                    segment.seek(moved)
                    data = segment.read(_INBOX_READ_BYTES)
                    records, used = inbox.decode(data + segment.read(inbox.missing_bytes(data)))
                    for record in records:
                        queued += _queue_record(db, record)
                    if used:
                        db.execute(
                            "INSERT INTO trigger_inbox (segment, moved_bytes) VALUES (?, ?)"
                            " ON CONFLICT (segment) DO UPDATE SET moved_bytes = excluded.moved_bytes",
                            (path.name, moved + used),
                        )
                self._inbox_moved[path.name] = moved + used
                if not used or len(data) < _INBOX_READ_BYTES:
                    break
        if finished:  # nothing will be appended: what is left is a torn tail
            torn = path.stat().st_size - self._inbox_moved[path.name]
            if torn:
                log.warning(
                    "inbox segment %s: dropped a torn tail of %d bytes (never answered 202)", path.name, torn
                )
            path.unlink()  # before its moved length is forgotten, so it can never be moved twice
            with self.transaction() as db:
                db.execute("DELETE FROM trigger_inbox WHERE segment = ?", (path.name,))
            self._inbox_moved.pop(path.name, None)
        return queued

    def claim_notifications(
        self, worker: str, limit: int = 100, lease_seconds: float = 60
    ) -> list[QueuedNotification]:
        """Claim up to ``limit`` due rows, oldest first, for ``lease_seconds``: no other claim
        (thread or process) gets them until the lease runs out, after which they are due again
        (a worker that died loses them to the next claim). Finish each with ``complete_notification``
        or ``retry_notification``. The inbox is moved into the queue first."""
        if limit <= 0:
            return []
        import orjson

        self.absorb_inbox()

        now = self.clock()
        with self.transaction() as db:
            rows = db.execute(
                "SELECT seq, instance_id, kind, item, received_at, attempts FROM trigger_queue"
                " WHERE available_at <= ? ORDER BY seq LIMIT ?",
                (now, limit),
            ).fetchall()
            if rows:
                db.executemany(
                    "UPDATE trigger_queue SET available_at = ?, attempts = attempts + 1, claimed_by = ?"
                    " WHERE seq = ?",
                    [(now + lease_seconds, worker, row[0]) for row in rows],
                )
        return [
            QueuedNotification(
                seq=seq,
                instance_id=instance_id,
                kind=kind,
                item=orjson.loads(item),
                received_at=received_at,
                attempts=attempts + 1,
            )
            for seq, instance_id, kind, item, received_at, attempts in rows
        ]

    def complete_notification(self, seq: int) -> None:
        """The row was handled: remove it from the queue."""
        with self.transaction() as db:
            db.execute("DELETE FROM trigger_queue WHERE seq = ?", (seq,))

    def retry_notification(self, seq: int, error: str, delay: float) -> None:
        """The row failed: release it, due again in ``delay`` seconds (``error`` kept for listings)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE trigger_queue SET available_at = ?, claimed_by = NULL, last_error = ? WHERE seq = ?",
                (self.clock() + max(0.0, delay), (error or "failed")[:2000], seq),
            )

    def pending_notification_count(self, instance_id: str | None = None) -> int:
        """Rows not completed yet (due, waiting for a retry, or claimed), of one instance or all."""
        self.absorb_inbox()
        with self.read() as db:
            if instance_id is None:
                row = db.execute("SELECT COUNT(*) FROM trigger_queue").fetchone()
            else:
                row = db.execute(
                    "SELECT COUNT(*) FROM trigger_queue WHERE instance_id = ?", (instance_id,)
                ).fetchone()
        return int(row[0])

    # -- delivered keys (exactly once) -----------------------------------------------------------------
    def mark_delivered(self, instance_id: str, dedupe_key: str) -> bool:
        """Remember that this change was delivered; True the first time (atomic across threads and
        processes: of two concurrent calls exactly one gets True)."""
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO trigger_delivered (instance_id, dedupe_key, delivered_at)"
                " VALUES (?, ?, ?)",
                (instance_id, dedupe_key, self.clock()),
            )
            return cursor.rowcount > 0

    def was_delivered(self, instance_id: str, dedupe_key: str) -> bool:
        with self.read() as db:
            row = db.execute(
                "SELECT 1 FROM trigger_delivered WHERE instance_id = ? AND dedupe_key = ?",
                (instance_id, dedupe_key),
            ).fetchone()
        return row is not None

    def prune_delivered(self, older_than: float = 7 * 86400.0) -> int:
        """Forget delivered keys older than ``older_than`` seconds (Graph does not redeliver a
        notification after a few hours, and delta reports a change once); returns how many."""
        with self.transaction() as db:
            return db.execute(
                "DELETE FROM trigger_delivered WHERE delivered_at < ?", (self.clock() - older_than,)
            ).rowcount


def _label(*parts: str) -> bytes:
    """Associated data binding a sealed value to what it belongs to."""
    return "\0".join(parts).encode("utf-8")


def _queue_inserts(
    instance_id: str,
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    now: float,
    *,
    checked_against: bytes | None = None,
) -> list[tuple[str, list[Any], int]]:
    """(SQL, parameters, row count) of the INSERTs that queue ``rows`` ((kind, item) pairs), at
    most ``_ROWS_PER_INSERT`` rows each (one multi-row statement is faster than executemany).
    With ``checked_against`` (a sealed clientState) a statement inserts nothing unless the
    instance exists, is not disabled and still has that clientState. Items are serialized with
    orjson, as the receiver writes every item it accepts."""
    import orjson

    encoded: list[tuple[str, str]] = []
    for kind, item in rows:
        if kind not in ("change", "lifecycle"):
            raise ConfigurationError(f"invalid notification kind {kind!r}: change or lifecycle")
        encoded.append((kind, orjson.dumps(item).decode("utf-8")))
    condition, condition_parameters = "", []
    if checked_against is not None:
        condition = (
            " WHERE EXISTS (SELECT 1 FROM trigger_instances WHERE id = ?"
            " AND status != 'disabled' AND client_state = ?)"
        )
        condition_parameters = [instance_id, checked_against]
    statements = []
    for start in range(0, len(encoded), _ROWS_PER_INSERT):
        chunk = encoded[start : start + _ROWS_PER_INSERT]
        sql = (
            "INSERT INTO trigger_queue (instance_id, kind, item, received_at, available_at)"
            " SELECT ?, column1, column2, ?, ? FROM (VALUES "
            + ", ".join(["(?, ?)"] * len(chunk))
            + ")"
            + condition
        )
        values = [value for pair in chunk for value in pair]
        statements.append((sql, [instance_id, now, now, *values, *condition_parameters], len(chunk)))
    return statements


def _queue_checked(
    db: sqlite3.Connection,
    instance_id: str,
    sealed: bytes,
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    now: float,
) -> bool:
    """In ``db``'s open transaction, queue all ``rows`` if the instance exists, is not disabled and
    still has the sealed clientState ``sealed``, else none (False; so for no rows)."""
    statements = _queue_inserts(instance_id, rows, now, checked_against=sealed)
    for sql, parameters, count in statements:
        if db.execute(sql, parameters).rowcount != count:
            return False  # refused by the first statement: the same check holds for the others
    return bool(statements)


def _queue_record(db: sqlite3.Connection, record: InboxRecord) -> int:
    """Queue an inbox record in ``db``'s open transaction; how many items were queued (0 if its
    instance refused them, logged)."""
    if _queue_checked(db, record.instance_id, record.sealed_client_state, record.rows, record.received_at):
        return len(record.rows)
    log.warning(
        "trigger %s: dropped %d notification(s): the instance was disabled, deleted or"
        " given a new clientState after they were received",
        record.instance_id,
        len(record.rows),
    )
    return 0


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _check_status(status: str) -> None:
    if status not in TRIGGER_STATUSES:
        raise ConfigurationError(f"invalid trigger status {status!r}: one of {', '.join(TRIGGER_STATUSES)}")


def _check_name(name: str) -> None:
    if not name or not name.strip() or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ConfigurationError(
            f"invalid connection name {name!r}: 1 to 200 characters, no control characters"
        )


def _record(row: tuple[Any, ...]) -> ConnectionRecord:
    name, type_key, config, created, updated, success, error, error_at, has_tokens = row[:9]
    return ConnectionRecord(
        name=name,
        type_key=type_key,
        config=json.loads(config),
        created_at=created,
        updated_at=updated,
        last_success_at=success,
        last_error=error,
        last_error_at=error_at,
        has_tokens=bool(has_tokens),
    )
