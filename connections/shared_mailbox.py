"""Shared mailboxes: a connection that acts on one mailbox with another connection's sign-in.

    add_shared_mailbox(store, client_for, "support", via="work", mailbox="support@contoso.com")
    load_connection(store, "support")      # acts on /users/support@contoso.com with work's token

It is saved as a connection record of type ``shared_mailbox`` (``{"via", "mailbox"}``); loading it
loads ``via`` and wraps it: same Graph host, app, token and type, the shared mailbox as default
mailbox. Before it is saved the mailbox is opened with ``via``'s credentials, and a refusal names
what is missing: a delegated sign-in needs the ``.Shared`` permissions *and* Exchange Full Access
to the mailbox; an app-only one needs the application permission (and no access policy excluding
the mailbox). Deleting ``via`` deletes its shared mailboxes (``dependents``).

Change notifications: Graph takes delegated subscriptions only on the signed-in user's own mailbox
(the ``.Shared`` permissions do not cover subscriptions); see ``webhook_refusal``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from connector.errors import ConfigurationError, FieldError, GraphError, InputValidationError
from connector.store import ConnectionRecord

if TYPE_CHECKING:
    from connections.base import Connection
    from connector.http import GraphClient
    from connector.store import Store

TYPE_KEY = "shared_mailbox"
SHARED_SCOPES = "Mail.ReadWrite.Shared Mail.Send.Shared Calendars.ReadWrite.Shared"
"""Delegated permissions to act on mailboxes shared with the user (``connect --shared-scopes``)."""
_READ_SHARED = frozenset({"mail.read.shared", "mail.readwrite.shared"})


class SharedMailboxConnection:
    """Implements ``connections.base.Connection``: ``via``'s sign-in, ``mailbox`` as default mailbox."""

    def __init__(self, name: str, via: Connection, mailbox: str, *, storage_name: str | None = None) -> None:
        self.name = name
        self.storage_name = storage_name or name
        """The name the store keeps it under (unique across tenants: the runtime's client cache key)."""
        self.via = via
        self.mailbox = mailbox
        self.type_key = via.type_key  # what actions support: the sign-in's type
        self.graph_base_url = via.graph_base_url
        self.default_mailbox: str | None = mailbox
        self.app_only = via.app_only
        self.throttle_key = via.throttle_key
        self.config: Any = getattr(via, "config", None)
        """The signing connection's settings (its app registration, for rich notifications)."""

    def auth(self) -> httpx.Auth:
        return self.via.auth()

    def is_current(self) -> bool:
        """False once the connection it signs in with was deleted or saved again."""
        check = getattr(self.via, "is_current", None)
        return bool(check()) if check is not None else True

    def __repr__(self) -> str:
        return f"SharedMailboxConnection(name={self.name!r}, via={self.via.name!r}, mailbox={self.mailbox!r})"


def is_shared(record: ConnectionRecord) -> bool:
    return record.type_key == TYPE_KEY


def wrap(name: str, via: Connection, config: Any, storage_name: str | None = None) -> SharedMailboxConnection:
    """The usable connection of a saved shared-mailbox record (``config``: ``{"via", "mailbox"}``)."""
    return SharedMailboxConnection(name, via, str(config["mailbox"]), storage_name=storage_name)


def dependents(store: Store, via: str) -> list[str]:
    """The shared mailboxes that sign in with connection ``via``."""
    return [
        r.name
        for r in store.list_connections()
        if is_shared(r) and store.name_in_tenant(r.tenant, str(r.config.get("via") or "")) == via
    ]


def add_shared_mailbox(
    store: Store,
    client_for: Callable[[Connection], GraphClient],
    name: str,
    *,
    via: str,
    mailbox: str,
) -> SharedMailboxConnection:
    """Check that ``mailbox`` opens with connection ``via``'s credentials, then save connection
    ``name`` for it. A refusal raises, naming the missing permission; nothing is saved."""
    from connections.registry import load_connection

    mailbox = mailbox.strip()
    local, at, domain = mailbox.rpartition("@")
    if not (at and local and "." in domain) or any(c.isspace() for c in mailbox):
        raise InputValidationError([FieldError("shared_mailbox", f"{mailbox!r} is not an email address")])
    if name == via:
        raise InputValidationError([FieldError("via", "must be another connection than the one created")])
    record = store.get_connection(via)
    if record is not None and is_shared(record):
        raise InputValidationError(
            [FieldError("via", f"{via!r} is itself a shared mailbox; name the connection it signs in with")]
        )
    signer = load_connection(store, via)
    shared = SharedMailboxConnection(name, signer, mailbox)
    check_access(store, client_for(signer), signer, mailbox)
    store.save_connection(ConnectionRecord(name, TYPE_KEY, {"via": via, "mailbox": mailbox}))
    return shared


