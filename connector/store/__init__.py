"""The connector's state: connections and their tokens, a key-value table, trigger instances, the
durable notification queue, delivered keys, leases, permission policies, approvals and the audit
log, in one SQLite database (the default) or one PostgreSQL database shared by many machines.

    store = Store()                      # $OUTLOOK_CONNECTOR_STORE, else $OUTLOOK_CONNECTOR_HOME/state.db
    store = Store("postgresql://user:password@db/outlook")
    store.save_connection(ConnectionRecord("work", "oauth2_code", {"tenant": "common"}, {...}))
    store.save_tokens("work", {...})     # atomic; encrypted
    store.kv_put("delta", "work:inbox", "https://graph.microsoft.com/...deltatoken=...")

One protocol per concern (``connector.store.interfaces``); ``Store`` implements each once
(``connections``, ``kv``, ``triggers``, ``queue``, ``delivered``, ``events`` (the delivery record
and the outbox of trigger events), ``leases``, ``slots``, ``policies``, ``approvals``, ``audit``)
in plain SQL over a database backend (``connector.store.sqlite``,
``connector.store.postgres``). Safe to share between threads (each operation borrows a pooled
connection) and between processes and machines (``lock()`` for longer critical sections such as a
token refresh; leases for jobs one worker does at a time). The schema is versioned by the
``schema_migrations`` table with the same versions on both backends; later features add tables by
appending to ``connector.store.migrations.SCHEMA`` (both backends' ``MIGRATIONS``).

On SQLite the receiver appends notifications to the inbox beside the database
(``connector.inbox``); ``absorb_inbox`` moves them into the queue, and every claim calls it first.
On PostgreSQL receivers write to the queue directly.

A store bound to a ``Principal`` (a member of a tenant: ``principal=``, ``for_principal`` or
``$OUTLOOK_CONNECTOR_TENANT`` + ``$OUTLOOK_CONNECTOR_USER``) sees and changes only what that
member may use; an unbound store is the host's and sees everything. Connection names are unique
per tenant: a tenant's connection is kept as ``stored_name(tenant, name)`` (tenant U+001F name),
the name the host's store, its trigger instances, approvals and audit records use; a bound store
names it plainly.

Secrets, tokens and ``encrypt=True`` values are sealed with AES-256-GCM (``connector.crypto``),
bound to what they belong to (the connection's stored name; the namespace and key), so a sealed value
cannot be moved to another row unnoticed. ``sqlite3``, ``psycopg``, ``cryptography`` and
``orjson`` are imported lazily.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from connector.errors import ConfigurationError
from connector.store.approvals import Approvals
from connector.store.audit import AuditTable
from connector.store.connections import Connections
from connector.store.core import DB_FILE_NAME, DEFAULT_HOME, HOME_ENV, STORE_ENV, default_home
from connector.store.delivered import Delivered
from connector.store.events import DeliveryCommit, StoredTriggerEvent, TriggerEvents
from connector.store.interfaces import (
    ApprovalStore,
    AuditLog,
    ConnectionStore,
    Database,
    DeliveredKeys,
    DeliveryRecords,
    KeyValueStore,
    LeaseStore,
    NotificationQueue,
    PolicyStore,
    SlotStore,
    TriggerInstanceStore,
)
from connector.store.kv import KeyValues
from connector.store.leases import Leases
from connector.store.migrations import Migration
from connector.store.policies import Policies
from connector.store.postgres import URL_SCHEMES, redacted
from connector.store.queue import Queue
from connector.store.records import (
    SCOPES,
    TENANT_SEPARATOR,
    TRIGGER_STATUSES,
    ConnectionRecord,
    Principal,
    QueuedNotification,
    ReceiverAccess,
    TriggerInstance,
    UnknownTriggerInstanceError,
    split_stored_name,
    stored_name,
)
from connector.store.slots import Slots
from connector.store.sqlite import MIGRATIONS, SQLiteDatabase
from connector.store.triggers import TriggerInstances

TENANT_ENV = "OUTLOOK_CONNECTOR_TENANT"
USER_ENV = "OUTLOOK_CONNECTOR_USER"


def principal_from_env() -> Principal | None:
    """``$OUTLOOK_CONNECTOR_TENANT`` and ``$OUTLOOK_CONNECTOR_USER``, when the tenant is set (the
    CLI, MCP server or host process then acts for that member of that tenant only)."""
    tenant = os.environ.get(TENANT_ENV)
    if not tenant:
        return None
    user = os.environ.get(USER_ENV)
    if not user:
        raise ConfigurationError(f"${TENANT_ENV} is set: set ${USER_ENV} too (the member acting)")
    return Principal(tenant, user)


class Store(
    Connections,
    KeyValues,
    TriggerInstances,
    Queue,
    Delivered,
    TriggerEvents,
    Leases,
    Slots,
    Policies,
    Approvals,
    AuditTable,
):
    """State database; see the package docstring. ``location`` is a SQLite file path or a
    ``postgresql://`` URL; without it ``$OUTLOOK_CONNECTOR_STORE``, else
    ``$OUTLOOK_CONNECTOR_HOME/state.db``. ``key`` (32 bytes) overrides the key lookup."""

    path: Path | None
    """The SQLite file (None on PostgreSQL)."""
    lock_dir: Path | None
    """The SQLite backend's lock files (None on PostgreSQL)."""
    inbox_dir: Path | None
    """Where receivers append (SQLite only; on PostgreSQL they write to the queue directly)."""

    def __init__(
        self,
        location: Path | str | None = None,
        *,
        key: bytes | None = None,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 30.0,
        principal: Principal | None = None,
    ) -> None:
        if location is None:
            location = os.environ.get(STORE_ENV) or None
        self.principal = principal if principal is not None else principal_from_env()
        self._inbox_moved = {}
        if isinstance(location, str) and location.startswith(URL_SCHEMES):
            from connector.store.postgres import PostgresDatabase

            self.url: str | None = location
            self.path = self.inbox_dir = self.lock_dir = None
            postgres = PostgresDatabase(location, clock=clock)
            self._init_core(postgres, default_home() / "secret.key", key, clock)
            postgres.on_fork = self._forget_cipher
            return
        self.url = None
        path = Path(location).expanduser() if location is not None else default_home() / DB_FILE_NAME
        self.path = path
        self.inbox_dir = path.with_name(path.name + ".inbox")
        database = SQLiteDatabase(path, clock=clock, busy_timeout=busy_timeout)
        self.lock_dir = database.lock_dir
        self._init_core(database, path.parent / "secret.key", key, clock)
        database.on_fork = self._forget_cipher

    def __repr__(self) -> str:
        return f"Store({self.describe()!r})"

    def describe(self) -> str:
        """The SQLite file, or the PostgreSQL URL without user and password."""
        return str(self.path) if self.url is None else redacted(self.url)

    def for_principal(self, principal: Principal | None) -> Store:
        """The same database (and pool: closing either closes both), acting for ``principal``
        (None: the host, which sees everything)."""
        view = object.__new__(Store)
        view.__dict__.update(self.__dict__)
        view.principal = principal
        view._inbox_moved = {}
        return view

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = [
    "DB_FILE_NAME",
    "DEFAULT_HOME",
    "HOME_ENV",
    "MIGRATIONS",
    "SCOPES",
    "STORE_ENV",
    "TENANT_ENV",
    "TENANT_SEPARATOR",
    "TRIGGER_STATUSES",
    "USER_ENV",
    "ApprovalStore",
    "AuditLog",
    "ConnectionRecord",
    "ConnectionStore",
    "Database",
    "DeliveredKeys",
    "DeliveryCommit",
    "DeliveryRecords",
    "KeyValueStore",
    "LeaseStore",
    "Migration",
    "NotificationQueue",
    "PolicyStore",
    "Principal",
    "QueuedNotification",
    "ReceiverAccess",
    "SlotStore",
    "Store",
    "StoredTriggerEvent",
    "TriggerInstance",
    "TriggerInstanceStore",
    "UnknownTriggerInstanceError",
    "default_home",
    "principal_from_env",
    "split_stored_name",
    "stored_name",
]
