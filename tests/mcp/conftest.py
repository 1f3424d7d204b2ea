"""A sandbox, a state home with connections to it, and real MCP clients (the SDK's) over stdio and
streamable HTTP. Each test runs its client session with ``run_session`` (anyio, no plugin)."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from connections.sandbox import sandbox_connection
from connector.mcp import AgentServer, Catalog, Connections, parse_toolsets
from connector.mcp.http import HttpServer, KeyTable, http_app
from connector.runtime import Runtime
from connector.store import Store
from sandbox import seed
from sandbox.server import SandboxServer

ROOT = Path(__file__).resolve().parents[2]
OTHER_USER = next(u["userPrincipalName"] for u in seed.USERS if u["userPrincipalName"] != seed.DEFAULT_USER)
KEYS = {"alice": "alice-key-8c1f", "bob": "bob-key-77d2"}
Elicit = Callable[[Any, types.ElicitRequestParams], Awaitable[types.ElicitResult]]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> Path:
    """A state home with connection ``work`` (the default user) and ``other`` (another user)."""
    sandbox.state.reset()
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    with Store(tmp_path / "state.db") as store:
        sandbox_connection(store, sandbox.url, "delegated", name="work")
        sandbox_connection(store, sandbox.url, "delegated", name="other", user=OTHER_USER)
    return tmp_path


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    with Store(home / "state.db") as opened:
        yield opened


def stdio_session(
    home: Path, *args: str, elicit: Elicit | None = None
) -> AbstractAsyncContextManager[ClientSession]:
    """``outlook-connector mcp --connection work ARGS`` as a subprocess, and a client session to it."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "connector.cli", "mcp", "--connection", "work", *args],
        cwd=str(ROOT),
        env={**os.environ, "OUTLOOK_CONNECTOR_HOME": str(home), "PYTHONPATH": str(ROOT)},
    )

    @asynccontextmanager
    async def session() -> Any:
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write, elicitation_callback=elicit) as client,
        ):
            await client.initialize()
            yield client

    return session()


@pytest.fixture
def http_server(home: Path, store: Store) -> Iterator[HttpServer]:
    """The MCP HTTP app in this process: alice uses connection ``work``, bob ``other``."""
    keys = KeyTable.parse(
        {
            "callers": [
                {"name": "alice", "key_sha256": _sha(KEYS["alice"]), "connection": "work"},
                {"name": "bob", "key_sha256": _sha(KEYS["bob"]), "connection": "other"},
            ]
        }
    )
    with serve_agent(store, keys) as server:
        yield server


@contextmanager
def serve_agent(store: Store, keys: KeyTable) -> Iterator[HttpServer]:
    """The MCP HTTP app over ``store`` (default tool set) for the callers in ``keys``, in this process."""
    from connections.registry import load_connection

    with Runtime(store=store, strict_output=True) as runtime:
        catalog = Catalog(runtime.manifest, parse_toolsets(None))
        agent = AgentServer(runtime, catalog, Connections(lambda name: load_connection(store, name)))
        with HttpServer(http_app(agent, keys)) as server:
            yield server


def http_session(
    server: HttpServer, key: str | None, elicit: Elicit | None = None
) -> AbstractAsyncContextManager[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    @asynccontextmanager
    async def session() -> Any:
        async with (
            httpx.AsyncClient(headers=headers, timeout=30) as client,
            streamable_http_client(server.url, http_client=client) as (read, write, _),
            ClientSession(read, write, elicitation_callback=elicit) as session,
        ):
            await session.initialize()
            yield session

    return session()


def run_session(scenario: Callable[[], Awaitable[None]]) -> None:
    anyio.run(scenario)


def answer(approve: bool | None) -> tuple[Elicit, list[str]]:
    """An elicitation callback that answers as a person would (None: dismisses), and the messages it saw."""
    seen: list[str] = []

    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        seen.append(params.message)
        if approve is None:
            return types.ElicitResult(action="cancel")
        return types.ElicitResult(action="accept", content={"approve": approve})

    return callback, seen


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
