"""authlib's OAuth 2.0 client on a plain ``httpx.Client``.

authlib's own httpx integration is deprecated (it now targets ``httpx2``), so this uses authlib's
framework-neutral client (``authlib.oauth2.client.OAuth2Client``: grant bodies, PKCE S256,
authorization URLs, refresh-token carry-over, compliance hooks) with an ``httpx.Auth`` adapter for
authlib's client authentication methods. Imported only when a token request or sign-in happens.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.client import OAuth2Client

__all__ = ["HttpxOAuth2Client", "authorization_url", "new_code_verifier", "new_state"]


class _HttpxClientAuth(httpx.Auth):
    """authlib's ``ClientAuth`` (client_secret_post, client_secret_basic, none) as an ``httpx.Auth``."""

    requires_request_body = True

    def __init__(self, client_id: str, client_secret: str | None, auth_method: str | None = None) -> None:
        self._auth = ClientAuth(client_id, client_secret, auth_method)

    def __repr__(self) -> str:
        return "_HttpxClientAuth(<hidden>)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        url, headers, body = self._auth.prepare(
            request.method, str(request.url), headers, request.content.decode("utf-8")
        )
        yield httpx.Request(
            request.method, url, headers=headers, content=body.encode("utf-8"), extensions=request.extensions
        )


class HttpxOAuth2Client(OAuth2Client):  # type: ignore[misc]  # authlib is untyped
    """authlib's OAuth 2.0 client sending through ``session`` (an ``httpx.Client``)."""

    client_auth_class = _HttpxClientAuth

    def __init__(
        self,
        session: httpx.Client,
        *,
        client_id: str,
        client_secret: str | None,
        scope: str | None,
        redirect_uri: str | None,
        token_endpoint: str,
        check_response: Callable[[httpx.Response], httpx.Response],
    ) -> None:
        super().__init__(
            session,
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method="client_secret_post" if client_secret else "none",
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint=token_endpoint,
        )
        self.register_compliance_hook("access_token_response", check_response)
        self.register_compliance_hook("refresh_token_response", check_response)

    def __repr__(self) -> str:
        return f"HttpxOAuth2Client(client_id={self.client_id!r})"


def authorization_url(
    authorize_url: str,
    *,
    client_id: str,
    scope: str,
    redirect_uri: str,
    state: str,
    code_verifier: str,
    **extra: Any,
) -> str:
    """The authorize URL with ``code_challenge`` (S256 of ``code_verifier``) and ``state``."""
    client = OAuth2Client(
        None, client_id=client_id, scope=scope, redirect_uri=redirect_uri, code_challenge_method="S256"
    )
    url, _ = client.create_authorization_url(authorize_url, state=state, code_verifier=code_verifier, **extra)
    return str(url)


def new_code_verifier() -> str:
    """A PKCE code verifier: 64 characters from the unreserved set (RFC 7636 allows 43 to 128)."""
    from authlib.common.security import generate_token

    return str(generate_token(64))


def new_state() -> str:
    from authlib.common.security import generate_token

    return str(generate_token(32))
