"""``StoredConnection``: a saved connection, usable by the runtime (implements ``Connection``).

Subclasses decide how a token is obtained: by refresh token (delegated) or by client credentials.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

import httpx

from connections.auth import BearerAuth
from connections.config import ConfigModel
from connections.identity import TokenClient
from connections.token_cache import DEFAULT_MARGIN, Renew, TokenCache
from connections.tokens import TokenSet
from connector.errors import AuthError
from connector.store import Store


class StoredConnection:
    """Implements ``connections.base.Connection`` for a connection saved in a ``Store``.

    ``transport`` replaces the network of token requests (tests); ``clock`` gives epoch seconds;
    tokens are renewed ``margin`` seconds before they expire.
    """

    TYPE_KEY: ClassVar[str]
    APP_ONLY: ClassVar[bool]

    def __init__(
        self,
        name: str,
        config: ConfigModel,
        store: Store,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        self.name = name
        self.type_key = self.TYPE_KEY
        self.app_only = self.APP_ONLY
        self.config = config
        endpoints = config.endpoints()
        registration = config.registration(name)
        self.graph_base_url = endpoints.graph_base_url
        self.default_mailbox = config.mailbox()
        self.throttle_key = f"{registration.client_id}@{registration.context.tenant or endpoints.token_url}"
        self.token_client = TokenClient(registration, transport=transport, clock=clock)
        self.tokens = TokenCache(name, store, self._renewer(), clock=clock, margin=margin)
        self._store = store
        self.storage_name = store.storage_name(name)
        """The name the store keeps it under (unique across tenants: the runtime's client cache key)."""
        self.revision = store.connection_revision(name)
        """Which saved version of the connection this object was built from (see ``is_current``)."""

    def is_current(self) -> bool:
        """False once the saved connection was deleted or saved again (by any process): this object
        then holds another account's settings and must not be used (load the connection again)."""
        return self.revision is not None and self._store.connection_revision(self.name) == self.revision

    def _renewer(self) -> Renew:
        raise NotImplementedError

    def auth(self) -> httpx.Auth:
        return BearerAuth(self.tokens)

    def close(self) -> None:
        """Close the token endpoint's HTTP client."""
        self.token_client.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, graph_base_url={self.graph_base_url!r})"


class DelegatedConnection(StoredConnection):
    """Acts as a signed-in user; renews with the (rotating) refresh token."""

    APP_ONLY = False

    def _renewer(self) -> Renew:
        def renew(stored: TokenSet | None) -> TokenSet:
            if stored is None or not stored.refresh_token:
                what = "has not been signed in" if stored is None else "has no refresh token"
                raise AuthError(
                    f"Connection {self.name!r} {what} (its scopes need offline_access to stay signed in).",
                    code="no_refresh_token",
                    hint=self.token_client.app.context.reconnect(),
                )
            return self.token_client.refresh(stored.refresh_token)

        return renew


class AppOnlyConnection(StoredConnection):
    """Acts as the app itself (client credentials); needs a default mailbox, having no /me."""

    APP_ONLY = True

    def _renewer(self) -> Renew:
        return lambda _stored: self.token_client.client_credentials()
