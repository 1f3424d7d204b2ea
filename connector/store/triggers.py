"""Trigger instances: their config, encrypted clientState and secrets, state and health."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connector.errors import ConfigurationError
from connector.store.core import StoreCore, check_status, dump, label
from connector.store.records import ReceiverAccess, TriggerInstance, split_stored_name, stored_name

_COLUMNS = (
    "id, trigger_key, connection_name, config, client_state, state, secrets, status, created_at,"
    " updated_at, last_success_at, last_error, last_error_at, tenant, owner, scope"
)


class TriggerInstances(StoreCore):
    """``TriggerInstanceStore`` over the backend. An instance's ``connection_name`` is its
    tenant's connection: kept as the stored name (``records.stored_name``), which the host (the
    receiver, the worker) loads the connection by, shown plainly to a bound store."""

    def save_trigger_instance(self, instance: TriggerInstance) -> None:
        """Create or replace the instance (its queue and delivered keys are kept on replace).
        A new instance's ``created_at``/``updated_at`` of 0 are set to now."""
        if not instance.id or len(instance.id) > 200 or not instance.id.isascii():
            raise ConfigurationError(f"invalid trigger instance id {instance.id!r}")
        check_status(instance.status)
        tenant, owner, scope = self._ownership(instance.tenant, instance.owner, instance.scope)
        connection = instance.connection_name
        if self.principal is None and split_stored_name(connection)[0] == tenant:
            connection = split_stored_name(connection)[1]  # the host gave the stored name
        connection = stored_name(tenant, connection)
        now = self.clock()
        client_state = instance.client_state.encode("utf-8")
        sealed_state = self.cipher().seal(client_state, label("trigger", instance.id))
        sealed_secrets = self._seal_json(dict(instance.secrets), label("trigger-secrets", instance.id))
        visible, parameters = self._visible("trigger_instances.")
        with self.db.transaction() as db:
            saved = db.execute(
                f"INSERT INTO trigger_instances ({_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " trigger_key = excluded.trigger_key, connection_name = excluded.connection_name,"
                " config = excluded.config, client_state = excluded.client_state, state = excluded.state,"
                " secrets = excluded.secrets, status = excluded.status, updated_at = excluded.updated_at,"
                " last_success_at = excluded.last_success_at, last_error = excluded.last_error,"
                " last_error_at = excluded.last_error_at, tenant = excluded.tenant,"
                " owner = excluded.owner, scope = excluded.scope WHERE 1 = 1" + visible,
                (
                    instance.id,
                    instance.trigger_key,
                    connection,
                    dump(instance.config),
                    sealed_state,
                    dump(instance.state),
                    sealed_secrets,
                    instance.status,
                    instance.created_at or now,
                    now,
                    instance.last_success_at,
                    instance.last_error,
                    instance.last_error_at,
                    tenant,
                    owner,
                    scope,
                    *parameters,
                ),
            ).rowcount
        if not saved:
            raise ConfigurationError(f"no trigger instance {instance.id!r}")

    def get_trigger_instance(self, instance_id: str) -> TriggerInstance | None:
        """The instance with its clientState and secrets decrypted, or None."""
        visible, parameters = self._visible()
        with self.db.read() as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM trigger_instances WHERE id = ?" + visible, (instance_id, *parameters)
            ).fetchone()
        return None if row is None else self._trigger_instance(row)

    def receiver_access(self, instance_id: str) -> ReceiverAccess | None:
        """What the notification receiver checks a request against, or None if the instance is
        unknown: its status and clientState (decrypted, without the other secrets or the state)."""
        visible, parameters = self._visible()
        with self.db.read() as db:
            row = db.execute(
                "SELECT status, client_state FROM trigger_instances WHERE id = ?" + visible,
                (instance_id, *parameters),
            ).fetchone()
        if row is None:
            return None
        sealed = bytes(row[1])
        what = f"the clientState of {instance_id}"
        client_state = self.cipher().open(sealed, label("trigger", instance_id), what).decode("utf-8")
        return ReceiverAccess(status=row[0], client_state=client_state, sealed_client_state=sealed)

    def list_trigger_instances(self) -> list[TriggerInstance]:
        """Every instance, oldest first."""
        visible, parameters = self._visible()
        with self.db.read() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM trigger_instances WHERE 1 = 1{visible} ORDER BY created_at, id",
                parameters,
            ).fetchall()
        return [self._trigger_instance(row) for row in rows]

    def _trigger_instance(self, row: tuple[Any, ...]) -> TriggerInstance:
        id_ = row[0]
        client_state = self.cipher().open(bytes(row[4]), label("trigger", id_), f"the clientState of {id_}")
        secrets = self._open_json(row[6], label("trigger-secrets", id_), f"the secrets of trigger {id_}")
        return TriggerInstance(
            id=id_,
            trigger_key=row[1],
            connection_name=self._shown(row[2]),
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
            tenant=row[13],
            owner=row[14],
            scope=row[15],
        )

    def update_trigger_state(
        self, instance_id: str, state: Mapping[str, Any], *, expected: Mapping[str, Any] | None = None
    ) -> bool:
        """Replace the instance's state; with ``expected``, only if the current state equals it
        (compare-and-set). False if the instance is gone or the state had changed."""
        visible, parameters = self._visible()
        with self.db.transaction() as db:
            if expected is not None:
                sql = "SELECT state FROM trigger_instances WHERE id = ?" + visible + self.db.for_update
                row = db.execute(sql, (instance_id, *parameters)).fetchone()
                if row is None or json.loads(row[0]) != json.loads(dump(expected)):
                    return False
            return (
                db.execute(
                    "UPDATE trigger_instances SET state = ?, updated_at = ? WHERE id = ?" + visible,
                    (dump(state), self.clock(), instance_id, *parameters),
                ).rowcount
                > 0
            )

    def set_trigger_status(self, instance_id: str, status: str) -> bool:
        """Set "active", "paused" or "disabled"; False if the instance is gone."""
        check_status(status)
        visible, parameters = self._visible()
        with self.db.transaction() as db:
            return (
                db.execute(
                    "UPDATE trigger_instances SET status = ?, updated_at = ? WHERE id = ?" + visible,
                    (status, self.clock(), instance_id, *parameters),
                ).rowcount
                > 0
            )

    def record_trigger_success(self, instance_id: str) -> None:
        """Note a successful delivery or sync (clears the last error)."""
        visible, parameters = self._visible()
        with self.db.transaction() as db:
            db.execute(
                "UPDATE trigger_instances SET last_success_at = ?, last_error = NULL, last_error_at = NULL"
                " WHERE id = ?" + visible,
                (self.clock(), instance_id, *parameters),
            )

    def record_trigger_error(self, instance_id: str, message: str) -> None:
        """Note a failure; the message must not contain secrets (it is shown in listings)."""
        visible, parameters = self._visible()
        with self.db.transaction() as db:
            db.execute(
                "UPDATE trigger_instances SET last_error = ?, last_error_at = ? WHERE id = ?" + visible,
                ((message or "failed")[:2000], self.clock(), instance_id, *parameters),
            )

    def delete_trigger_instance(self, instance_id: str) -> bool:
        """Forget the instance, its queued notifications and its delivered keys. False if unknown."""
        visible, parameters = self._visible()
        with self.db.transaction() as db:
            sql = "DELETE FROM trigger_instances WHERE id = ?" + visible
            if db.execute(sql, (instance_id, *parameters)).rowcount == 0:
                return False
            db.execute("DELETE FROM trigger_queue WHERE instance_id = ?", (instance_id,))
            db.execute("DELETE FROM trigger_delivered WHERE instance_id = ?", (instance_id,))
            return True
