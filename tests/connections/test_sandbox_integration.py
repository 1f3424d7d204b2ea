"""Connections against the running sandbox emulator: code + PKCE, refresh rotation, client
credentials, the loopback listener, and the identity platform's failures, all over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connections.loopback import run_loopback_flow
from connections.registry import create_connection, load_connection
from connections.sandbox import sandbox_config, sandbox_connection
from connector.errors import AuthError
from connector.store import Store
from sandbox import seed
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

USER_ID = str(seed.USERS[0]["id"])


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(messages_per_user=20)) as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db", key=b"\x01" * 32) as opened:
        yield opened


class Log:
    """The sandbox's token requests since this object was made."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.start = len(server.state.request_log)

    def grants(self) -> list[str]:
        records = self.server.state.request_log[self.start :]
        return [r.form.get("grant_type", "") for r in records if r.path.endswith("/oauth2/v2.0/token")]


def _me(conn: object, server: SandboxServer) -> httpx.Response:
    with httpx.Client(auth=conn.auth()) as client:  # type: ignore[attr-defined]
        return client.get(f"{server.graph_url}/me")


def test_delegated_sign_in_with_code_and_pkce(server: SandboxServer, store: Store) -> None:
    log = Log(server)
    conn = sandbox_connection(store, server.url, "delegated")
    assert (conn.type_key, conn.app_only, conn.graph_base_url) == ("oauth2_code", False, server.graph_url)
    answer = _me(conn, server)
    assert answer.status_code == 200
    assert answer.json()["userPrincipalName"] == seed.DEFAULT_USER
    assert log.grants() == ["authorization_code"]
    stored = store.load_tokens("sandbox") or {}
    assert stored["refresh_token"] and stored["access_token"]
    with httpx.Client() as client:  # another user than the default
        other = str(seed.USERS[1]["userPrincipalName"])
        conn2 = sandbox_connection(store, server.url, "delegated", name="jordan", user=other)
        me = client.get(
            f"{server.graph_url}/me", headers={"Authorization": f"Bearer {conn2.tokens.access_token()}"}
        )
        assert me.json()["userPrincipalName"] == other


def test_refresh_rotation_on_401(server: SandboxServer, store: Store) -> None:
    conn = sandbox_connection(store, server.url, "delegated")
    first = store.load_tokens("sandbox") or {}
    server.state.identity.expire(USER_ID)  # Graph now answers 401 for the current access token
    log = Log(server)
    again = load_connection(store, "sandbox")  # e.g. another process
    assert _me(again, server).status_code == 200
    assert log.grants() == ["refresh_token"]
    rotated = store.load_tokens("sandbox") or {}
    assert rotated["refresh_token"] != first["refresh_token"]
    # the sandbox, like Microsoft, accepts a refresh token once: the old one is spent
    with httpx.Client() as client:
        old = client.post(
            f"{server.url}/{seed.TENANT_ID}/oauth2/v2.0/token",
            data={
                "grant_type": "refresh_token",
                "client_id": seed.CLIENT_ID,
                "refresh_token": first["refresh_token"],
            },
        )
    assert old.status_code == 400 and old.json()["error_codes"] == [70008]
    assert _me(conn, server).status_code == 200  # the first object picks up the stored rotation


def test_refresh_before_expiry_by_the_clock(server: SandboxServer, store: Store) -> None:
    sandbox_connection(store, server.url, "delegated")
    later = load_connection(store, "sandbox", clock=lambda: server.state.config.clock() + 3500)
    log = Log(server)
    later.tokens.access_token()
    assert log.grants() == ["refresh_token"]


def test_twenty_threads_one_refresh(server: SandboxServer, store: Store) -> None:
    conn = sandbox_connection(store, server.url, "delegated")
    auth = conn.auth()
    server.state.identity.expire(USER_ID)
    log = Log(server)
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def call() -> None:
        barrier.wait()
        with httpx.Client(auth=auth) as client:
            statuses.append(client.get(f"{server.graph_url}/me").status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 20
    assert log.grants() == ["refresh_token"]


def test_client_credentials(server: SandboxServer, store: Store) -> None:
    log = Log(server)
    conn = sandbox_connection(store, server.url, "app", name="app", user=seed.SHARED_MAILBOX)
    assert conn.app_only and conn.default_mailbox == seed.SHARED_MAILBOX
    with httpx.Client(auth=conn.auth()) as client:
        folders = client.get(f"{server.graph_url}/users/{seed.SHARED_MAILBOX}/mailFolders")
        me = client.get(f"{server.graph_url}/me")
    assert folders.status_code == 200 and folders.json()["value"]
    assert me.status_code == 400  # app-only has no /me
    assert log.grants() == ["client_credentials"]
    reloaded = load_connection(store, "app")
    with httpx.Client(auth=reloaded.auth()) as client:
        assert client.get(f"{server.graph_url}/users/{seed.SHARED_MAILBOX}").status_code == 200
    assert log.grants() == ["client_credentials"]  # cached in the store


def test_wrong_client_secret(server: SandboxServer, store: Store) -> None:
    config = sandbox_config(server.url, "app").model_dump()
    config["client_secret"] = "not-the-secret"
    conn = create_connection(store, "bad", "client_credentials", config)
    with pytest.raises(AuthError) as info:
        conn.tokens.access_token()
    assert info.value.aadsts == "7000215" and "create a new client secret" in info.value.hint
    assert "not-the-secret" not in str(info.value)


@pytest.mark.parametrize(
    ("aadsts", "hint_says"),
    [(70008, "Reconnect"), (50076, "Multi-factor"), (65001, "consent"), (700082, "without use")],
)
def test_forced_identity_failures_on_refresh(
    server: SandboxServer, store: Store, aadsts: int, hint_says: str
) -> None:
    conn = sandbox_connection(store, server.url, "delegated")
    server.state.identity.expire(USER_ID)
    server.state.identity.force_failure(USER_ID, aadsts)
    with pytest.raises(AuthError) as info:
        _me(conn, server)
    assert info.value.aadsts == str(aadsts) and hint_says in info.value.hint
    record = store.get_connection("sandbox")
    assert record is not None and f"AADSTS{aadsts}" in (record.last_error or "")


def test_unknown_user_at_sign_in(server: SandboxServer, store: Store) -> None:
    with pytest.raises(AuthError) as info:
        sandbox_connection(store, server.url, "delegated", user="nobody@nowhere.example")
    assert info.value.aadsts == "50034"
    assert store.get_connection("sandbox") is None


def test_loopback_flow_through_the_sandbox(server: SandboxServer) -> None:
    """The sandbox's authorize endpoint redirects the "browser" to the local listener."""
    config = sandbox_config(server.url, "delegated")
    pages: list[int] = []

    def browser(url: str) -> None:
        with httpx.Client(follow_redirects=True) as client:
            pages.append(client.get(url).status_code)

    tokens = run_loopback_flow(config, browser, timeout=30)
    assert pages == [200]
    with httpx.Client() as client:
        me = client.get(f"{server.graph_url}/me", headers={"Authorization": f"Bearer {tokens.access_token}"})
    assert me.json()["userPrincipalName"] == seed.DEFAULT_USER
