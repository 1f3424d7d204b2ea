"""What the store keeps, as values: connections, trigger instances, queued notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from secrets import token_urlsafe
from typing import Any

from connector.errors import ConfigurationError

SCOPES = ("personal", "organization")
"""``personal``: only its owner may use it; ``organization``: every member of its tenant."""

TRIGGER_STATUSES = ("active", "paused", "disabled")
"""``paused``: notifications are still received and queued; ``disabled``: the receiver refuses them."""

TENANT_SEPARATOR = "\x1f"
"""Between a tenant and a connection name in the name the store keeps a tenant's connection under
(``stored_name``): neither may contain a control character, so the pair is unambiguous."""


def stored_name(tenant: str, name: str) -> str:
    """The name connection ``name`` of ``tenant`` is kept under: ``name`` itself for a
    single-tenant installation (tenant ""), else ``tenant`` U+001F ``name``. Connection names are
    unique per tenant; an unbound (host) store addresses every connection by this name (it is what
    its records, trigger instances, approvals and audit records carry), a store bound to a
    ``Principal`` by the plain name within its tenant."""
    return f"{tenant}{TENANT_SEPARATOR}{name}" if tenant else name


def split_stored_name(stored: str) -> tuple[str, str]:
    """(tenant, plain name) of a stored name (tenant "" when it has none)."""
    tenant, separator, name = stored.partition(TENANT_SEPARATOR)
    return (tenant, name) if separator else ("", stored)


@dataclass(frozen=True)
class ConnectionRecord:
    """A saved connection. ``config`` holds the non-secret settings, ``secrets`` the secret ones
    (client secret...). Timestamps are epoch seconds. Tokens are kept apart (``load_tokens``)."""

    name: str
    """Unique within ``tenant``. A host (unbound) store gives and takes the stored name
    (``stored_name``: tenant U+001F name for a tenant's connection); a store bound to a principal
    the plain name."""
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
    tenant: str = ""
    """The host's customer or workspace it belongs to ("" for a single-tenant installation)."""
    owner: str = ""
    """The principal (user) of ``tenant`` that created it."""
    scope: str = "organization"


@dataclass(frozen=True)
class TriggerInstance:
    """One enabled trigger. ``id`` is opaque and URL-safe (also the receiver's URL path part);
    ``client_state`` and ``secrets`` are stored encrypted; ``state`` is JSON owned by the trigger
    lifecycle code (subscriptions, delta cursors...). Timestamps are epoch seconds."""

    id: str
    trigger_key: str
    connection_name: str
    """Its tenant's connection: the stored name on the host's store (what the receiver and worker
    load), the plain name on a bound store."""
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
    tenant: str = ""
    owner: str = ""
    scope: str = "organization"
    """As for connections: who may see and use the instance (its tenant; its owner if personal)."""

    @classmethod
    def new(
        cls,
        trigger_key: str,
        connection_name: str,
        config: Mapping[str, Any],
        state: Mapping[str, Any],
        now: float,
        *,
        scope: str = "organization",
    ) -> TriggerInstance:
        """A new active instance with a fresh opaque id and a fresh clientState secret (its tenant
        and owner are the saving store's principal)."""
        return cls(
            id=token_urlsafe(24),
            trigger_key=trigger_key,
            connection_name=connection_name,
            config=dict(config),
            client_state=token_urlsafe(32),
            state=state,
            created_at=now,
            updated_at=now,
            scope=scope,
        )


@dataclass(frozen=True)
class Principal:
    """Who a store acts for: a member (``user``) of a ``tenant`` (the host's customer or
    workspace). A store bound to a principal (``Store(principal=...)``, or
    ``$OUTLOOK_CONNECTOR_TENANT`` / ``$OUTLOOK_CONNECTOR_USER``) lists, reads, uses and changes only
    the connections and trigger instances of that tenant that are ``organization``-wide or owned
    by that user; what it saves belongs to that tenant and user."""

    tenant: str
    user: str

    def __post_init__(self) -> None:
        for field_name, value in (("tenant", self.tenant), ("user", self.user)):
            problem = principal_problem(value)
            if problem is not None:
                raise ConfigurationError(f"invalid principal {field_name}: {problem}")


def principal_problem(value: object) -> str | None:
    """Why ``value`` cannot be a principal's tenant or user (None: it can)."""
    if not isinstance(value, str) or not value or len(value) > 200 or any(ord(c) < 32 for c in value):
        return "1 to 200 characters, no control characters"
    return None


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
