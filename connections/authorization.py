"""The authorization code flow with PKCE (S256) and ``state``: start, finish, and a headless variant
for the sandbox emulator (which consents by itself).

    request = begin_authorization(config)            # send the user to request.authorize_url
    tokens = complete_authorization(config, callback_url, request.state, request.code_verifier)
"""

from __future__ import annotations

import hmac
import html
import re
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

import httpx

from connections.config import ConfigModel
from connections.identity import AppRegistration, TokenClient
from connections.identity_errors import identity_error
from connections.tokens import TokenSet
from connector.errors import AuthError, ConfigurationError

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class AuthorizationRequest(NamedTuple):
    """Where to send the user, and what to keep until they come back (never show the verifier)."""

    authorize_url: str
    state: str
    code_verifier: str

    def __repr__(self) -> str:
        return "AuthorizationRequest(authorize_url=..., state=<hidden>, code_verifier=<hidden>)"


def _delegated(config: ConfigModel, connection: str = "") -> AppRegistration:
    app = config.registration(connection)
    if app.authorize_url is None or app.redirect_uri is None:
        raise ConfigurationError("this connection type does not sign users in (it has no authorize URL)")
    return app


def begin_authorization(
    config: ConfigModel,
    *,
    redirect_uri: str | None = None,
    login_hint: str | None = None,
    prompt: str | None = None,
) -> AuthorizationRequest:
    """A new authorize URL with a fresh ``state`` and PKCE code verifier (S256 challenge)."""
    from connections._authlib import authorization_url, new_code_verifier, new_state

    app = _delegated(config)
    state, verifier = new_state(), new_code_verifier()
    # an authorize URL with a query (``...?prompt=consent``) keeps its parameters; the call's win
    base, _, query = str(app.authorize_url).partition("?")
    extra = {**dict(parse_qsl(query)), "response_mode": "query"}
    if login_hint:
        extra["login_hint"] = login_hint
    if prompt:
        extra["prompt"] = prompt
    url = authorization_url(
        base,
        client_id=app.client_id,
        scope=app.scope,
        redirect_uri=redirect_uri or str(app.redirect_uri),
        state=state,
        code_verifier=verifier,
        **extra,
    )
    return AuthorizationRequest(url, state, verifier)


def callback_params(callback_url_or_params: str | Mapping[str, str]) -> dict[str, str]:
    """The parameters of the redirect back: from a full URL, a query string, or a mapping."""
    if isinstance(callback_url_or_params, Mapping):
        return {str(k): str(v) for k, v in callback_url_or_params.items()}
    text = callback_url_or_params.strip()
    if "://" in text or text.startswith("/"):
        text = urlsplit(text).query
    return dict(parse_qsl(text.lstrip("?"), keep_blank_values=True))


def complete_authorization(
    config: ConfigModel,
    callback_url_or_params: str | Mapping[str, str],
    expected_state: str,
    code_verifier: str,
    *,
    redirect_uri: str | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    connection: str = "",
) -> TokenSet:
    """Check the redirect's ``state``, then redeem its code with the PKCE verifier. A wrong or
    missing state is refused before anything is exchanged."""
    params = callback_params(callback_url_or_params)
    app = _delegated(config, connection)
    if not hmac.compare_digest(params.get("state", "").encode(), expected_state.encode()):
        raise AuthError(
            "The sign-in answer does not belong to this sign-in (state mismatch); nothing was exchanged.",
            code="state_mismatch",
            hint="Start the sign-in again from the beginning, in one browser window.",
        )
    if "error" in params:
        raise identity_error(params, app.context, what="sign-in")
    code = params.get("code")
    if not code:
        raise AuthError("The sign-in answer carries no authorization code.", code="invalid_request")
    client = TokenClient(app, transport=transport, clock=clock)
    try:
        return client.exchange_code(code, code_verifier, redirect_uri or str(app.redirect_uri))
    finally:
        client.close()


def authorize_headless(
    config: ConfigModel,
    login_hint: str | None,
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    connection: str = "",
) -> TokenSet:
    """For the sandbox emulator only (it signs in ``login_hint`` and consents without a page): send
    the authorize request, take code and state from the redirect's Location, and finish normally."""
    request = begin_authorization(config, login_hint=login_hint)
    with httpx.Client(transport=transport, follow_redirects=False, timeout=30.0) as client:
        try:
            response = client.get(request.authorize_url)
        except httpx.TransportError as exc:
            from connections.identity_errors import unreachable

            raise unreachable(request.authorize_url, exc) from None
    location = response.headers.get("location")
    if response.status_code not in _REDIRECTS or not location:
        found = re.search(r"AADSTS\d+:[^<]*", response.text)
        description = html.unescape(found.group(0)) if found else f"HTTP {response.status_code}"
        raise identity_error(
            {"error": "invalid_request", "error_description": description},
            _delegated(config, connection).context,
            response.status_code,
            what="sign-in",
        )
    return complete_authorization(
        config,
        location,
        request.state,
        request.code_verifier,
        transport=transport,
        clock=clock,
        connection=connection,
    )
