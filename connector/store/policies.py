"""Policies: one per connection (by its stored name), a default per tenant, and the host's default
(stored under the name ``""``)."""

from __future__ import annotations

import json
from typing import Any

from connector.store.core import StoreCore
from connector.store.records import TENANT_SEPARATOR, split_stored_name, stored_name


def tenant_default(tenant: str) -> str:
    """The name a tenant's default policy is kept under (tenant U+001F, no connection name)."""
    return tenant + TENANT_SEPARATOR if tenant else ""


class Policies(StoreCore):
    """``PolicyStore`` over the backend: policies as JSON by connection (``None``: the default).

    A bound store reads and writes its tenant's policies only: ``None`` is its tenant's default,
    which when unset falls back to the host's. The host names a tenant's connection by its stored
    name; ``policy_for_connection`` resolves a connection's policy the same way for both."""

    def _policy_key(self, connection: str | None) -> str:
        if self.principal is None:
            return connection or ""
        if not connection:
            return tenant_default(self.principal.tenant)
        return stored_name(self.principal.tenant, connection)

    def get_policy(self, connection: str | None) -> dict[str, Any] | None:
        keys = [self._policy_key(connection)]
        if connection is None and self.principal is not None:
            keys.append("")  # the tenant's default, else the host's
        with self.db.read() as db:
            for key in keys:
                row = db.execute("SELECT policy FROM policies WHERE connection_name = ?", (key,)).fetchone()
                if row is not None:
                    return dict(json.loads(row[0]))
        return None

    def default_policy_for(self, connection: str) -> dict[str, Any] | None:
        """The default that applies to ``connection`` (named as this store names it): its tenant's,
        else the host's (None: neither is set)."""
        tenant = split_stored_name(self.storage_name(connection))[0]
        with self.db.read() as db:
            for key in dict.fromkeys((tenant_default(tenant), "")):
                row = db.execute("SELECT policy FROM policies WHERE connection_name = ?", (key,)).fetchone()
                if row is not None:
                    return dict(json.loads(row[0]))
        return None

    def set_policy(self, connection: str | None, policy: dict[str, Any]) -> None:
        with self.db.transaction() as db:
            db.execute(
                "INSERT INTO policies (connection_name, policy, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (connection_name) DO UPDATE SET policy = excluded.policy,"
                " updated_at = excluded.updated_at",
                (self._policy_key(connection), json.dumps(policy, sort_keys=True), self.clock()),
            )

    def delete_policy(self, connection: str | None) -> bool:
        with self.db.transaction() as db:
            cursor = db.execute(
                "DELETE FROM policies WHERE connection_name = ?", (self._policy_key(connection),)
            )
            return cursor.rowcount > 0
