"""The identity platform's token endpoint and Graph as ``httpx.MockTransport`` handlers, a store in a
temporary directory, and a clock the tests move."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from connections.oauth_code import OAuthCodeConfig
from connections.registry import create_connection
from connections.tokens import TokenSet
from connector.store import Store

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "Abc8Q~the-client-secret-value"
TENANT = "contoso.onmicrosoft.com"
TOKEN_URL = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
GRAPH = "https://graph.microsoft.com/v1.0"


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def ms_error(status: int, error: str, aadsts: int, description: str, **extra: Any) -> httpx.Response:
    """An error answer shaped like the identity platform's."""
    body = {
        "error": error,
        "error_description": f"AADSTS{aadsts}: {description}\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\n"
        "Timestamp: 2026-01-01 00:00:00Z",
        "error_codes": [aadsts],
        "timestamp": "2026-01-01 00:00:00Z",
        "trace_id": "t-1",
        "correlation_id": "c-1",
        **extra,
    }
    return httpx.Response(status, json=body)


class FakeIdentity:
    """A token endpoint: authorization code + PKCE, rotating refresh tokens, client credentials."""

    def __init__(self, clock: FakeClock, lifetime: int = 3600) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.requests: list[dict[str, str]] = []
        self.valid_access: set[str] = set()
        self.valid_refresh: set[str] = set()
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (challenge, redirect_uri)
        self.fail_next: list[httpx.Response] = []
        self.client_secret = CLIENT_SECRET
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.transport = httpx.MockTransport(self.handle)

    def count(self, grant_type: str) -> int:
        with self._lock:
            return sum(1 for form in self.requests if form.get("grant_type") == grant_type)

    def grant(self, *, expires_in: float | None = None, refresh: bool = True) -> TokenSet:
        """Tokens as if a user had signed in (for setting up tests)."""
        body = self._issue(refresh)
        expires_at = self.clock() + (self.lifetime if expires_in is None else expires_in)
        return TokenSet(body["access_token"], expires_at, body.get("refresh_token"), body["scope"])

    def revoke_access_tokens(self) -> None:
        with self._lock:
            self.valid_access.clear()

    def _issue(self, refresh: bool = True) -> dict[str, Any]:
        with self._lock:
            n = next(self._ids)
            body: dict[str, Any] = {
                "token_type": "Bearer",
                "scope": "User.Read Mail.Read",
                "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime,
                "access_token": f"access-{n}",
            }
            self.valid_access.add(body["access_token"])
            if refresh:
                body["refresh_token"] = f"refresh-{n}"
                self.valid_refresh.add(body["refresh_token"])
        return body

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
        form = dict(parse_qsl(request.content.decode()))
        with self._lock:
            self.requests.append(form)
            if self.fail_next:
                return self.fail_next.pop(0)
        grant_type = form.get("grant_type")
        if form.get("client_id") != CLIENT_ID:
            return ms_error(400, "unauthorized_client", 700016, "Application not found in the directory.")
        if "client_secret" in form and form["client_secret"] != self.client_secret:
            return ms_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        if grant_type == "refresh_token":
            with self._lock:
                known = form.get("refresh_token") in self.valid_refresh
                self.valid_refresh.discard(form.get("refresh_token", ""))  # rotation: usable once
            if not known:
                return ms_error(
                    400, "invalid_grant", 70008, "The refresh token has expired or was already used."
                )
            return httpx.Response(200, json=self._issue())
        if grant_type == "client_credentials":
            if "client_secret" not in form:
                return ms_error(401, "invalid_client", 7000218, "client_secret is required.")
            assert form["scope"].endswith("/.default")
            return httpx.Response(200, json=self._issue(refresh=False))
        if grant_type == "authorization_code":
            with self._lock:
                challenge, redirect_uri = self.codes.pop(form.get("code", ""), ("", ""))
            verifier = form.get("code_verifier", "")
            computed = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if not challenge or computed != challenge or form.get("redirect_uri") != redirect_uri:
                return ms_error(400, "invalid_grant", 50148, "The code_verifier does not match.")
            return httpx.Response(200, json=self._issue())
        return ms_error(400, "unsupported_grant_type", 70003, "unsupported grant type")


class FakeGraph:
    """Graph: 200 with the caller's token and body for a valid access token, else 401."""

    def __init__(self, identity: FakeIdentity) -> None:
        self.identity = identity
        self.seen: list[str] = []
        self._lock = threading.Lock()
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            self.seen.append(token)
            valid = token in self.identity.valid_access
        if not valid:
            error = {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired."}}
            return httpx.Response(401, json=error)
        return httpx.Response(200, json={"token": token, "body": request.content.decode() or None})

    def client(self, auth: httpx.Auth) -> httpx.Client:
        return httpx.Client(base_url=GRAPH, auth=auth, transport=self.transport)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def identity(clock: FakeClock) -> FakeIdentity:
    return FakeIdentity(clock)


@pytest.fixture
def graph(identity: FakeIdentity) -> FakeGraph:
    return FakeGraph(identity)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    with Store(tmp_path / "state.db", key=b"\x07" * 32, clock=clock) as opened:
        yield opened


def code_config(**overrides: Any) -> OAuthCodeConfig:
    values: dict[str, Any] = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "tenant": TENANT}
    values.update(overrides)
    return OAuthCodeConfig.model_validate(values)


def signed_in(
    store: Store, identity: FakeIdentity, clock: FakeClock, name: str = "work", **token_args: Any
) -> Any:
    """A saved oauth2_code connection with tokens, its token requests going to ``identity``."""
    tokens = identity.grant(**token_args)
    return create_connection(
        store, name, "oauth2_code", code_config(), tokens=tokens, transport=identity.transport, clock=clock
    )


def form_of(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
