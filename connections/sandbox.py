"""Connections to a running Graph sandbox (``sandbox.server``), through the real flows.

    with SandboxServer() as server:
        conn = sandbox_connection(store, server.url, "delegated")   # code + PKCE, as DEFAULT_USER
        app = sandbox_connection(store, server.url, "app", name="sandbox-app")

The sandbox's seeded app registration, tenant and users come from ``sandbox.seed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import httpx

from connections.client_credentials import ClientCredentialsConfig
from connections.config import DEFAULT_SCOPES
from connections.connection import StoredConnection
from connections.oauth_code import OAuthCodeConfig
from connections.registry import create_connection
from connector.store import Store

SANDBOX_SCOPES = (
    f"openid profile {DEFAULT_SCOPES} User.ReadBasic.All Mail.ReadWrite.Shared Mail.Send.Shared "
    "Calendars.ReadWrite.Shared"
)
"""The default scopes plus what shared-mailbox and directory actions need in the sandbox."""


def sandbox_config(
    sandbox_url: str, kind: Literal["delegated", "app"], user: str | None = None
) -> OAuthCodeConfig | ClientCredentialsConfig:
    """The settings of a connection to the sandbox at ``sandbox_url`` (its seeded app registration)."""
    from sandbox import seed

    base = sandbox_url.rstrip("/")
    common = {"graph_base_url": f"{base}/v1.0", "login_base_url": base, "client_id": seed.CLIENT_ID}
    if kind == "app":
        return ClientCredentialsConfig.model_validate(
            {
                **common,
                "tenant": seed.TENANT_ID,
                "client_secret": seed.CLIENT_SECRET,
                "default_mailbox": user or seed.DEFAULT_USER,
            }
        )
    return OAuthCodeConfig.model_validate({**common, "tenant": seed.TENANT_ID, "scopes": SANDBOX_SCOPES})


def sandbox_info(sandbox_url: str, *, transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """The running sandbox's ``/_sandbox/`` page: tenant, app registration, seeded users (``users``,
    ``default_user``) and ``shared_mailbox``; what a caller outside the sandbox's code may know."""
    with httpx.Client(transport=transport, timeout=10) as client:
        response = client.get(sandbox_url.rstrip("/") + "/_sandbox/")
        response.raise_for_status()
        info: dict[str, Any] = response.json()
    return info


def sandbox_connection(
    store: Store,
    sandbox_url: str,
    kind: Literal["delegated", "app"],
    name: str = "sandbox",
    user: str | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> StoredConnection:
    """Create (or replace) connection ``name`` to the sandbox and sign it in: ``delegated`` runs the
    authorization code flow with PKCE as ``user`` (default: the seeded default user), the sandbox
    consenting by itself; ``app`` uses client credentials acting on mailbox ``user``."""
    from connections.authorization import authorize_headless
    from sandbox import seed

    config = sandbox_config(sandbox_url, kind, user)
    if kind == "app":
        connection = create_connection(
            store, name, "client_credentials", config, transport=transport, clock=clock
        )
        connection.tokens.access_token()  # prove the credentials now, and cache the token
        return connection
    tokens = authorize_headless(
        config, user or seed.DEFAULT_USER, transport=transport, clock=clock, connection=name
    )
    return create_connection(
        store, name, "oauth2_code", config, tokens=tokens, transport=transport, clock=clock
    )
