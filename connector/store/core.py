"""What every concern of the store shares: the database backend, the clock and the cipher."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.errors import ConfigurationError
from connector.store.interfaces import Connection, Database
from connector.store.records import SCOPES, TRIGGER_STATUSES, Principal, split_stored_name, stored_name

if TYPE_CHECKING:
    from connector.crypto import Cipher

HOME_ENV = "OUTLOOK_CONNECTOR_HOME"
DEFAULT_HOME = "~/.outlook-connector"
DB_FILE_NAME = "state.db"
STORE_ENV = "OUTLOOK_CONNECTOR_STORE"
"""A ``postgresql://`` URL (or a SQLite file path) of the store, instead of the home's state.db."""

_KEY_CHECK = b"outlook-connector key check"
RESEAL_FLAG = "reseal_tenant_names"
"""meta row left by migration 7: tenants' connections it renamed still hold secrets and tokens
sealed under their plain names; the first process holding the key seals them under their new ones."""


def default_home() -> Path:
    """``$OUTLOOK_CONNECTOR_HOME``, else ``~/.outlook-connector``."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()


class StoreCore:
    """The backend (``self.db``), the clock and the cipher; the concerns build on it."""

    db: Database
    clock: Callable[[], float]
    key_file: Path
    _key: bytes | None
    _cipher: Cipher | None
    _cipher_guard: threading.Lock

    principal: Principal | None
    """Who this store acts for (None: the host itself, which sees everything)."""

    def _init_core(self, db: Database, key_file: Path, key: bytes | None, clock: Callable[[], float]) -> None:
        self.db, self.key_file, self._key, self.clock = db, key_file, key, clock
        self._cipher, self._cipher_guard = None, threading.Lock()

    def _visible(self, prefix: str = "") -> tuple[str, tuple[str, ...]]:
        """SQL condition (starting with " AND") and its parameters: rows (of connections or
        trigger_instances, columns prefixed ``prefix``) this store's principal may see and use."""
        if self.principal is None:
            return "", ()
        return (
            f" AND {prefix}tenant = ? AND ({prefix}scope = 'organization' OR {prefix}owner = ?)",
            (self.principal.tenant, self.principal.user),
        )

    def _own_connections(self, column: str = "connection_name") -> tuple[str, tuple[str, ...]]:
        """SQL condition (" AND ...") and parameters: rows whose ``column`` names a connection this
        store's principal may use (approvals, audit records); nothing added for the host."""
        visible, parameters = self._visible()
        if not visible:
            return "", ()
        return f" AND {column} IN (SELECT name FROM connections WHERE 1 = 1{visible})", parameters

    def _own_instances(self) -> tuple[str, tuple[str, ...]]:
        """SQL condition (" AND ...") and parameters: rows whose ``instance_id`` is a trigger
        instance this store's principal may use (queued notifications, outbox events); nothing
        added for the host."""
        visible, parameters = self._visible()
        if not visible:
            return "", ()
        return f" AND instance_id IN (SELECT id FROM trigger_instances WHERE 1 = 1{visible})", parameters

    def storage_name(self, name: str) -> str:
        """The name connection ``name`` (as this store's caller names it) is kept under
        (``records.stored_name``): qualified with the principal's tenant on a bound store, as given
        on the host's. Anything else keyed by a connection (locks, kv keys, client caches) uses it,
        so a bound store and the host (the receiver, the worker) meet on one key."""
        if self.principal is None:
            return name
        return stored_name(self.principal.tenant, name)

    def _shown(self, stored: str) -> str:
        """A stored connection name as this store's caller names it (the inverse of ``storage_name``)."""
        if self.principal is None:
            return stored
        tenant, name = split_stored_name(stored)
        return name if tenant == self.principal.tenant else stored

    def tenant_prefix(self, connection: str) -> str:
        """A prefix for keys (kv) a connection's tenant owns alone: "" without a tenant (keys as
        before tenants), else tenant U+001F; the same on a bound store and the host's."""
        tenant = split_stored_name(self.storage_name(connection))[0]
        return stored_name(tenant, "")

    def name_in_tenant(self, tenant: str, name: str) -> str:
        """How this store addresses connection ``name`` (a plain name, e.g. a shared mailbox's
        ``via``) of ``tenant``: plainly when bound (its own tenant), by stored name on the host's."""
        return name if self.principal is not None else stored_name(tenant, name)

    def _ownership(self, tenant: str, owner: str, scope: str) -> tuple[str, str, str]:
        """(tenant, owner, scope) a saved row gets: the principal's tenant and user when bound."""
        check_scope(scope)
        if self.principal is None:
            return tenant, owner, scope
        return self.principal.tenant, self.principal.user, scope

    def _forget_cipher(self) -> None:
        self._cipher = None

    # -- life cycle ----------------------------------------------------------------------------------
    def schema_version(self) -> int:
        return self.db.schema_version()

    def close(self) -> None:
        """Close the backend's pooled connections (connections in use close when given back)."""
        self.db.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads, in the backend's SQL (``?`` placeholders on both)."""
        with self.db.read() as connection:
            yield connection

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on error."""
        with self.db.transaction() as connection:
            yield connection

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """Hold the lock called ``name`` against other threads and processes using this store
        (for longer critical sections such as a token refresh)."""
        with self.db.lock(name):
            yield

    # -- encryption ----------------------------------------------------------------------------------
    def cipher(self) -> Cipher:
        """The cipher for this store, checked against the key the store was first sealed with."""
        with self._cipher_guard:
            if self._cipher is not None:
                return self._cipher
        from connector.crypto import Cipher, DecryptionError, load_key

        cipher = Cipher(self._key if self._key is not None else load_key(self.key_file))
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('key_check', ?) ON CONFLICT (key) DO NOTHING",
                (cipher.seal(_KEY_CHECK, b"key-check"),),
            )
            row = db.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
        try:
            cipher.open(bytes(row[0]), b"key-check", "the key check")
        except DecryptionError:
            raise ConfigurationError(
                f"the encryption key is not the one {self.describe()} was written with: set "
                "OUTLOOK_CONNECTOR_KEY to the original key (or restore its secret.key file), or "
                "start over with a new state database"
            ) from None
        self._reseal_renamed(cipher)
        with self._cipher_guard:
            self._cipher = cipher
        return cipher

    def _reseal_renamed(self, cipher: Cipher) -> None:
        """Once after migration 7 (``RESEAL_FLAG``): seal the secrets and tokens of the tenants'
        connections it renamed under their stored names (each is tried under its plain name; one
        that does not open so was sealed under its stored name already)."""
        from connector.crypto import DecryptionError

        with self.db.read() as db:  # nearly always absent: no write transaction at every start
            if db.execute("SELECT key FROM meta WHERE key = ?", (RESEAL_FLAG,)).fetchone() is None:
                return
        with self.db.transaction() as db:
            flagged = db.execute("SELECT key FROM meta WHERE key = ?" + self.db.for_update, (RESEAL_FLAG,))
            if flagged.fetchone() is None:
                return
            rows = db.execute("SELECT name, secrets, tokens FROM connections WHERE tenant <> ''").fetchall()
            for name, *sealed in rows:
                plain = split_stored_name(name)[1]
                for column, blob in zip(("secrets", "tokens"), sealed, strict=True):
                    if blob is None:
                        continue
                    try:
                        data = cipher.open(bytes(blob), label(column, plain), f"the {column} of {plain!r}")
                    except DecryptionError:
                        continue
                    db.execute(
                        f"UPDATE connections SET {column} = ? WHERE name = ?",
                        (cipher.seal(data, label(column, name)), name),
                    )
            db.execute("DELETE FROM meta WHERE key = ?", (RESEAL_FLAG,))

    def describe(self) -> str:
        """Where the state is (for messages; never with a password)."""
        return repr(self)

    def _seal_json(self, value: Any, label: bytes) -> bytes:
        data = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return self.cipher().seal(data, label)

    def _open_json(self, sealed: bytes, label: bytes, what: str) -> Any:
        return json.loads(self.cipher().open(bytes(sealed), label, what))


def label(*parts: str) -> bytes:
    """Associated data binding a sealed value to what it belongs to."""
    return "\0".join(parts).encode("utf-8")


def dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def check_status(status: str) -> None:
    if status not in TRIGGER_STATUSES:
        raise ConfigurationError(f"invalid trigger status {status!r}: one of {', '.join(TRIGGER_STATUSES)}")


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ConfigurationError(f"invalid scope {scope!r}: one of {', '.join(SCOPES)}")


def check_name(name: str) -> None:
    if not name or not name.strip() or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise ConfigurationError(
            f"invalid connection name {name!r}: 1 to 200 characters, no control characters"
        )
