"""The connector's state: connections and their tokens, a key-value table, trigger instances, the
durable notification queue and delivered keys, permission policies, approvals and the audit log,
in one SQLite database.

    store = Store()                      # $OUTLOOK_CONNECTOR_HOME/state.db (~/.outlook-connector)
    store.save_connection(ConnectionRecord("work", "oauth2_code", {"tenant": "common"}, {...}))
    store.save_tokens("work", {...})     # atomic; encrypted
    store.kv_put("delta", "work:inbox", "https://graph.microsoft.com/...deltatoken=...")

One protocol per concern (``connector.store.interfaces``); ``Store`` implements each once
(``connections``, ``kv``, ``triggers``, ``queue``, ``delivered``, ``policies``, ``approvals``,
``audit``) in plain SQL over a database backend (``connector.store.sqlite``). Safe to share
between threads (each operation borrows a pooled connection) and between processes (``lock()`` for
longer critical sections such as a token refresh). The schema is versioned by the
``schema_migrations`` table; later features add tables by appending to the backend's ``MIGRATIONS``.

The receiver appends notifications to the inbox beside the database (``connector.inbox``);
``absorb_inbox`` moves them into the queue, and every claim calls it first.

Secrets, tokens and ``encrypt=True`` values are sealed with AES-256-GCM (``connector.crypto``),
bound to what they belong to (the connection name; the namespace and key), so a sealed value
cannot be moved to another row unnoticed. ``sqlite3``, ``cryptography`` and ``orjson`` are imported
lazily.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from connector.store.approvals import Approvals
from connector.store.audit import AuditTable
from connector.store.connections import Connections
from connector.store.core import DB_FILE_NAME, DEFAULT_HOME, HOME_ENV, default_home
from connector.store.delivered import Delivered
from connector.store.interfaces import (
    ApprovalStore,
    AuditLog,
    ConnectionStore,
    Database,
    DeliveredKeys,
    KeyValueStore,
    NotificationQueue,
    PolicyStore,
    TriggerInstanceStore,
)
from connector.store.kv import KeyValues
from connector.store.policies import Policies
from connector.store.queue import Queue
from connector.store.records import (
    TRIGGER_STATUSES,
    ConnectionRecord,
    QueuedNotification,
    ReceiverAccess,
    TriggerInstance,
    UnknownTriggerInstanceError,
)
from connector.store.sqlite import MIGRATIONS, Migration, SQLiteDatabase
from connector.store.triggers import TriggerInstances


class Store(Connections, KeyValues, TriggerInstances, Queue, Delivered, Policies, Approvals, AuditTable):
    """State database; see the package docstring. ``key`` (32 bytes) overrides the key lookup."""

    inbox_dir: Path

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        key: bytes | None = None,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_home() / DB_FILE_NAME
        self.lock_dir = self.path.with_name(self.path.name + ".locks")
        self.inbox_dir = self.path.with_name(self.path.name + ".inbox")
        self._inbox_moved = {}
        database = SQLiteDatabase(self.path, clock=clock, busy_timeout=busy_timeout)
        self._init_core(database, self.path.parent / "secret.key", key, clock)
        database.on_fork = self._forget_cipher

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    def describe(self) -> str:
        return str(self.path)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = [
    "DB_FILE_NAME",
    "DEFAULT_HOME",
    "HOME_ENV",
    "MIGRATIONS",
    "TRIGGER_STATUSES",
    "ApprovalStore",
    "AuditLog",
    "ConnectionRecord",
    "ConnectionStore",
    "Database",
    "DeliveredKeys",
    "KeyValueStore",
    "Migration",
    "NotificationQueue",
    "PolicyStore",
    "QueuedNotification",
    "ReceiverAccess",
    "Store",
    "TriggerInstance",
    "TriggerInstanceStore",
    "UnknownTriggerInstanceError",
    "default_home",
]
