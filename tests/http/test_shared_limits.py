"""GraphClient with a store-backed slot pool (``shared_slots``): each attempt holds a shared slot
for as long as it is in flight, after the process-wide one; the runtime gives the pool to its
clients when the store is shared. A SQLite store stands for the shared one here (the pool on
both backends: tests/store/test_shared_slots.py; two processes: tests/store/test_shared_limits_nodes.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from connector.errors import ConfigurationError
from connector.http import GraphClient
from connector.runtime import Runtime
from connector.store import Store
from connector.store.slots import SHARED_LIMITS_ENV, StoreSlotPool
from tests.support.connections import StaticConnection

NOW = 1_800_000_000.0
MakeClientT = Callable[..., GraphClient]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db", key=bytes(32), clock=lambda: NOW) as opened:
        yield opened


def held(store: Store) -> list[float]:
    """The leases (seconds left) of the slots held now."""
    with store.read() as db:
        rows = db.execute(
            "SELECT expires_at FROM graph_slots WHERE name LIKE 'graph-slot:%' AND holder <> ''"
            " AND name NOT LIKE '%:turn'"
        ).fetchall()
    return sorted(float(row[0]) - NOW for row in rows)


def test_an_attempt_holds_one_shared_slot_while_in_flight(store: Store, make_client: MakeClientT) -> None:
    during: list[list[float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        during.append(held(store))
        return httpx.Response(200, json={"ok": True})

    client = make_client(answer, shared_slots=StoreSlotPool(store))
    assert client.get_json("/users/alice@contoso.com/messages") == {"ok": True}
    assert client.get_json("/me/messages", params={"$top": 1}) == {"ok": True}
    assert during == [[120.0], [120.0]]  # 60 s + twice the client's 30 s timeout
    assert held(store) == []


def test_a_batch_holds_its_slots_and_a_long_timeout_a_longer_lease(
    store: Store, make_client: MakeClientT
) -> None:
    during: list[list[float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        during.append(held(store))
        return httpx.Response(200, json={"responses": []})

    client = make_client(answer, shared_slots=StoreSlotPool(store))
    batch = {"requests": [{"id": "1", "method": "GET", "url": "/users/alice/messages"}]}
    client.request("POST", "/$batch", json=batch, mailbox="alice", slots=4)
    client.request("GET", "/me/messages", timeout=600)
    assert during == [[120.0] * 4, [1260.0]]
    assert held(store) == []


def test_no_slot_is_held_while_waiting_to_retry_nor_after_an_error(
    store: Store, make_client: MakeClientT
) -> None:
    seen_while_sleeping: list[list[float]] = []
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.ConnectError("refused"),
            httpx.Response(200, json={}),
            httpx.Response(404, json={"error": {"code": "ErrorItemNotFound", "message": "gone"}}),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        assert len(held(store)) == 1
        step = next(answers)
        if isinstance(step, Exception):
            raise step
        return step

    client = make_client(
        answer, shared_slots=StoreSlotPool(store), sleep=lambda s: seen_while_sleeping.append(held(store))
    )
    assert client.get_json("/me/messages") == {}
    assert seen_while_sleeping == [[], []]
    with pytest.raises(Exception, match="gone"):
        client.get_json("/me/messages/x")
    assert held(store) == []


def test_requests_without_a_mailbox_take_no_shared_slot(store: Store, make_client: MakeClientT) -> None:
    during: list[list[float]] = []
    client = make_client(
        lambda request: during.append(held(store)) or httpx.Response(200, json={}),
        shared_slots=StoreSlotPool(store),
    )
    client.get_json("/subscriptions")
    assert during == [[]]


def test_a_failing_store_stops_the_request_before_it_is_sent(
    store: Store, make_client: MakeClientT
) -> None:
    sent: list[httpx.Request] = []
    client = make_client(lambda request: sent.append(request) or httpx.Response(200, json={}),
                         shared_slots=StoreSlotPool(store))
    with store.transaction() as db:
        db.execute("DROP TABLE graph_slots")
    with pytest.raises(ConfigurationError, match="concurrency limit"):
        client.get_json("/me/messages")
    assert sent == []
    assert client._slots_for("me").qsize() == 4  # type: ignore[union-attr]  (the local slot given back)


@pytest.mark.parametrize(("value", "shared"), [("1", True), ("0", False), (None, False)])
def test_the_runtime_shares_the_limit_through_the_store_when_told(
    store: Store, monkeypatch: pytest.MonkeyPatch, value: str | None, shared: bool
) -> None:
    """On SQLite (one machine) the limit is per process unless OUTLOOK_CONNECTOR_SHARED_LIMITS=1."""
    if value is None:
        monkeypatch.delenv(SHARED_LIMITS_ENV, raising=False)
    else:
        monkeypatch.setenv(SHARED_LIMITS_ENV, value)
    during: list[list[float]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        during.append(held(store))
        return httpx.Response(200, json={"id": "me", "displayName": "Me", "userPrincipalName": "me@x"})

    with Runtime(store=store, transport=httpx.MockTransport(answer)) as runtime:
        runtime.client_for(StaticConnection()).get_json("/me")
    assert during == ([[120.0]] if shared else [[]])
