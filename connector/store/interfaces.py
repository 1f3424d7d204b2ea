"""The store's contract: one protocol per concern, and the small one a database backend fulfils.

``connector.store.Store`` implements every concern once, in plain SQL both backends accept
(``?`` placeholders), over a ``Database``: SQLite (``connector.store.sqlite``) or PostgreSQL.
Code that needs only one concern can ask for that protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from connector.store.records import ConnectionRecord, QueuedNotification, ReceiverAccess, TriggerInstance

if TYPE_CHECKING:
    from connector.audit import AuditRecord
    from connector.policy import Approval
    from connector.store.events import DeliveryCommit, StoredTriggerEvent


class Cursor(Protocol):
    """The part of a DB-API cursor the store uses."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the store uses; SQL with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Sequence[Sequence[Any]], /) -> Cursor: ...


class Database(Protocol):
    """A backend: pooled connections, transactions, named locks and its schema."""

    name: str
    """"sqlite" or "postgresql" (for the few statements that differ)."""
    integrity_errors: tuple[type[Exception], ...]
    """What a violated foreign key or unique constraint raises."""
    for_update: str
    """Appended to a SELECT whose rows the transaction will update ("" where writers take turns)."""

    def read(self) -> AbstractContextManager[Connection]:
        """A connection in autocommit mode: for reads (each statement sees the latest committed
        state), or a single statement that commits on its own."""
        ...

    def transaction(self) -> AbstractContextManager[Connection]:
        """A write transaction: committed on success, rolled back on error."""
        ...

    def lock(self, name: str) -> AbstractContextManager[None]:
        """Hold the lock ``name`` against every other thread and process using this database."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def announce_enqueue(self, db: Connection) -> None:
        """In an enqueue's transaction: wake the waiting workers once it commits."""
        ...

    def wait_for_enqueue(self, timeout: float) -> bool:
        """Until an enqueue was announced (True) or ``timeout`` seconds passed (False)."""
        ...


class ConnectionStore(Protocol):
    """Connections with their encrypted secrets and token sets, and their health."""

    def save_connection(self, record: ConnectionRecord, tokens: Mapping[str, Any] | None = None) -> None: ...

    def get_connection(self, name: str) -> ConnectionRecord | None: ...

    def list_connections(self, *, include_secrets: bool = False) -> list[ConnectionRecord]: ...

    def delete_connection(self, name: str) -> bool: ...

    def connection_revision(self, name: str) -> str | None:
        """Changes whenever the connection is saved again or deleted (None: there is none)."""
        ...

    def save_tokens(self, name: str, tokens: Mapping[str, Any] | None) -> None: ...

    def load_tokens(self, name: str) -> dict[str, Any] | None: ...

    def record_health(self, name: str, ok: bool, error: str | None = None) -> None: ...

    def lock(self, name: str) -> AbstractContextManager[None]: ...

    def storage_name(self, name: str) -> str:
        """The name connection ``name`` is kept under, unique across tenants (for locks, kv keys and
        caches keyed by a connection, so a tenant's store and the host's meet on one key)."""
        ...


class KeyValueStore(Protocol):
    """JSON values by (namespace, key), optionally encrypted, optionally expiring."""

    def kv_put(
        self, namespace: str, key: str, value: Any, *, encrypt: bool = False, ttl: float | None = None
    ) -> None: ...

    def kv_add(
        self, namespace: str, key: str, value: Any = True, *, encrypt: bool = False, ttl: float | None = None
    ) -> bool: ...

    def kv_get(self, namespace: str, key: str, default: Any = None) -> Any: ...

    def kv_items(self, namespace: str, prefix: str = "") -> list[tuple[str, Any]]: ...

    def kv_delete(self, namespace: str, key: str) -> bool: ...

    def kv_purge_expired(self) -> int: ...


class TriggerInstanceStore(Protocol):
    """Enabled triggers with their encrypted clientState and secrets, state and health."""

    def save_trigger_instance(self, instance: TriggerInstance) -> None: ...

    def get_trigger_instance(self, instance_id: str) -> TriggerInstance | None: ...

    def receiver_access(self, instance_id: str) -> ReceiverAccess | None: ...

    def list_trigger_instances(self) -> list[TriggerInstance]: ...

    def update_trigger_state(
        self, instance_id: str, state: Mapping[str, Any], *, expected: Mapping[str, Any] | None = None
    ) -> bool: ...

    def set_trigger_status(self, instance_id: str, status: str) -> bool: ...

    def record_trigger_success(self, instance_id: str) -> None: ...

    def record_trigger_error(self, instance_id: str, message: str) -> None: ...

    def delete_trigger_instance(self, instance_id: str) -> bool: ...


