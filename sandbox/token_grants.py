"""The token endpoint's grants: authorization code + PKCE, refresh token (rotating), client credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from flask import Response, jsonify, request

from sandbox import seed, tokens
from sandbox.grants import FORCEABLE, GRAPH_APP_ID, GRAPH_RESOURCE, IdentityStore
from sandbox.oauth import IdentityFailure, issuer, parse_delegated_scopes, unknown_client, user_by_id
from sandbox.state import current_state


def _client_credentials() -> tuple[str, str | None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode("utf-8")
        except ValueError:
            decoded = ""
        client_id, _, secret = decoded.partition(":")
        return unquote(client_id), unquote(secret)
    return request.form.get("client_id", ""), request.form.get("client_secret")


def _authenticate_client(require_secret: bool) -> str:
    client_id, secret = _client_credentials()
    if not client_id:
        raise IdentityFailure(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    if client_id != seed.CLIENT_ID:
        raise unknown_client(client_id)
    if secret is None or secret == "":
        if require_secret:
            raise IdentityFailure(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
    elif not hmac.compare_digest(secret.encode(), seed.CLIENT_SECRET.encode()):
        raise IdentityFailure(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            f"client secret value, not the client secret ID, for a secret added to app "
            f"'{seed.CLIENT_ID}'.",
        )
    return client_id


def _raise_forced(store: IdentityStore, subject: str) -> None:
    aadsts = store.take_forced_failure(subject)
    if aadsts is not None:
        forced = FORCEABLE[aadsts]
        raise IdentityFailure(forced.status, forced.error, aadsts, forced.description, **dict(forced.extra))


def _required(name: str) -> str:
    value = request.form.get(name)
    if not value:
        raise IdentityFailure(
            400,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{name}'.",
        )
    return value


def _expired_grant() -> IdentityFailure:
    return IdentityFailure(
        400,
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity or was "
        "already used. Send a new interactive authorization request for this user and resource.",
    )


def _malformed_grant(what: str) -> IdentityFailure:
    return IdentityFailure(
        400,
        "invalid_grant",
        9002313,
        f"Invalid request. Request is malformed or invalid. The {what} is not recognized.",
    )


def _check_same_client(granted_to: str, client_id: str, parameter: str) -> None:
    if granted_to != client_id:
        raise IdentityFailure(
            400,
            "invalid_grant",
            70000,
            f"The provided value for the '{parameter}' parameter is not valid for this client.",
        )


def _delegated_response(
    store: IdentityStore, client_id: str, user_id: str, scopes: tuple[str, ...], nonce: str | None = None
) -> Response:
    user = user_by_id(user_id)
    graph_scopes = tuple(s for s in scopes if s not in seed.OIDC_SCOPES)
    token_issuer = issuer()
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join((*graph_scopes, *(s for s in scopes if s in ("openid", "profile", "email")))),
        "expires_in": store.token_lifetime,
        "ext_expires_in": store.token_lifetime,
        "access_token": store.delegated_access_token(token_issuer, client_id, user, graph_scopes),
    }
    if "offline_access" in scopes:
        body["refresh_token"] = store.new_refresh_token(client_id, user_id, scopes)
    if "openid" in scopes:
        body["id_token"] = store.id_token(token_issuer, client_id, user, scopes, nonce)
    return _token_json(body)


def _token_json(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store, no-cache"
    response.headers["Pragma"] = "no-cache"
    return response


def _authorization_code_grant(store: IdentityStore) -> Response:
    client_id = _authenticate_client(require_secret=False)
    code = _required("code")
    redirect_uri = _required("redirect_uri")
    with store.lock:
        grant = store.codes.get(code)
        first_use = grant is not None and not grant.redeemed
        if grant is not None:
            grant.redeemed = True
    if grant is None:
        raise _malformed_grant("authorization code")
    if not first_use:
        raise IdentityFailure(
            400,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or "
            "use an existing refresh token.",
        )
    if grant.expires_at < store.clock():
        raise _expired_grant()
    _check_same_client(grant.client_id, client_id, "code")
    if grant.redirect_uri != redirect_uri:
        raise IdentityFailure(
            400,
            "invalid_grant",
            70000,
            "The provided value for the 'redirect_uri' is not valid. The value must exactly match "
            "the redirect URI used to obtain the authorization code.",
        )
    verifier = request.form.get("code_verifier")
    if not verifier:
        raise IdentityFailure(
            400,
            "invalid_grant",
            50148,
            "The code_verifier does not match the code_challenge supplied in the authorization "
            "request for PKCE.",
        )
    computed = tokens.b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    if not hmac.compare_digest(computed, grant.code_challenge):
        raise IdentityFailure(
            400,
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        )
    _raise_forced(store, grant.user_id)
    return _delegated_response(store, client_id, grant.user_id, grant.scopes, grant.nonce)


def _refresh_token_grant(store: IdentityStore) -> Response:
    client_id = _authenticate_client(require_secret=False)
    token = _required("refresh_token")
    with store.lock:
        grant = store.refresh_tokens.get(token)
        first_use = grant is not None and not grant.used
        if grant is not None:
            grant.used = True  # rotation: a refresh token works once
    if grant is None:
        raise _malformed_grant("refresh token")
    if not first_use or grant.expires_at < store.clock():
        raise _expired_grant()
    _check_same_client(grant.client_id, client_id, "refresh_token")
    scopes = grant.scopes
    if request.form.get("scope"):
        requested = parse_delegated_scopes(request.form["scope"])
        missing = [s for s in requested.graph if s not in grant.scopes]
        if missing:
            forced = FORCEABLE[65001]
            raise IdentityFailure(
                forced.status, forced.error, 65001, forced.description, **dict(forced.extra)
            )
        scopes = (*requested.graph, *(s for s in grant.scopes if s in seed.OIDC_SCOPES))
    _raise_forced(store, grant.user_id)
    return _delegated_response(store, client_id, grant.user_id, scopes)


def _client_credentials_grant(store: IdentityStore) -> Response:
    client_id = _authenticate_client(require_secret=True)
    scope = _required("scope").strip()
    lowered = scope.lower()
    if lowered not in (GRAPH_RESOURCE + "/.default", GRAPH_APP_ID + "/.default"):
        if lowered.endswith("/.default"):
            resource = scope[: -len("/.default")]
            raise IdentityFailure(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{seed.TENANT_NAME}.",
            )
        raise IdentityFailure(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scope} is not valid. Client credential flows must have "
            "a scope value with /.default suffixed to the resource identifier (application ID URI).",
        )
    _raise_forced(store, f"app:{client_id}")
    return _token_json(
        {
            "token_type": "Bearer",
            "expires_in": store.token_lifetime,
            "ext_expires_in": store.token_lifetime,
            "access_token": store.app_access_token(issuer(), client_id, current_state().app_roles),
        }
    )


_GRANTS: dict[str, Callable[[IdentityStore], Response]] = {
    "authorization_code": _authorization_code_grant,
    "refresh_token": _refresh_token_grant,
    "client_credentials": _client_credentials_grant,
}


def token_response(store: IdentityStore) -> Response:
    """Answer a token request: run the grant it names, or the identity platform's error."""
    try:
        grant_type = _required("grant_type")
        handler = _GRANTS.get(grant_type)
        if handler is None:
            raise IdentityFailure(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        return handler(store)
    except IdentityFailure as failure:
        return failure.response()
