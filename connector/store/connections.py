"""Connections: their settings, encrypted secrets and token sets, and their health."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from connector.errors import ConfigurationError
from connector.store.core import StoreCore, check_name, label
from connector.store.records import ConnectionRecord, split_stored_name, stored_name

_COLUMNS = (
    "name, type_key, config, created_at, updated_at, last_success_at, last_error, last_error_at, "
    "tokens IS NOT NULL, tenant, owner, scope"
)


class Connections(StoreCore):
    """``ConnectionStore`` over the backend. Names are unique per tenant: a tenant's connection is
    kept under its stored name (``records.stored_name``: tenant U+001F name), which a bound store
    adds and removes (``storage_name``/``_shown``) and the host uses as is. Secrets and tokens are
    sealed, bound to the stored name, so a sealed value cannot be moved to another row (another
    tenant's of the same name included) unnoticed."""

    def save_connection(self, record: ConnectionRecord, tokens: Mapping[str, Any] | None = None) -> None:
        """Create or replace connection ``record.name``: its type, config, secrets and tokens
        (``tokens``; None removes them, since tokens belong to the old settings). Replacing keeps
        the creation time and clears the health (it was about the old settings)."""
        tenant, owner, scope = self._ownership(record.tenant, record.owner, record.scope)
        plain = record.name
        if self.principal is None:  # the host may give the stored name (as its records carry)
            named_tenant, plain = split_stored_name(record.name)
            if named_tenant and named_tenant != tenant:
                raise ConfigurationError(
                    f"connection {plain!r} is named for tenant {named_tenant!r} but belongs to {tenant!r}"
                )
        check_name(plain)
        name = stored_name(tenant, plain)
        now = self.clock()
        config = json.dumps(dict(record.config), separators=(",", ":"), sort_keys=True)
        secrets = self._seal_json(dict(record.secrets), label("secrets", name))
        sealed_tokens = None if tokens is None else self._seal_json(dict(tokens), label("tokens", name))
        visible, parameters = self._visible("connections.")
        with self.db.transaction() as db:
            saved = db.execute(
                "INSERT INTO connections (name, type_key, config, secrets, tokens, created_at, updated_at,"
                " tokens_updated_at, tenant, owner, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET"
                " type_key = excluded.type_key, config = excluded.config, secrets = excluded.secrets,"
                " tokens = excluded.tokens, updated_at = excluded.updated_at,"
                " tokens_updated_at = excluded.tokens_updated_at, last_success_at = NULL,"
                " last_error = NULL, last_error_at = NULL, tenant = excluded.tenant,"
                " owner = excluded.owner, scope = excluded.scope WHERE 1 = 1" + visible,
                (
                    name,
                    record.type_key,
                    config,
                    secrets,
                    sealed_tokens,
                    now,
                    now,
                    now,
                    tenant,
                    owner,
                    scope,
                    *parameters,
                ),
            ).rowcount
        if not saved:  # another member's personal connection (another tenant's has another name)
            raise ConfigurationError(f"the connection name {record.name!r} is taken; choose another name")

    def get_connection(self, name: str) -> ConnectionRecord | None:
        """The connection with its secrets decrypted, or None."""
        self.cipher()  # first: a pending re-seal (``core.RESEAL_FLAG``) happens before the read
        visible, parameters = self._visible()
        with self.db.read() as db:
            row = db.execute(
                f"SELECT {_COLUMNS}, secrets FROM connections WHERE name = ?" + visible,
                (self.storage_name(name), *parameters),
            ).fetchone()
        if row is None:
            return None
        return self._with_secrets(self._record(row), row[-1])

    def list_connections(self, *, include_secrets: bool = False) -> list[ConnectionRecord]:
        """Every connection by name; secrets are left out (and not decrypted) unless asked for."""
        if include_secrets:
            self.cipher()  # first: a pending re-seal happens before the read
        visible, parameters = self._visible()
        with self.db.read() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS}, secrets FROM connections WHERE 1 = 1{visible} ORDER BY name", parameters
            ).fetchall()
        records = [self._record(row) for row in rows]
        if include_secrets:
            records = [self._with_secrets(r, row[-1]) for r, row in zip(records, rows, strict=True)]
        return records

    def _with_secrets(self, record: ConnectionRecord, sealed: bytes | None) -> ConnectionRecord:
        if sealed is None:
            return record
        what = f"the secrets of connection {record.name!r}"
        name = stored_name(record.tenant, record.name) if self.principal is not None else record.name
        return replace(record, secrets=self._open_json(sealed, label("secrets", name), what))

    def connection_revision(self, name: str) -> str | None:
        """An opaque value that changes whenever connection ``name`` is saved again or deleted and
        recreated (None: there is none). Token refreshes and health notes leave it unchanged."""
        visible, parameters = self._visible()
        with self.db.read() as db:
            row = db.execute(
                "SELECT type_key, config, created_at, updated_at, secrets FROM connections WHERE name = ?"
                + visible,
                (self.storage_name(name), *parameters),
            ).fetchone()
        if row is None:
            return None
        digest = hashlib.sha256(repr(tuple(row[:4])).encode())
        digest.update(bytes(row[4] or b""))  # sealed with a fresh nonce on every save
        return digest.hexdigest()[:32]

    def delete_connection(self, name: str) -> bool:
        """Forget the connection, its secrets and tokens. False if there was none."""
        visible, parameters = self._visible()
        with self.db.transaction() as db:
            sql = "DELETE FROM connections WHERE name = ?" + visible
            return db.execute(sql, (self.storage_name(name), *parameters)).rowcount > 0

    def save_tokens(self, name: str, tokens: Mapping[str, Any] | None) -> None:
        """Replace the connection's token set (one atomic update); None removes it."""
        stored = self.storage_name(name)
        sealed = None if tokens is None else self._seal_json(dict(tokens), label("tokens", stored))
        visible, parameters = self._visible()
        with self.db.transaction() as db:
            updated = db.execute(
                "UPDATE connections SET tokens = ?, tokens_updated_at = ? WHERE name = ?" + visible,
                (sealed, self.clock(), stored, *parameters),
            ).rowcount
        if not updated:
            raise ConfigurationError(f"no connection named {name!r}")

    def load_tokens(self, name: str) -> dict[str, Any] | None:
        """The connection's token set, or None (no such connection, or no tokens yet)."""
        stored = self.storage_name(name)
        self.cipher()  # first: a pending re-seal happens before the read
        visible, parameters = self._visible()
        with self.db.read() as db:
            row = db.execute(
                "SELECT tokens FROM connections WHERE name = ?" + visible, (stored, *parameters)
            ).fetchone()
        if row is None or row[0] is None:
            return None
        tokens: dict[str, Any] = self._open_json(row[0], label("tokens", stored), f"the tokens of {name!r}")
        return tokens

    def record_health(self, name: str, ok: bool, error: str | None = None) -> None:
        """Note a successful use (clears the last error) or a failure with its message."""
        now = self.clock()
        name = self.storage_name(name)
        visible, parameters = self._visible()
        with self.db.transaction() as db:
            if ok:
                db.execute(
                    "UPDATE connections SET last_success_at = ?, last_error = NULL, last_error_at = NULL"
                    " WHERE name = ?" + visible,
                    (now, name, *parameters),
                )
            else:
                db.execute(
                    "UPDATE connections SET last_error = ?, last_error_at = ? WHERE name = ?" + visible,
                    ((error or "failed")[:2000], now, name, *parameters),
                )

    def _record(self, row: tuple[Any, ...]) -> ConnectionRecord:
        return _record(row, self._shown(row[0]))


def _record(row: tuple[Any, ...], name: str) -> ConnectionRecord:
    _, type_key, config, created, updated, success, error, error_at, has_tokens = row[:9]
    tenant, owner, scope = row[9:12]
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
        tenant=tenant,
        owner=owner,
        scope=scope,
    )
