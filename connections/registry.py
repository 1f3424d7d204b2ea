"""The connection types, and creating, signing in and loading saved connections.

    conn = create_connection(store, "ops", "client_credentials", {"tenant": ..., ...})
    conn = load_connection(store, "ops")          # later, in any process
    client = httpx.Client(auth=conn.auth())

Each type has a pydantic config model (its JSON Schema is the connection form) and a class.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from pydantic import ValidationError

from connector.errors import ConfigurationError, FieldError, InputValidationError
from connector.store import ConnectionRecord, Store
from connector.validation import format_path

if TYPE_CHECKING:
    from connections.config import ConfigModel
    from connections.connection import StoredConnection
    from connections.tokens import TokenSet


@dataclass(frozen=True)
class ConnectionType:
    """A connection type; its module is imported only when the type is used (a quick CLI start)."""

    key: str
    label: str
    description: str
    module: str
    config_name: str
    class_name: str
    signs_in: bool
    """True: a user signs in through a browser (authorization code)."""
    deprecated: bool = False

    @property
    def config_model(self) -> type[ConfigModel]:
        model: type[ConfigModel] = getattr(importlib.import_module(self.module), self.config_name)
        return model

    @property
    def connection_class(self) -> type[StoredConnection]:
        cls: type[StoredConnection] = getattr(importlib.import_module(self.module), self.class_name)
        return cls


CONNECTION_TYPES: dict[str, ConnectionType] = {
    t.key: t
    for t in (
        ConnectionType(
            "oauth2_code",
            "Microsoft account (OAuth 2.0)",
            "Sign in as a user (authorization code with PKCE). Acts as that user, and on mailboxes "
            "shared with them. Refreshes its token by itself.",
            "connections.oauth_code",
            "OAuthCodeConfig",
            "OAuthCodeConnection",
            signs_in=True,
        ),
        ConnectionType(
            "oauth2_code_legacy",
            "Microsoft account (OAuth 2.0, explicit URLs)",
            "Deprecated: the authorization-code connection with hand-entered authorize and token URLs. "
            'Kept for existing flows; new flows should use "Microsoft account (OAuth 2.0)".',
            "connections.oauth_code_legacy",
            "OAuthCodeLegacyConfig",
            "OAuthCodeLegacyConnection",
            signs_in=True,
            deprecated=True,
        ),
        ConnectionType(
            "client_credentials",
            "App-only (client credentials)",
            "An app registration with application permissions acting without a user: needs a mailbox "
            "(user id or UPN) for every mailbox action, since there is no signed-in user.",
            "connections.client_credentials",
            "ClientCredentialsConfig",
            "ClientCredentialsConnection",
            signs_in=False,
        ),
    )
}


def connection_type(type_key: str) -> ConnectionType:
    try:
        return CONNECTION_TYPES[type_key]
    except KeyError:
        known = ", ".join(CONNECTION_TYPES)
        raise ConfigurationError(f"unknown connection type {type_key!r}; use one of: {known}") from None


def _field_path(loc: tuple[int | str, ...]) -> str:
    return format_path(loc) if loc else "(config)"


def parse_config(type_key: str, config: Mapping[str, Any] | ConfigModel) -> ConfigModel:
    """The validated config model; ``InputValidationError`` names each wrong field (never its value)."""
    model = connection_type(type_key).config_model
    if isinstance(config, model):
        return config
    try:
        return model.model_validate(dict(config))
    except ValidationError as exc:
        errors = [_config_error(tuple(e["loc"]), str(e["msg"])) for e in exc.errors()]
        raise InputValidationError(errors, what=f"{type_key} connection settings") from None


def _config_error(loc: tuple[int | str, ...], message: str) -> FieldError:
    """A config check's error; a check of several fields names its field as ``"field: reason"``."""
    reason = message.removeprefix("Value error, ")
    if not loc and ": " in reason:
        name, _, reason = reason.partition(": ")
        return FieldError(name, reason)
    return FieldError(_field_path(loc), reason)


