"""BearerAuth and the token cache: renew before expiry and once on 401, store rotated refresh
tokens, one renewal for many threads, app-only tokens cached in memory and in the store."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from connections.registry import create_connection, load_connection
from connections.tokens import TokenSet
from connector.errors import AuthError
from connector.store import Store
from tests.connections.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT,
    FakeClock,
    FakeGraph,
    FakeIdentity,
    ms_error,
    signed_in,
)


def _get(graph: FakeGraph, auth: httpx.Auth, path: str = "/me") -> httpx.Response:
    with graph.client(auth) as client:
        return client.get(path)


def test_adds_the_bearer_token_and_reuses_it(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock)
    auth = conn.auth()
    for _ in range(3):
        assert _get(graph, auth).status_code == 200
    assert graph.seen == ["access-1"] * 3
    assert identity.requests == []


def test_renews_shortly_before_expiry_and_stores_the_rotated_refresh_token(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock)
    clock.now += 3600 - 299  # within the 5-minute margin
    assert _get(graph, conn.auth()).json()["token"] == "access-2"
    assert identity.count("refresh_token") == 1
    assert identity.requests[0]["refresh_token"] == "refresh-1"
    assert identity.requests[0]["client_secret"] == CLIENT_SECRET
    stored = store.load_tokens("work")
    assert stored is not None
    assert (stored["access_token"], stored["refresh_token"]) == ("access-2", "refresh-2")
    assert stored["expires_at"] == clock.now + 3600
    clock.now += 3600 - 299  # and again: the rotated refresh token is the one used
    assert _get(graph, conn.auth()).json()["token"] == "access-3"
    assert identity.requests[1]["refresh_token"] == "refresh-2"


def test_not_renewed_before_the_margin(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock)
    clock.now += 3600 - 301
    assert _get(graph, conn.auth()).json()["token"] == "access-1"
    assert identity.requests == []


def test_refresh_answer_without_refresh_token_keeps_the_old_one(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock, expires_in=0)
    identity.fail_next.append(httpx.Response(200, json={"access_token": "access-x", "expires_in": "3600"}))
    identity.valid_access.add("access-x")
    assert _get(graph, conn.auth()).json()["token"] == "access-x"
    assert (store.load_tokens("work") or {})["refresh_token"] == "refresh-1"


def test_401_renews_once_and_retries_with_the_same_body(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock)
    identity.revoke_access_tokens()  # still unexpired by the clock, but Graph refuses it
    with graph.client(conn.auth()) as client:
        response = client.post("/me/sendMail", json={"message": {"subject": "hi"}})
    assert response.status_code == 200
    assert response.json() == {"token": "access-2", "body": '{"message":{"subject":"hi"}}'}
    assert graph.seen == ["access-1", "access-2"]
    assert identity.count("refresh_token") == 1


def test_second_401_is_returned_without_more_renewals(
    store: Store, identity: FakeIdentity, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock)
    calls: list[str] = []

    def always_401(request: httpx.Request) -> httpx.Response:
        calls.append(request.headers["authorization"])
        return httpx.Response(401, json={"error": {"code": "InvalidAuthenticationToken", "message": "no"}})

    with httpx.Client(auth=conn.auth(), transport=httpx.MockTransport(always_401)) as client:
        assert client.get("https://graph.microsoft.com/v1.0/me").status_code == 401
    assert calls == ["Bearer access-1", "Bearer access-2"]
    assert identity.count("refresh_token") == 1


def test_twenty_threads_with_an_expired_token_cause_one_refresh(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock, expires_in=-10)
    auth = conn.auth()
    barrier = threading.Barrier(20)
    results: list[Any] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        try:
            outcome: Any = _get(graph, auth).json()["token"]
        except Exception as exc:
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["access-2"] * 20
    assert identity.count("refresh_token") == 1
    assert (store.load_tokens("work") or {})["refresh_token"] == "refresh-2"


def test_twenty_threads_refused_with_401_cause_one_refresh(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock)
    auth = conn.auth()
    assert _get(graph, auth).status_code == 200
    identity.revoke_access_tokens()
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def call() -> None:
        barrier.wait()
        statuses.append(_get(graph, auth).status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 20
    assert identity.count("refresh_token") == 1


def test_connections_sharing_a_store_reuse_each_others_renewal(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    first = signed_in(store, identity, clock, expires_in=-1)
    second = load_connection(store, "work", transport=identity.transport, clock=clock)  # e.g. another worker
    assert _get(graph, first.auth()).json()["token"] == "access-2"
    assert _get(graph, second.auth()).json()["token"] == "access-2"
    assert identity.count("refresh_token") == 1


def test_expired_refresh_token_is_an_auth_error_saying_reconnect(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock, expires_in=0)
    identity.valid_refresh.clear()
    with pytest.raises(AuthError) as info:
        _get(graph, conn.auth())
    error = info.value
    assert (error.code, error.aadsts) == ("invalid_grant", "70008")
    assert "Reconnect" in error.hint and "outlook-connector connect work" in error.hint
    assert "refresh-1" not in error.message and CLIENT_SECRET not in error.message
    record = store.get_connection("work")
    assert record is not None and record.last_error is not None and "AADSTS70008" in record.last_error
    assert graph.seen == []


def test_connection_without_tokens_asks_to_sign_in(
    store: Store, identity: FakeIdentity, clock: FakeClock
) -> None:
    conn = create_connection(
        store,
        "fresh",
        "oauth2_code",
        {"client_id": CLIENT_ID, "tenant": TENANT},
        transport=identity.transport,
        clock=clock,
    )
    with pytest.raises(AuthError, match="has not been signed in") as info:
        conn.tokens.access_token()
    assert info.value.code == "no_refresh_token" and "Reconnect" in info.value.hint
    assert identity.requests == []


def test_without_offline_access_there_is_no_refresh(
    store: Store, identity: FakeIdentity, clock: FakeClock
) -> None:
    create_connection(
        store, "short", "oauth2_code", {"client_id": CLIENT_ID, "scopes": "User.Read"},
        tokens=identity.grant(refresh=False, expires_in=0),
    )  # fmt: skip
    conn = load_connection(store, "short", transport=identity.transport, clock=clock)
    with pytest.raises(AuthError, match=r"has no refresh token.*offline_access"):
        conn.tokens.access_token()


# -- client credentials ----------------------------------------------------------------------------------
def _app(
    store: Store, identity: FakeIdentity, clock: FakeClock, name: str = "app", transport: Any = None
) -> Any:
    config = {
        "tenant": TENANT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "default_mailbox": "ops@x.com",
    }
    return create_connection(
        store, name, "client_credentials", config, transport=transport or identity.transport, clock=clock
    )


def test_app_only_token_is_cached_in_memory_and_in_the_store(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = _app(store, identity, clock)
    assert conn.app_only and conn.default_mailbox == "ops@x.com"
    assert _get(graph, conn.auth(), "/users/ops@x.com").json()["token"] == "access-1"
    assert _get(graph, conn.auth(), "/users/ops@x.com").json()["token"] == "access-1"
    assert identity.count("client_credentials") == 1
    form = identity.requests[0]
    assert form == {
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    again = load_connection(store, "app", transport=identity.transport, clock=clock)  # another process
    assert _get(graph, again.auth(), "/users/ops@x.com").json()["token"] == "access-1"
    assert identity.count("client_credentials") == 1
    clock.now += 3600 - 200
    assert _get(graph, again.auth(), "/users/ops@x.com").json()["token"] == "access-2"
    assert identity.count("client_credentials") == 2


def test_app_only_wrong_secret_says_create_a_new_secret(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    identity.client_secret = "another"
    conn = _app(store, identity, clock)
    with pytest.raises(AuthError) as info:
        _get(graph, conn.auth(), "/users/ops@x.com")
    assert info.value.aadsts == "7000215"
    assert "create a new client secret" in info.value.hint
    assert CLIENT_SECRET not in str(info.value)


def test_app_only_renews_once_on_401(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = _app(store, identity, clock)
    auth = conn.auth()
    _get(graph, auth, "/users/ops@x.com")
    identity.revoke_access_tokens()
    assert _get(graph, auth, "/users/ops@x.com").json()["token"] == "access-2"
    assert identity.count("client_credentials") == 2


def test_token_endpoint_outage_and_unreachable(
    store: Store, identity: FakeIdentity, graph: FakeGraph, clock: FakeClock
) -> None:
    conn = _app(store, identity, clock)
    identity.fail_next.append(httpx.Response(503, text="<html>Service Unavailable</html>"))
    with pytest.raises(AuthError, match="temporarily unavailable") as info:
        conn.tokens.access_token()
    assert info.value.code == "server_error"

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    offline = _app(store, identity, clock, name="offline", transport=httpx.MockTransport(refuse))
    with pytest.raises(
        AuthError, match=r"Could not reach the identity platform at login\.microsoftonline\.com"
    ):
        offline.tokens.access_token()


def test_token_error_answer_with_microsoft_error_json(
    store: Store, identity: FakeIdentity, clock: FakeClock
) -> None:
    conn = signed_in(store, identity, clock, expires_in=0)
    identity.fail_next.append(
        ms_error(
            400,
            "invalid_grant",
            65001,
            "The user or administrator has not consented.",
            suberror="consent_required",
        )
    )
    with pytest.raises(AuthError) as info:
        conn.tokens.access_token()
    text = str(info.value)
    assert "AADSTS65001: The user or administrator has not consented." in text
    assert "trace ID t-1, correlation ID c-1" in text
    assert "administrator must grant consent" in text and "adminconsent" in text


def test_reprs_hide_tokens(store: Store, identity: FakeIdentity, clock: FakeClock) -> None:
    conn = signed_in(store, identity, clock)
    tokens = conn.tokens.current()
    assert isinstance(tokens, TokenSet)
    texts = [
        repr(conn),
        repr(conn.auth()),
        repr(conn.tokens),
        repr(tokens),
        repr(conn.token_client),
        repr(conn.config),
    ]
    for text in texts:
        assert "access-1" not in text and "refresh-1" not in text and CLIENT_SECRET not in text
