"""Policies: one per connection name, and the default (stored under the name ``""``)."""

from __future__ import annotations

import json
from typing import Any

from connector.store.core import StoreCore


class Policies(StoreCore):
    """``PolicyStore`` over the backend: policies as JSON by connection (``None``: the default)."""

    def get_policy(self, connection: str | None) -> dict[str, Any] | None:
        with self.db.read() as db:
            row = db.execute(
                "SELECT policy FROM policies WHERE connection_name = ?", (connection or "",)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def set_policy(self, connection: str | None, policy: dict[str, Any]) -> None:
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO policies (connection_name, policy, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (connection_name) DO UPDATE SET policy = excluded.policy,"
                " updated_at = excluded.updated_at",
                (connection or "", json.dumps(policy, sort_keys=True), self.clock()),
            )

    def delete_policy(self, connection: str | None) -> bool:
        with self.db.transaction() as db:
            cursor = db.execute("DELETE FROM policies WHERE connection_name = ?", (connection or "",))
            return cursor.rowcount > 0