def create_connection(
    store: Store,
    name: str,
    type_key: str,
    config: Mapping[str, Any] | ConfigModel,
    *,
    tokens: TokenSet | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> StoredConnection:
    """Validate and save connection ``name`` (replacing one of that name), with ``tokens`` if
    already obtained; returns it ready to use."""
    from connections.config import split_secrets

    kind = connection_type(type_key)
    model = parse_config(type_key, config)
    plain, secrets = split_secrets(model)
    store.save_connection(
        ConnectionRecord(name=name, type_key=type_key, config=plain, secrets=secrets),
        tokens=tokens.to_dict() if tokens is not None else None,
    )
    return kind.connection_class(name, model, store, transport=transport, clock=clock)


def load_connection(
    store: Store,
    name: str,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> StoredConnection:
    """The saved connection ``name``; ``ConfigurationError`` if there is none. A shared mailbox
    (``connections.shared_mailbox``) comes with the connection it signs in with."""
    record = store.get_connection(name)
    if record is None:
        raise ConfigurationError(
            f"no connection named {name!r}; create one with `outlook-connector connect {name} ...`"
        )
    if record.type_key == "shared_mailbox":
        from connections import shared_mailbox

        via = str(record.config.get("via") or "")
        via = via and store.name_in_tenant(record.tenant, via)  # the host names it with its tenant
        if not via or via == name:
            raise ConfigurationError(f"saved shared mailbox {name!r} names no connection to sign in with")
        signer = load_connection(store, via, transport=transport, clock=clock)
        wrapped = shared_mailbox.wrap(name, signer, record.config, store.storage_name(name))
        return wrapped  # type: ignore[return-value]
    kind = connection_type(record.type_key)
    known = kind.config_model.model_fields
    values = {k: v for k, v in {**record.config, **record.secrets}.items() if k in known}
    try:
        model = kind.config_model.model_validate(values)
    except ValidationError as exc:
        fields = ", ".join(_field_path(tuple(e["loc"])) for e in exc.errors())
        raise ConfigurationError(
            f"saved connection {name!r} has invalid settings ({fields}); recreate it"
        ) from None
    return kind.connection_class(name, model, store, transport=transport, clock=clock)


def connect_interactively(
    store: Store,
    name: str,
    type_key: str,
    config: Mapping[str, Any] | ConfigModel,
    open_browser: Callable[[str], None],
    *,
    timeout: float = 300.0,
    login_hint: str | None = None,
    prompt: str | None = "select_account",
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> StoredConnection:
    """Create connection ``name`` after proving it works: a browser sign-in (authorization code
    types, through a local listener) or a first app-only token (client credentials). The sign-in
    asks which account to use (``prompt=select_account``, unless the connection's settings give a
    prompt), so a second account can be added while the browser is signed in to another;
    ``login_hint`` pre-fills it."""
    from connections.identity import TokenClient
    from connections.loopback import run_loopback_flow

    kind = connection_type(type_key)
    model = parse_config(type_key, config)
    if kind.signs_in:
        authorize_url = str(model.registration(name).authorize_url or "")
        if prompt and "prompt" in dict(parse_qsl(urlsplit(authorize_url).query)):
            prompt = None  # the connection's own prompt (e.g. prompt=consent) stands
        tokens = run_loopback_flow(
            model,
            open_browser,
            timeout=timeout,
            login_hint=login_hint,
            prompt=prompt,
            transport=transport,
            clock=clock,
            connection=name,
        )
    else:
        client = TokenClient(model.registration(name), transport=transport, clock=clock)
        try:
            tokens = client.client_credentials()
        finally:
            client.close()
    return create_connection(store, name, type_key, model, tokens=tokens, transport=transport, clock=clock)


ACCOUNT_NAMESPACE = "connection-account"
"""kv namespace: connection name -> the address of the account it signed in as."""


def note_account(store: Store, name: str, address: str | None) -> None:
    """Remember which account connection ``name`` acts as (shown by ``connections list``)."""
    if address:
        store.kv_put(ACCOUNT_NAMESPACE, store.storage_name(name), address)
    else:
        store.kv_delete(ACCOUNT_NAMESPACE, store.storage_name(name))


def account_of(store: Store, record: ConnectionRecord) -> str | None:
    """The mailbox address a connection acts on: a shared mailbox's, the signed-in account noted at
    sign-in, or an app-only connection's default mailbox (None: unknown, or any mailbox)."""
    if record.type_key == "shared_mailbox":
        return str(record.config.get("mailbox") or "") or None
    noted = store.kv_get(ACCOUNT_NAMESPACE, store.storage_name(record.name))
    if isinstance(noted, str) and noted:
        return noted
    mailbox = record.config.get("default_mailbox")
    return str(mailbox) if mailbox else None


def delete_connection(store: Store, name: str) -> list[str]:
    """Forget connection ``name`` and the shared mailboxes that sign in with it; the names deleted
    (dependents first), [] if there was none. Disable their trigger instances before."""
    from connections.shared_mailbox import dependents

    if store.get_connection(name) is None:
        return []
    removed = []
    for each in [*dependents(store, name), name]:
        if store.delete_connection(each):
            store.kv_delete(ACCOUNT_NAMESPACE, store.storage_name(each))
            removed.append(each)
    return removed


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def connection_summary(record: ConnectionRecord) -> dict[str, Any]:
    """A saved connection for listings: type, settings and what its last call said (never secrets or
    tokens). Its health status (healthy, never synced, stale, error) is ``triggers.health``'s."""
    kind = CONNECTION_TYPES.get(record.type_key)
    label = kind.label if kind else record.type_key
    if record.type_key == "shared_mailbox":
        label = f"Shared mailbox {record.config.get('mailbox')} (via {record.config.get('via')})"
    if record.last_error:
        detail = record.last_error
    elif record.last_success_at is not None:
        detail = f"last success {_iso(record.last_success_at)}"
    else:
        signed_out = kind is not None and kind.signs_in and not record.has_tokens
        detail = "not signed in" if signed_out else ""
    return {
        "name": record.name,
        "type": record.type_key,
        "label": label,
        "detail": detail,
        "signed_in": record.has_tokens,
        "config": dict(record.config),
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "last_success_at": _iso(record.last_success_at),
        "last_error_at": _iso(record.last_error_at),
    }
