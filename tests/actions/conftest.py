"""Fixtures of the end-to-end action tests: a sandbox per module, reset before every test, and
connections to it of both types (``connection`` runs each test once as a user, once app-only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connections.base import Connection
from connections.sandbox import sandbox_connection
from connector.runtime import Runtime
from connector.store import Store
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(http_notification_urls=True)) as running:
        yield running


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store(Path(tmp_path_factory.mktemp("store")) / "state.db") as opened:
        yield opened


@pytest.fixture(autouse=True)
def fresh(server: SandboxServer) -> None:
    server.state.reset()
    server.state.set_faults({})


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with Runtime(strict_output=True) as rt:
        yield rt


@pytest.fixture(scope="module")
def admin(server: SandboxServer, store: Store) -> Connection:
    """An app-only connection used to check results in any mailbox."""
    return sandbox_connection(store, server.url, "app", name="admin")


@pytest.fixture(params=["delegated", "app"])
def connection(request: pytest.FixtureRequest, server: SandboxServer, store: Store) -> Connection:
    kind = request.param
    return sandbox_connection(store, server.url, kind, name=f"e2e-{kind}")
