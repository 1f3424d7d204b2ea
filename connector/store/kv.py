"""The key-value table: JSON values by (namespace, key), optionally encrypted, optionally expiring."""

from __future__ import annotations

import json
from typing import Any

from connector.store.core import StoreCore, label


class KeyValues(StoreCore):
    """``KeyValueStore`` over the backend; ``encrypt=True`` values are sealed, bound to their
    namespace and key."""

    def kv_put(
        self, namespace: str, key: str, value: Any, *, encrypt: bool = False, ttl: float | None = None
    ) -> None:
        """Store JSON-serializable ``value`` under (namespace, key), replacing any; ``ttl`` seconds."""
        blob, now = self._kv_blob(namespace, key, value, encrypt), self.clock()
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO kv (namespace, key, value, encrypted, updated_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET"
                " value = excluded.value, encrypted = excluded.encrypted,"
                " updated_at = excluded.updated_at, expires_at = excluded.expires_at",
                (namespace, key, blob, int(encrypt), now, None if ttl is None else now + ttl),
            )

    def kv_add(
        self, namespace: str, key: str, value: Any = True, *, encrypt: bool = False, ttl: float | None = None
    ) -> bool:
        """Store the value only if the key is absent (or expired); True if this call stored it.
        Atomic across threads and processes (e.g. "have I seen this notification before?")."""
        blob, now = self._kv_blob(namespace, key, value, encrypt), self.clock()
        with self.db.transaction() as db:
            db.execute(
                "DELETE FROM kv WHERE namespace = ? AND key = ? AND expires_at <= ?", (namespace, key, now)
            )
            cursor = db.execute(
                "INSERT INTO kv (namespace, key, value, encrypted, updated_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, key) DO NOTHING",
                (namespace, key, blob, int(encrypt), now, None if ttl is None else now + ttl),
            )
            return cursor.rowcount > 0

    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any:
        with self.db.read() as db:
            row = db.execute(
                "SELECT value, encrypted FROM kv WHERE namespace = ? AND key = ?"
                " AND (expires_at IS NULL OR expires_at > ?)",
                (namespace, key, self.clock()),
            ).fetchone()
        return default if row is None else self._kv_value(namespace, key, row[0], row[1])

    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, Any]]:
        """Unexpired (key, value) pairs of a namespace whose key starts with ``prefix``, by key."""
        with self.db.read() as db:
            rows = db.execute(
                "SELECT key, value, encrypted FROM kv WHERE namespace = ? AND substr(key, 1, ?) = ?"
                " AND (expires_at IS NULL OR expires_at > ?) ORDER BY key",
                (namespace, len(prefix), prefix, self.clock()),
            ).fetchall()
        return [(k, self._kv_value(namespace, k, v, enc)) for k, v, enc in rows]

    def kv_delete(self, namespace: str, key: str) -> bool:
        with self.db.transaction() as db:
            return db.execute("DELETE FROM kv WHERE namespace = ? AND key = ?", (namespace, key)).rowcount > 0

    def kv_purge_expired(self) -> int:
        """Delete expired entries; returns how many."""
        with self.db.transaction() as db:
            return db.execute("DELETE FROM kv WHERE expires_at <= ?", (self.clock(),)).rowcount

    def _kv_blob(self, namespace: str, key: str, value: Any, encrypt: bool) -> bytes:
        if encrypt:
            return self._seal_json(value, label("kv", namespace, key))
        return json.dumps(value, separators=(",", ":")).encode("utf-8")

    def _kv_value(self, namespace: str, key: str, blob: bytes, encrypted: int) -> Any:
        if encrypted:
            return self._open_json(blob, label("kv", namespace, key), f"the value of {namespace}/{key}")
        return json.loads(bytes(blob))
