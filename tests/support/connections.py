"""A connection for tests: Graph at its public address, a fixed bearer token, a delegated user."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

GRAPH_BASE_URL = "https://graph.microsoft.com/v1.0"
TEST_TOKEN = "test-access-token"


class StaticBearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <token>``; never refreshes."""

    def __init__(self, token: str = TEST_TOKEN) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


@dataclass
class StaticConnection:
    """Implements ``connections.base.Connection`` for tests (a signed-in user, no default mailbox)."""

    name: str = "test"
    type_key: str = "oauth2_code"
    graph_base_url: str = GRAPH_BASE_URL
    default_mailbox: str | None = None
    app_only: bool = False
    throttle_key: str = "test"
    token: str = TEST_TOKEN

    def auth(self) -> httpx.Auth:
        return StaticBearerAuth(self.token)


if TYPE_CHECKING:  # type checkers verify StaticConnection implements the protocol
    from connections.base import Connection

    _protocol_check: type[Connection] = StaticConnection
