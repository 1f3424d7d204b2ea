"""A runtime with a real state store (policies, approvals, audit) and Graph at the HTTP boundary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from connector.audit import Caller
from connector.runtime import Runtime
from connector.store import Store
from tests.runtime.conftest import FakeGraph
from tests.support.connections import StaticConnection

SECRET_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret-token-value"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def graph() -> FakeGraph:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/$batch"):
            ids = [item["id"] for item in json.loads(request.content)["requests"]]
            responses = [{"id": i, "status": 200, "body": {"value": []}} for i in ids]
            return httpx.Response(200, json={"responses": responses}, headers={"request-id": "req-batch-1"})
        if request.method == "GET":
            return httpx.Response(200, json={"value": []}, headers={"request-id": "req-get-1"})
        return httpx.Response(202, headers={"request-id": "req-write-1"})

    return FakeGraph(answer)


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    with Store(tmp_path / "state.db", clock=clock) as opened:
        yield opened


@pytest.fixture
def runtime(store: Store, graph: FakeGraph, clock: Clock) -> Iterator[Runtime]:
    with Runtime(
        store=store,
        strict_output=True,
        transport=httpx.MockTransport(graph),
        caller=Caller("embedded", "host-7"),
    ) as rt:
        yield rt


@pytest.fixture
def connection() -> StaticConnection:
    return StaticConnection(name="work", token=SECRET_TOKEN)