def check_access(store: Store, client: GraphClient, signer: Connection, mailbox: str) -> None:
    """Open ``mailbox``'s inbox with ``signer``; a refusal says which permission is missing."""
    from connector.context import quote_segment

    try:
        client.get_json(f"/users/{quote_segment(mailbox)}/mailFolders/inbox", params={"$select": "id"})
    except GraphError as exc:
        if exc.status == 404:
            raise ConfigurationError(
                f"there is no mailbox {mailbox!r} in the tenant of connection {signer.name!r}"
                f" (Graph: {exc.code or exc.status})"
            ) from None
        if exc.status in (401, 403):
            raise ConfigurationError(
                f"{refusal(store, signer, mailbox)} (Graph: {exc.code or exc.status})"
            ) from None
        raise


def refusal(store: Store, signer: Connection, mailbox: str) -> str:
    """Why ``signer`` may not open ``mailbox``: the missing permission, or Exchange Full Access."""
    if signer.app_only:
        return (
            f"connection {signer.name!r} (app-only) may not read {mailbox!r}: grant the app the Mail.Read"
            " (or Mail.ReadWrite) application permission with admin consent, and check that no"
            " application access policy excludes this mailbox"
        )
    tokens = store.load_tokens(signer.name) or {}
    granted = {s.rsplit("/", 1)[-1].lower() for s in str(tokens.get("scope") or "").split()}
    if not granted & _READ_SHARED:
        return (
            f"connection {signer.name!r} was not granted Mail.Read.Shared or Mail.ReadWrite.Shared, which"
            f" opening another mailbox needs: reconnect it with `outlook-connector connect {signer.name}"
            " --shared-scopes ...` (or add them to its scopes)"
        )
    return (
        f"the user signed in to {signer.name!r} has no Full Access to {mailbox!r} in Exchange: an"
        " Exchange admin grants it (Exchange admin center > mailbox > delegation > Read and manage, or"
        f" Add-MailboxPermission -Identity {mailbox} -User <user> -AccessRights FullAccess)"
    )


def webhook_refusal(store: Store, connection: Connection, resources: list[str]) -> str | None:
    """Why Graph will not take a webhook subscription on these resources with this connection, or
    None (then Graph decides).

    Graph's change notifications take delegated permissions only for items in the signed-in user's
    own mailbox; Mail.Read.Shared and the other .Shared permissions do not cover subscriptions. So a
    delegated connection may not watch a shared mailbox (``--via``), nor another mailbox named by
    ``user_id`` (when the signed-in account is known, from ``registry.note_account``).
    """
    from urllib.parse import unquote

    from connections.registry import ACCOUNT_NAMESPACE

    if connection.app_only:
        return None
    shared = connection if isinstance(connection, SharedMailboxConnection) else None
    signer = shared.via.name if shared is not None else connection.name
    own = store.kv_get(ACCOUNT_NAMESPACE, store.storage_name(signer))
    for resource in resources:
        parts = resource.split("/")
        if len(parts) < 2 or parts[0].lower() != "users":
            continue  # me/...: the user's own mailbox
        mailbox = unquote(parts[1])
        if isinstance(own, str) and own.lower() == mailbox.lower():
            continue
        if shared is None and not isinstance(own, str):
            continue  # whose mailbox it is is not known here: Graph answers
        return (
            f"{mailbox!r} is not the mailbox of the account connection {signer!r} signed in as, and"
            " Microsoft Graph does not accept change-notification subscriptions on another user's or a"
            " shared mailbox with delegated permissions (the .Shared permissions do not cover them)."
            " Poll it instead (`outlook-connector triggers poll poll_changes"
            f" -c {connection.name} -i ...`, no public URL needed), or use an app-only connection with"
            " the Mail.Read application permission"
        )
    return None
