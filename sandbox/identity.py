"""Microsoft identity platform v2 endpoints: authorize (auto-consent), token, discovery, JWKS."""

from __future__ import annotations

import html
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from sandbox import seed, tokens
from sandbox.errors import oauth_error
from sandbox.fault_hooks import draw_fault, fail_after, slow_down
from sandbox.faults import Fault
from sandbox.oauth import (
    TENANTS,
    IdentityFailure,
    issuer,
    parse_delegated_scopes,
    redirect_uri_allowed,
    unknown_client,
    user_by_upn,
)
from sandbox.state import current_state
from sandbox.throttle import format_retry_after
from sandbox.token_grants import token_response

bp = Blueprint("identity", __name__)


# -- every request: faults, tenant ------------------------------------------------------------------
def _fault_answer(fault: Fault) -> Response:
    response = oauth_error(
        fault.status or 504,
        "temporarily_unavailable",
        90033,
        "A transient error has occurred. Please try again.",
    )
    if fault.retry_after is not None:
        response.headers["Retry-After"] = format_retry_after(fault.retry_after)
    return response


@bp.before_request
def _before() -> Response | None:
    """Faults (only when ``fault_paths`` names identity paths; the default is Graph only), then the
    tenant segment: unknown tenants are refused (on a page for authorize, in JSON elsewhere)."""
    early = draw_fault(_fault_answer)
    if early is not None:
        return early
    slow_down()
    tenant = str((request.view_args or {}).get("tenant", ""))
    if tenant.lower() in TENANTS:
        return None
    failure = IdentityFailure(
        400,
        "invalid_request",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing "
        "into the correct cloud.",
    )
    return _error_page(failure) if request.endpoint == "identity.authorize" else failure.response()


@bp.after_request
def _faults_after(response: Response) -> Response:
    return fail_after(response, _fault_answer)


# -- authorize -----------------------------------------------------------------------------------------
def _error_page(failure: IdentityFailure) -> Response:
    text = f"AADSTS{failure.aadsts}: {failure.description}"
    page = (
        f"<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Sorry, but we're having "
        f'trouble signing you in.</h1><p id="error">{html.escape(text)}</p></body></html>'
    )
    return Response(page, status=400, mimetype="text/html")


def _redirect_error(redirect_uri: str, state: str | None, failure: IdentityFailure) -> Response:
    params = {
        "error": failure.error,
        "error_description": f"AADSTS{failure.aadsts}: {failure.description}",
        "error_uri": f"https://login.microsoftonline.com/error?code={failure.aadsts}",
    }
    if state is not None:
        params["state"] = state
    return _redirect_with(redirect_uri, params)


def _redirect_with(redirect_uri: str, params: dict[str, str]) -> Response:
    separator = "&" if "?" in redirect_uri else "?"
    return Response(status=302, headers={"Location": redirect_uri + separator + urlencode(params)})


@bp.get("/<tenant>/oauth2/v2.0/authorize")
def authorize(tenant: str) -> Response:
    args = request.args
    client_id = args.get("client_id", "")
    redirect_uri = args.get("redirect_uri", "")
    try:
        if client_id != seed.CLIENT_ID:
            raise unknown_client(client_id)
        if not redirect_uri_allowed(redirect_uri):
            raise IdentityFailure(
                400,
                "invalid_request",
                50011,
                f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                f"redirect URIs configured for the application '{seed.CLIENT_ID}'.",
            )
        user = _signed_in_user(args.get("login_hint"))
    except IdentityFailure as failure:
        return _error_page(failure)

    state = args.get("state")
    try:
        if args.get("response_type") != "code":
            raise IdentityFailure(
                400,
                "unsupported_response_type",
                700054,
                f"response_type '{args.get('response_type', '')}' is not enabled for the application.",
            )
        scopes = parse_delegated_scopes(args.get("scope"))
        challenge = args.get("code_challenge")
        if not challenge:
            raise IdentityFailure(
                400,
                "invalid_request",
                900144,
                "The request must contain the following parameter: 'code_challenge' (PKCE is "
                "required for this application).",
            )
        if args.get("code_challenge_method") != "S256":
            raise IdentityFailure(
                400, "invalid_request", 9002313, "Invalid request. The code_challenge_method must be 'S256'."
            )
    except IdentityFailure as failure:
        return _redirect_error(redirect_uri, state, failure)

    code = current_state().identity.new_code(
        client_id=client_id,
        redirect_uri=redirect_uri,
        user_id=user["id"],
        scopes=scopes.all,
        code_challenge=challenge,
        nonce=args.get("nonce"),
    )
    params = {"code": code}
    if state is not None:
        params["state"] = state
    params["session_state"] = str(uuid.uuid4())
    return _redirect_with(redirect_uri, params)


def _signed_in_user(login_hint: str | None) -> dict[str, Any]:
    upn = login_hint or seed.DEFAULT_USER
    user = user_by_upn(upn)
    if user is None:
        raise IdentityFailure(
            400,
            "invalid_request",
            50034,
            f"The user account {upn} does not exist in the '{seed.TENANT_DOMAIN}' directory.",
        )
    if user["id"] == seed.SHARED_MAILBOX_USER["id"]:
        raise IdentityFailure(400, "invalid_grant", 50057, "The user account is disabled.")
    return user


# -- token ---------------------------------------------------------------------------------------------
@bp.post("/<tenant>/oauth2/v2.0/token")
def token(tenant: str) -> Response:
    return token_response(current_state().identity)


# -- discovery -----------------------------------------------------------------------------------------
@bp.get("/<tenant>/v2.0/.well-known/openid-configuration")
def openid_configuration(tenant: str) -> Response:
    base = request.host_url.rstrip("/")
    issuer_tenant = seed.TENANT_ID if tenant not in ("common", "organizations") else "{tenantid}"
    return jsonify(
        {
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{issuer_tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{base}/oidc/userinfo",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
            ],
            "tenant_region_scope": "NA",
            "cloud_instance_name": "sandbox.local",
            "cloud_graph_host_name": request.host,
            "msgraph_host": request.host,
        }
    )


@bp.get("/<tenant>/discovery/v2.0/keys")
def jwks(tenant: str) -> Response:
    return jsonify({"keys": [tokens.signing_key().jwk(issuer())]})
