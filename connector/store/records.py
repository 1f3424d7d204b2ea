"""What the store keeps, as values: connections, trigger instances, queued notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from secrets import token_urlsafe
from typing import Any

TRIGGER_STATUSES = ("active", "paused", "disabled")
"""``paused``: notifications are still received and queued; ``disabled``: the receiver refuses them."""


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
