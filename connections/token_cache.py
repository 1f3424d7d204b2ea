"""One connection's current token: kept in memory and in the store, renewed shortly before expiry.

Renewals are serialized by the store's lock for the connection (threads and processes): whoever
holds it first reloads the stored token set, since another thread or process may have renewed it
meanwhile, and only renews if it is still expiring or is the token the caller saw refused. So N
threads hitting an expired token cause one renewal, and a rotated refresh token is never used twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from connections.tokens import TokenSet
from connector.errors import AuthError
from connector.store import Store

DEFAULT_MARGIN = 300.0
"""Renew when the access token expires within this many seconds."""

Renew = Callable[[TokenSet | None], TokenSet]
"""Given the stored token set (None if there is none), obtain a new one or raise ``AuthError``."""


class TokenCache:
    def __init__(
        self,
        name: str,
        store: Store,
        renew: Renew,
        *,
        clock: Callable[[], float] = time.time,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        self.name = name
        self._store = store
        self._renew = renew
        self._clock = clock
        self._margin = margin
        self._tokens: TokenSet | None = None

    def __repr__(self) -> str:
        return f"TokenCache({self.name!r})"

    def _usable(self, tokens: TokenSet | None, refused: str | None) -> bool:
        return (
            tokens is not None
            and tokens.access_token != refused
            and not tokens.expires_within(self._margin, self._clock())
        )

    def access_token(self, refused: str | None = None) -> str:
        """A current access token; ``refused`` is one Graph just rejected (401), never returned again."""
        tokens = self._tokens
        if tokens is not None and self._usable(tokens, refused):
            return tokens.access_token
        with self._store.lock(f"tokens:{self._store.storage_name(self.name)}"):  # one per tenant's name
            stored = self._load()
            if stored is not None and self._usable(stored, refused):
                self._tokens = stored
                return stored.access_token
            try:
                fresh = self._renew(stored)
            except AuthError as exc:
                self._store.record_health(self.name, ok=False, error=exc.message)
                raise
            self._store.save_tokens(self.name, fresh.to_dict())
            self._tokens = fresh
            return fresh.access_token

    def _load(self) -> TokenSet | None:
        data = self._store.load_tokens(self.name)
        return TokenSet.from_dict(data) if data else None

    def current(self) -> TokenSet | None:
        """The token set as last seen (memory, else the store), without renewing."""
        if self._tokens is None:
            self._tokens = self._load()
        return self._tokens