class NotificationQueue(Protocol):
    """The durable queue of received notification items, claimed with leases."""

    def enqueue_notifications(self, instance_id: str, kind: str, items: list[dict[str, Any]]) -> int: ...

    def enqueue_checked_notifications(
        self, groups: Sequence[tuple[str, bytes, Sequence[tuple[str, Mapping[str, Any]]]]]
    ) -> list[bool]: ...

    def claim_notifications(
        self, worker: str, limit: int = 100, lease_seconds: float = 60
    ) -> list[QueuedNotification]: ...

    def complete_notification(self, seq: int) -> None: ...

    def finish_notification(
        self, seq: int, worker: str, delivered: Sequence[tuple[str, str]] = ()
    ) -> list[tuple[str, str]] | None: ...

    def wait_for_notifications(self, timeout: float) -> bool: ...

    def retry_notification(self, seq: int, error: str, delay: float, worker: str | None = None) -> None: ...

    def is_queued(self, seq: int) -> bool: ...

    def pending_notification_count(self, instance_id: str | None = None) -> int: ...


class LeaseStore(Protocol):
    """Named leases: one holder at a time, on any machine, until released or timed out."""

    def acquire_lease(self, name: str, holder: str, seconds: float) -> bool: ...

    def release_lease(self, name: str, holder: str) -> bool: ...

    def lease_holder(self, name: str) -> str | None: ...


class SlotStore(Protocol):
    """Concurrency slots leased to requests in flight (Graph's limit per app + mailbox, kept
    across processes): rows taken all or none in one statement, given back by their holder; a
    turn that a taker of several slots holds while it waits."""

    def add_slots(self, names: Sequence[str]) -> None: ...

    def take_slots(
        self, names: Sequence[str], count: int, holder: str, seconds: float, turn: str
    ) -> list[str]: ...

    def give_back_slots(self, names: Sequence[str], holder: str) -> int: ...

    def take_turn(self, turn: str, holder: str, seconds: float) -> bool: ...

    def turn_holder(self, turn: str) -> str | None: ...


class DeliveredKeys(Protocol):
    """What was delivered, by (instance, dedupe key): exactly once across threads and processes."""

    def mark_delivered(self, instance_id: str, dedupe_key: str) -> bool: ...

    def was_delivered(self, instance_id: str, dedupe_key: str) -> bool: ...

    def list_delivered(self, instance_id: str, limit: int = 50) -> list[tuple[str, float]]: ...

    def prune_delivered(self, older_than: float = 7 * 86400.0) -> int: ...


class DeliveryRecords(Protocol):
    """A delivery's record in one transaction (marks, the queue row's completion, the outbox
    event), and the outbox a host reads in order."""

    def commit_delivery(
        self,
        instance_id: str,
        keys: Sequence[str],
        *,
        event: Mapping[str, Any] | None = None,
        finish: tuple[int, str] | None = None,
    ) -> DeliveryCommit: ...

    def read_trigger_events(self, after: int = 0, limit: int = 100) -> list[StoredTriggerEvent]: ...

    def prune_trigger_events(self, *, through: int | None = None, older_than: float | None = None) -> int: ...


class ApprovalStore(Protocol):
    """Where approvals live (the state store)."""

    def add_approval(self, approval: Approval) -> None: ...

    def get_approval(self, approval_id: str) -> Approval | None: ...

    def decide_approval(self, approval_id: str, status: str, by: str, now: float) -> Approval | None:
        """Mark a pending, unexpired approval ``approved`` or ``denied``; None if it is not pending."""
        ...

    def use_approval(self, approval_id: str, now: float) -> bool:
        """Mark an approved, unexpired approval ``used``; False when it was not (one use, atomic)."""
        ...

    def list_approvals(self, *, status: str | None = None) -> list[Approval]: ...

    def storage_name(self, name: str) -> str:
        """The name connection ``name`` is kept under (an approval binds that, so the member who
        asked and the host see one call)."""
        ...


class PolicyStore(Protocol):
    """Stored policies: one per connection and a default (``connection=None``; a bound store's is
    its tenant's)."""

    def get_policy(self, connection: str | None) -> dict[str, Any] | None: ...

    def default_policy_for(self, connection: str) -> dict[str, Any] | None:
        """The stored default that applies to ``connection`` (its tenant's, else the host's)."""
        ...

    def set_policy(self, connection: str | None, policy: dict[str, Any]) -> None: ...

    def delete_policy(self, connection: str | None) -> bool: ...


class AuditLog(Protocol):
    """Where audit records go (the state store)."""

    def append_audit(self, record: AuditRecord) -> None: ...

    def list_audit(
        self,
        *,
        connection: str | None = None,
        action: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Oldest first."""
        ...

    def prune_audit(self, older_than: float = 90 * 86400.0) -> int: ...
