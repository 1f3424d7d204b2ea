"""The identity platform emulation: authorize, token grants, errors, discovery and JWKS."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from flask import Flask
from flask.testing import FlaskClient

from sandbox import seed
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.sandbox.conftest import (
    FULL_SCOPES,
    GRAPH_TOKEN_PATH,
    REDIRECT_URI,
    app_token,
    authorize,
    bearer,
    delegated_tokens,
    pkce_pair,
    redeem,
    state_of,
)


def assert_aad_error(response: Any, status: int, error: str, aadsts: int) -> dict[str, Any]:
    assert response.status_code == status
    body: dict[str, Any] = response.get_json()
    assert body["error"] == error
    assert body["error_codes"] == [aadsts]
    assert body["error_description"].startswith(f"AADSTS{aadsts}: ")
    for label in ("Trace ID: ", "Correlation ID: ", "Timestamp: "):
        assert label in body["error_description"]
    assert body["trace_id"] in body["error_description"]
    assert body["correlation_id"] in body["error_description"]
    assert body["timestamp"].endswith("Z")
    return body


# -- authorization code + PKCE -----------------------------------------------------------------------------
def test_authorization_code_with_pkce_issues_tokens(client: FlaskClient) -> None:
    tokens = delegated_tokens(client)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert {"access_token", "refresh_token", "id_token"} <= tokens.keys()
    assert "Mail.ReadWrite" in tokens["scope"].split()
    me = client.get("/v1.0/me", headers=bearer(tokens["access_token"]))
    assert me.get_json()["userPrincipalName"] == seed.DEFAULT_USER


def test_authorize_redirect_keeps_state_and_login_hint_picks_the_user(client: FlaskClient) -> None:
    tokens = delegated_tokens(client, user=seed.USERS[2]["userPrincipalName"].upper())
    me = client.get("/v1.0/me", headers=bearer(tokens["access_token"]))
    assert me.get_json()["id"] == seed.USERS[2]["id"]


def test_pkce_verifier_mismatch_is_refused(client: FlaskClient) -> None:
    _verifier, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    response = redeem(client, authorize(client, challenge), other_verifier)
    assert_aad_error(response, 400, "invalid_grant", 501481)


def test_missing_code_verifier_is_refused(client: FlaskClient) -> None:
    _verifier, challenge = pkce_pair()
    response = redeem(client, authorize(client, challenge), "")
    assert_aad_error(response, 400, "invalid_grant", 50148)


def test_authorization_code_is_single_use(client: FlaskClient) -> None:
    verifier, challenge = pkce_pair()
    code = authorize(client, challenge)
    assert redeem(client, code, verifier).status_code == 200
    assert_aad_error(redeem(client, code, verifier), 400, "invalid_grant", 54005)


def test_authorization_code_expires() -> None:
    now = [1_700_000_000.0]
    client = create_app(SandboxConfig(clock=lambda: now[0])).test_client()
    verifier, challenge = pkce_pair()
    code = authorize(client, challenge)
    now[0] += 601
    assert_aad_error(redeem(client, code, verifier), 400, "invalid_grant", 70008)


def test_redirect_uri_must_match_the_authorize_request(client: FlaskClient) -> None:
    verifier, challenge = pkce_pair()
    code = authorize(client, challenge)
    response = redeem(client, code, verifier, redirect_uri="http://localhost:9999/other")
    assert_aad_error(response, 400, "invalid_grant", 70000)


@pytest.mark.parametrize(
    ("params", "aadsts"),
    [
        ({"redirect_uri": "http://evil.example.com/cb"}, 50011),
        ({"client_id": "00000000-0000-0000-0000-000000000001"}, 700016),
        ({"login_hint": "nobody@meridiantraders.onmicrosoft.com"}, 50034),
        ({"login_hint": seed.SHARED_MAILBOX}, 50057),
    ],
)
def test_authorize_errors_shown_to_the_user(client: FlaskClient, params: dict[str, str], aadsts: int) -> None:
    _verifier, challenge = pkce_pair()
    query = {
        "client_id": seed.CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": FULL_SCOPES,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    response = client.get("/common/oauth2/v2.0/authorize", query_string=query)
    assert response.status_code == 400
    assert f"AADSTS{aadsts}" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("params", "error", "aadsts"),
    [
        ({"code_challenge": ""}, "invalid_request", 900144),
        ({"code_challenge_method": "plain"}, "invalid_request", 9002313),
        ({"scope": "Mail.ReadEverything"}, "invalid_scope", 70011),
        ({"response_type": "token"}, "unsupported_response_type", 700054),
    ],
)
def test_authorize_errors_go_back_to_the_redirect_uri(
    client: FlaskClient, params: dict[str, str], error: str, aadsts: int
) -> None:
    _verifier, challenge = pkce_pair()
    query = {
        "client_id": seed.CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "state": "abc",
        "scope": FULL_SCOPES,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    response = client.get("/organizations/oauth2/v2.0/authorize", query_string=query)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    sent = parse_qs(urlsplit(location).query)
    assert sent["error"] == [error]
    assert sent["error_description"][0].startswith(f"AADSTS{aadsts}:")
    assert sent["state"] == ["abc"]


def test_unknown_tenant_is_refused(client: FlaskClient) -> None:
    response = client.post("/contoso.example/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
    assert_aad_error(response, 400, "invalid_request", 90002)
    page = client.get("/contoso.example/oauth2/v2.0/authorize", query_string={"client_id": seed.CLIENT_ID})
    assert page.status_code == 400 and "AADSTS90002" in page.get_data(as_text=True)
    domain = client.get(f"/{seed.TENANT_DOMAIN.upper()}/v2.0/.well-known/openid-configuration")
    assert domain.status_code == 200


def test_tokens_without_offline_access_have_no_refresh_token(client: FlaskClient) -> None:
    tokens = delegated_tokens(client, scope="User.Read Mail.Read")
    assert "refresh_token" not in tokens
    assert "id_token" not in tokens


# -- refresh tokens --------------------------------------------------------------------------------------
def refresh(client: FlaskClient, token: str, **extra: str) -> Any:
    return client.post(
        GRAPH_TOKEN_PATH,
        data={"grant_type": "refresh_token", "client_id": seed.CLIENT_ID, "refresh_token": token, **extra},
    )


def test_refresh_tokens_rotate_and_the_old_one_is_rejected(client: FlaskClient) -> None:
    first = delegated_tokens(client)
    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200
    rotated = second.get_json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert_aad_error(refresh(client, first["refresh_token"]), 400, "invalid_grant", 70008)
    assert refresh(client, rotated["refresh_token"]).status_code == 200


def test_refresh_with_a_scope_never_consented_needs_consent(client: FlaskClient) -> None:
    tokens = delegated_tokens(client, scope="offline_access User.Read")
    body = assert_aad_error(
        refresh(client, tokens["refresh_token"], scope="Mail.Send"), 400, "invalid_grant", 65001
    )
    assert body["suberror"] == "consent_required"


def test_refresh_with_an_unknown_token(client: FlaskClient) -> None:
    assert_aad_error(refresh(client, "1.Anot-a-token"), 400, "invalid_grant", 9002313)


# -- client credentials -----------------------------------------------------------------------------------
def test_client_credentials_with_secret_post_and_basic(client: FlaskClient) -> None:
    assert app_token(client)
    basic = base64.b64encode(f"{seed.CLIENT_ID}:{seed.CLIENT_SECRET}".encode()).decode()
    response = client.post(
        GRAPH_TOKEN_PATH,
        headers={"Authorization": f"Basic {basic}"},
        data={"grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and "refresh_token" not in body


@pytest.mark.parametrize(
    ("form", "status", "error", "aadsts"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_secret": ""}, 401, "invalid_client", 7000218),
        ({"scope": "Mail.Read"}, 400, "invalid_scope", 1002012),
        ({"scope": "https://outlook.office.com/.default"}, 400, "invalid_resource", 500011),
        ({"client_id": "11111111-2222-3333-4444-555555555555"}, 400, "unauthorized_client", 700016),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"grant_type": ""}, 400, "invalid_request", 900144),
    ],
)
def test_client_credentials_errors(
    client: FlaskClient, form: dict[str, str], status: int, error: str, aadsts: int
) -> None:
    data = {
        "grant_type": "client_credentials",
        "client_id": seed.CLIENT_ID,
        "client_secret": seed.CLIENT_SECRET,
        "scope": "https://graph.microsoft.com/.default",
        **form,
    }
    assert_aad_error(client.post(GRAPH_TOKEN_PATH, data=data), status, error, aadsts)


# -- forced failures and early expiry ---------------------------------------------------------------------
def test_forced_consent_failure_hits_the_next_token_request_only(app: Flask, client: FlaskClient) -> None:
    tokens = delegated_tokens(client)
    state_of(app).force_token_failure(65001)
    body = assert_aad_error(refresh(client, tokens["refresh_token"]), 400, "invalid_grant", 65001)
    assert body["suberror"] == "consent_required"
    assert delegated_tokens(client)["access_token"]


def test_forced_mfa_failure_through_the_admin_endpoint(client: FlaskClient) -> None:
    user = seed.USERS[1]["userPrincipalName"]
    forced = client.post("/_sandbox/identity/fail-next", json={"error": 50076, "user": user})
    assert forced.status_code == 200
    verifier, challenge = pkce_pair()
    body = assert_aad_error(
        redeem(client, authorize(client, challenge, login_hint=user), verifier), 400, "invalid_grant", 50076
    )
    assert body["suberror"] == "basic_action" and "claims" in body


def test_forced_failure_for_client_credentials(client: FlaskClient) -> None:
    client.post("/_sandbox/identity/fail-next", json={"error": 7000215, "app": True})
    response = client.post(
        GRAPH_TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_id": seed.CLIENT_ID,
            "client_secret": seed.CLIENT_SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert_aad_error(response, 401, "invalid_client", 7000215)


def test_expiring_tokens_early_makes_graph_answer_401(client: FlaskClient) -> None:
    tokens = delegated_tokens(client)
    headers = bearer(tokens["access_token"])
    assert client.get("/v1.0/me", headers=headers).status_code == 200
    expired = client.post("/_sandbox/tokens/expire", json={"user": seed.DEFAULT_USER, "refresh_tokens": True})
    assert expired.get_json()["expired_access_tokens"] >= 1
    response = client.get("/v1.0/me", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "expired" in response.get_json()["error"]["message"]
    assert_aad_error(refresh(client, tokens["refresh_token"]), 400, "invalid_grant", 70008)


def test_access_tokens_expire_with_the_clock() -> None:
    now = [1_700_000_000.0]
    client = create_app(SandboxConfig(clock=lambda: now[0], token_lifetime=60)).test_client()
    headers = bearer(delegated_tokens(client)["access_token"])
    assert client.get("/v1.0/me", headers=headers).status_code == 200
    now[0] += 61
    assert client.get("/v1.0/me", headers=headers).status_code == 401


# -- discovery and signatures -----------------------------------------------------------------------------
def verify_with_jwks(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """Check an RS256 JWT against a JWKS with nothing but ``cryptography``; return its claims."""
    header_b64, claims_b64, signature_b64 = token.split(".")

    def decode(part: str) -> bytes:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    header = json.loads(decode(header_b64))
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert header["alg"] == key["alg"] == "RS256"
    numbers = rsa.RSAPublicNumbers(
        int.from_bytes(decode(key["e"]), "big"), int.from_bytes(decode(key["n"]), "big")
    )
    numbers.public_key().verify(
        decode(signature_b64), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )  # raises InvalidSignature on a forged token
    claims: dict[str, Any] = json.loads(decode(claims_b64))
    assert claims["nbf"] <= time.time() < claims["exp"]
    return claims


def test_jwks_verifies_issued_tokens(client: FlaskClient) -> None:
    config = client.get(f"/{seed.TENANT_ID}/v2.0/.well-known/openid-configuration").get_json()
    assert config["token_endpoint"].endswith(f"/{seed.TENANT_ID}/oauth2/v2.0/token")
    assert config["authorization_endpoint"].endswith(f"/{seed.TENANT_ID}/oauth2/v2.0/authorize")
    jwks = client.get(f"/{seed.TENANT_ID}/discovery/v2.0/keys").get_json()

    delegated = delegated_tokens(client, scope="openid email offline_access Mail.Read")
    claims = verify_with_jwks(delegated["access_token"], jwks)
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["iss"] == config["issuer"]
    assert claims["tid"] == seed.TENANT_ID and claims["appid"] == seed.CLIENT_ID
    assert claims["oid"] == seed.USERS[0]["id"] and claims["scp"] == "Mail.Read"
    id_claims = verify_with_jwks(delegated["id_token"], jwks)
    assert id_claims["aud"] == seed.CLIENT_ID and id_claims["email"] == seed.DEFAULT_USER

    app_claims = verify_with_jwks(app_token(client), jwks)
    assert "scp" not in app_claims and "Mail.ReadWrite" in app_claims["roles"]
    assert app_claims["idtyp"] == "app"

    header, claims_part, signature = delegated["access_token"].split(".")
    forged = claims_part[:-4] + ("AAAA" if not claims_part.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidSignature):
        verify_with_jwks(f"{header}.{forged}.{signature}", jwks)


def test_common_discovery_uses_the_tenant_placeholder(client: FlaskClient) -> None:
    config = client.get("/common/v2.0/.well-known/openid-configuration").get_json()
    assert config["issuer"].endswith("/{tenantid}/v2.0")
    assert config["jwks_uri"].endswith("/common/discovery/v2.0/keys")


def test_token_requests_are_logged_without_secrets(app: Flask, client: FlaskClient) -> None:
    delegated_tokens(client)
    app_token(client)
    token_records = [r for r in state_of(app).request_log if r.path.endswith("/token")]
    assert len(token_records) == 2
    for record in token_records:
        for secret_field in ("code", "code_verifier", "client_secret"):
            assert record.form.get(secret_field) in (None, "***")
        assert record.form["grant_type"] in ("authorization_code", "client_credentials")
    assert seed.CLIENT_SECRET not in str([r.to_json() for r in state_of(app).request_log])
