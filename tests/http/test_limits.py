"""The per app+mailbox concurrency limit (4 in flight), shared by threads and clients."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import httpx
import pytest

from connector._limits import mailbox_of
from connector.http import GraphClient
from tests.http.conftest import BASE

MakeClient = Callable[..., GraphClient]
WAIT = 5.0  # generous timeout for barriers/events; the tests never actually wait this long


class InFlight:
    """A handler tracking requests in flight per mailbox (taken from the path)."""

    def __init__(self, gate: Callable[[httpx.Request], object]) -> None:
        self.gate = gate
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.done: dict[str, int] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        box = request.url.path.split("/")[3] if request.url.path.startswith("/v1.0/users/") else "me"
        with self.lock:
            self.now[box] = self.now.get(box, 0) + 1
            self.peak[box] = max(self.peak.get(box, 0), self.now[box])
        try:
            self.gate(request)
        finally:
            with self.lock:
                self.now[box] -= 1
                self.done[box] = self.done.get(box, 0) + 1
        return httpx.Response(200, json={"ok": True})


def run_threads(n: int, target: Callable[[], object]) -> list[threading.Thread]:
    threads = [threading.Thread(target=target) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def test_never_more_than_four_in_flight_for_one_mailbox(make_client: MakeClient) -> None:
    barrier = threading.Barrier(4, timeout=WAIT)  # only passes when exactly 4 are in flight together
    handler = InFlight(lambda request: barrier.wait())
    client = make_client(handler)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            client.get_json("/users/Alice@contoso.com/messages")
        except BaseException as exc:
            errors.append(exc)

    for t in run_threads(20, call):
        t.join(WAIT * 2)
    assert errors == []
    assert handler.done["Alice@contoso.com"] == 20
    assert handler.peak["Alice@contoso.com"] == 4


def test_mailboxes_are_limited_independently(make_client: MakeClient) -> None:
    release = threading.Event()
    four_in = threading.Barrier(5, timeout=WAIT)  # alice's first 4 requests + the test

    def gate(request: httpx.Request) -> None:
        if request.url.path.startswith("/v1.0/users/alice/"):
            four_in.wait()
            assert release.wait(WAIT)

    handler = InFlight(gate)
    client = make_client(handler)
    results: list[object] = []
    threads = run_threads(4, lambda: results.append(client.get_json("/users/alice/messages")))
    four_in.wait()  # alice's 4 slots are taken, all blocked in the server
    # A fifth request for the same mailbox (spelled in upper case) must wait for a slot.
    fifth = run_threads(1, lambda: results.append(client.get_json("/users/ALICE/messages")))

    # Other mailboxes are not held up by alice's full slots.
    assert client.get_json("/users/bob/messages") == {"ok": True}
    assert client.get_json("/me/messages") == {"ok": True}
    fifth[0].join(0.05)
    assert fifth[0].is_alive()
    assert "ALICE" not in handler.done and handler.now["alice"] == 4

    release.set()
    for t in [*threads, *fifth]:
        t.join(WAIT)
    assert len(results) == 5
    assert handler.peak["alice"] == 4 and handler.done["ALICE"] == 1
    assert handler.peak["bob"] == 1


def test_limit_is_shared_by_clients_with_the_same_key(make_client: MakeClient) -> None:
    key = uuid.uuid4().hex
    barrier = threading.Barrier(4, timeout=WAIT)
    handler = InFlight(lambda request: barrier.wait())
    clients = [make_client(handler, mailbox_limit_key=key) for _ in range(3)]
    errors: list[BaseException] = []

    def call(client: GraphClient) -> Callable[[], None]:
        def run() -> None:
            try:
                client.get_json("/me/messages")
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=call(clients[i % 3])) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert errors == []
    assert handler.peak["me"] == 4 and handler.done["me"] == 12


def test_explicit_mailbox_argument_and_no_limit_without_mailbox(make_client: MakeClient) -> None:
    # Requests that name no mailbox (/subscriptions) are not limited: 6 may be in flight.
    barrier = threading.Barrier(6, timeout=WAIT)
    handler = InFlight(lambda request: barrier.wait())
    client = make_client(handler)
    for t in run_threads(6, lambda: client.get_json("/subscriptions")):
        t.join(WAIT)
    assert handler.done["me"] == 6

    # ... unless the caller names the mailbox the request is about.
    gate_barrier = threading.Barrier(4, timeout=WAIT)
    handler2 = InFlight(lambda request: gate_barrier.wait())
    client2 = make_client(handler2)
    for t in run_threads(8, lambda: client2.get_json("/subscriptions", mailbox="alice")):
        t.join(WAIT * 2)
    assert handler2.peak["me"] == 4 and handler2.done["me"] == 8


def test_slot_is_not_held_while_sleeping_between_retries(make_client: MakeClient) -> None:
    free_while_sleeping: list[int] = []
    client: GraphClient

    def sleep(seconds: float) -> None:
        slots = client._slots_for("me")
        assert slots is not None
        free_while_sleeping.append(slots.qsize())

    answers = iter([httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(200, json={})])
    client = make_client(lambda request: next(answers), sleep=sleep)
    client.get_json("/me")
    assert free_while_sleeping == [4]
    assert client._slots_for("me").qsize() == 4  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "mailbox"),
    [
        ("/me", "me"),
        ("/me/messages?$top=5", "me"),
        ("/me(", "me"),
        ("/messages", ""),
        ("/meetings", ""),
        ("/users/Alice%40Contoso.com/messages", "alice@contoso.com"),
        ("/users/ALICE@contoso.com", "alice@contoso.com"),
        ("/users('Alice@contoso.com')/messages", "alice@contoso.com"),
        ("/users/8c2f3a10-0000-4000-8000-1234567890ab?$select=id", "8c2f3a10-0000-4000-8000-1234567890ab"),
        ("/subscriptions", ""),
        ("/$batch", ""),
    ],
)
def test_mailbox_of(path: str, mailbox: str) -> None:
    assert mailbox_of(path) == mailbox


def test_mailbox_from_absolute_urls(make_client: MakeClient) -> None:
    client = make_client(lambda request: httpx.Response(200, json={}))
    assert client._mailbox_of(f"{BASE}/users/Bob/messages?$skip=10") == "bob"
    assert client._mailbox_of(f"{BASE}/me/messages") == "me"
