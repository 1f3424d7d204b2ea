"""Helpers for the HTTP client tests: a client over httpx.MockTransport that never sleeps."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Generator, Iterator
from typing import Any

import httpx
import pytest

from connector.http import GraphClient, RetryPolicy

BASE = "https://graph.microsoft.com/v1.0"
TOKEN = "SECRET-ACCESS-TOKEN-0123456789"

Handler = Callable[[httpx.Request], httpx.Response]


class BearerAuth(httpx.Auth):
    """Adds a bearer token; on 401 switches to the next token once (as a refreshing auth does)."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens) or [TOKEN]
        self.refreshes = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.tokens[0]}"
        response = yield request
        if response.status_code == 401 and len(self.tokens) > 1:
            self.tokens.pop(0)
            self.refreshes += 1
            request.headers["Authorization"] = f"Bearer {self.tokens[0]}"
            yield request


class Waits(list[float]):
    """An injectable ``sleep`` that records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def graph_error(
    status: int, code: str, message: str = "boom", headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"request-id": "rid-1", "date": "2024-01-01T00:00:00"},
        }
    }
    return httpx.Response(status, json=body, headers=headers)


def page(
    items: list[dict[str, Any]], next_link: str | None = None, delta_link: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"value": items}
    if next_link:
        body["@odata.nextLink"] = next_link
    if delta_link:
        body["@odata.deltaLink"] = delta_link
    return httpx.Response(
        200, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


class Recorder:
    """A MockTransport handler answering from a script, one step per request.

    A step is a response, an exception to raise, or a handler. Requests past the script fail.
    """

    def __init__(self, *script: httpx.Response | Exception | Handler) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self.script, f"unexpected request {request.method} {request.url}"
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    @property
    def calls(self) -> int:
        return len(self.requests)


@pytest.fixture
def waits() -> Waits:
    return Waits()


@pytest.fixture
def make_client(waits: Waits) -> Iterator[Callable[..., GraphClient]]:
    clients: list[GraphClient] = []

    def make(handler: Handler, **kwargs: Any) -> GraphClient:
        kwargs.setdefault("auth", BearerAuth())
        kwargs.setdefault("mailbox_limit_key", uuid.uuid4().hex)  # no sharing between tests
        kwargs.setdefault("retry", RetryPolicy(jitter=lambda d: d))
        kwargs.setdefault("sleep", waits)
        client = GraphClient(kwargs.pop("base_url", BASE), transport=httpx.MockTransport(handler), **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
