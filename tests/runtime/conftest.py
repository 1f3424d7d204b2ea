"""A connection and a Graph stand-in at the HTTP boundary (httpx.MockTransport) for runtime tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from connector.runtime import Runtime
from tests.support.connections import StaticConnection

__all__ = ["FakeGraph", "StaticConnection"]


Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeGraph:
    """Answers requests with a handler and remembers them."""

    handler: Handler = field(default=lambda request: httpx.Response(200, json={}))
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph()


@pytest.fixture
def runtime(graph: FakeGraph) -> Generator[Runtime, None, None]:
    with Runtime(strict_output=True, transport=httpx.MockTransport(graph)) as rt:
        yield rt


@pytest.fixture
def connection() -> StaticConnection:
    return StaticConnection()
