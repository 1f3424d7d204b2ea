"""Token requests to the identity platform for one app registration (through authlib).

``TokenClient`` redeems authorization codes, refreshes, and runs the client-credentials grant; every
failure becomes an ``AuthError`` (see ``identity_errors``). It has its own ``httpx.Client`` (never the
Graph client, so a token request cannot recurse into the auth flow); ``transport`` replaces the
network in tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from connections.identity_errors import ErrorContext, identity_error, unreachable
from connections.tokens import TokenSet
from connector.errors import AuthError

if TYPE_CHECKING:
    from connections._authlib import HttpxOAuth2Client

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class AppRegistration:
    """An app registration at one authority: what token requests and sign-ins need."""

    client_id: str
    client_secret: str | None = field(repr=False)
    token_url: str
    authorize_url: str | None
    scope: str
    redirect_uri: str | None
    context: ErrorContext


def _json_object(response: httpx.Response) -> Mapping[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class TokenClient:
    """Thread-safe; one request at a time per instance."""

    def __init__(
        self,
        app: AppRegistration,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.app = app
        self._transport = transport
        self._clock = clock
        self._timeout = timeout
        self._lock = threading.Lock()
        self._oauth: HttpxOAuth2Client | None = None
        self._request_secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"TokenClient(client_id={self.app.client_id!r}, token_url={self.app.token_url!r})"

    def _client(self) -> HttpxOAuth2Client:
        if self._oauth is None:
            from connections._authlib import HttpxOAuth2Client

            session = httpx.Client(transport=self._transport, timeout=self._timeout, follow_redirects=False)
            self._oauth = HttpxOAuth2Client(
                session,
                client_id=self.app.client_id,
                client_secret=self.app.client_secret,
                scope=self.app.scope,
                redirect_uri=self.app.redirect_uri,
                token_endpoint=self.app.token_url,
                check_response=self._check_response,
            )
        return self._oauth

    def _context(self, *more_secrets: str) -> ErrorContext:
        ctx = self.app.context
        secrets = (*ctx.secrets, *(s for s in (self.app.client_secret, *more_secrets) if s))
        return ErrorContext(**{**ctx.__dict__, "secrets": secrets})

    def _check_response(self, response: httpx.Response) -> httpx.Response:
        """authlib compliance hook: raise our error for any error answer, before authlib parses it."""
        body = _json_object(response)
        if response.status_code >= 400 or body is None or "error" in body:
            raise identity_error(body, self._context(*self._request_secrets), response.status_code)
        return response

    def _request(self, call: Callable[[HttpxOAuth2Client], Any], *secrets: str) -> Mapping[str, Any]:
        with self._lock:
            self._request_secrets = secrets
            try:
                return dict(call(self._client()))
            except httpx.TransportError as exc:
                raise unreachable(self.app.token_url, exc) from None
            except AuthError:
                raise
            except Exception as exc:  # authlib's own errors (OAuthError...), unexpected answers
                raise AuthError(
                    f"The token request failed: {type(exc).__name__}.", code="invalid_response"
                ) from None
            finally:
                self._request_secrets = ()

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> TokenSet:
        """Redeem an authorization code (with its PKCE verifier)."""
        now = self._clock()
        body = self._request(
            lambda c: c.fetch_token(
                self.app.token_url,
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
            ),
            code,
            code_verifier,
        )
        return TokenSet.from_response(body, now)

    def refresh(self, refresh_token: str) -> TokenSet:
        """A new token set from a refresh token (Microsoft rotates it: keep the new one)."""
        now = self._clock()
        body = self._request(
            lambda c: c.refresh_token(self.app.token_url, refresh_token=refresh_token), refresh_token
        )
        return TokenSet.from_response(body, now, previous_refresh_token=refresh_token)

    def client_credentials(self) -> TokenSet:
        """An app-only token (client credentials grant with ``<graph>/.default``)."""
        now = self._clock()
        body = self._request(lambda c: c.fetch_token(self.app.token_url, grant_type="client_credentials"))
        return TokenSet.from_response(body, now)

    def close(self) -> None:
        with self._lock:
            if self._oauth is not None:
                self._oauth.session.close()
                self._oauth = None
