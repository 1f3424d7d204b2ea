"""Fixtures for the sandbox tests: a fresh app per test, its test client, a served instance, and
helpers that obtain tokens through the real OAuth flows."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox import seed
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from sandbox.state import EXTENSION_KEY, SandboxState

REDIRECT_URI = "http://localhost:53682/callback"
FULL_SCOPES = (
    "openid profile offline_access User.Read User.Read.All Mail.ReadWrite Mail.Send Mail.ReadWrite.Shared"
)
OTHER_USER = seed.USERS[1]
GRAPH_TOKEN_PATH = "/common/oauth2/v2.0/token"


def state_of(app: Flask) -> SandboxState:
    state = app.extensions[EXTENSION_KEY]
    assert isinstance(state, SandboxState)
    return state


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(client: FlaskClient, challenge: str, scope: str = FULL_SCOPES, **extra: str) -> str:
    """Run the authorize endpoint and return the authorization code from the redirect."""
    params = {
        "client_id": seed.CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "s-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    response = client.get("/common/oauth2/v2.0/authorize", query_string=params)
    assert response.status_code == 302, response.get_data(as_text=True)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["state"] == ["s-123"]
    return query["code"][0]


def redeem(client: FlaskClient, code: str, verifier: str, **extra: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "client_id": seed.CLIENT_ID,
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        **extra,
    }
    return client.post(GRAPH_TOKEN_PATH, data=form)


def delegated_tokens(
    client: FlaskClient, scope: str = FULL_SCOPES, user: str | None = None
) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    extra = {"login_hint": user} if user else {}
    response = redeem(client, authorize(client, challenge, scope, **extra), verifier)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def app_token(client: FlaskClient) -> str:
    response = client.post(
        f"/{seed.TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": seed.CLIENT_ID,
            "client_secret": seed.CLIENT_SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def app() -> Flask:
    return create_app(SandboxConfig())


@pytest.fixture
def state(app: Flask) -> SandboxState:
    return state_of(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def user_headers(client: FlaskClient) -> dict[str, str]:
    """Authorization for the default user with read/write/send and shared-mailbox scopes."""
    return bearer(delegated_tokens(client)["access_token"])


@pytest.fixture
def app_headers(client: FlaskClient) -> dict[str, str]:
    return bearer(app_token(client))


@pytest.fixture
def server(app: Flask) -> Iterator[SandboxServer]:
    with SandboxServer(app=app) as running:
        yield running
