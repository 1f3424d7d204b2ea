"""Real Graph client libraries driving the sandbox: Microsoft's msgraph-sdk and the O365 library.

The packages are the ``interop`` extra (``pip install -e '.[interop]'``); the tests skip with that
reason where they are absent. One sandbox serves the whole package (a small tenant; data is reset
per test). Every test prints the requests it made (``METHOD path -> status``; ``pytest -rP`` shows
them), which is the record of what each library sent and how the sandbox answered.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.support.listener import Listener
from tests.support.sandbox import delegated_token


@pytest.fixture(scope="package")
def server() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        messages_per_user=40,
        notification_interval=0,  # tests deliver notifications themselves (deliver_pending)
        http_notification_urls=True,  # the test listener is http on 127.0.0.1 (Graph: https only)
    )
    with SandboxServer(config) as running:
        yield running


@pytest.fixture(scope="package")
def token(server: SandboxServer) -> str:
    return delegated_token(server.url)


@pytest.fixture(scope="package")
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


@pytest.fixture(autouse=True)
def calls(server: SandboxServer) -> Iterator[None]:
    """Fresh seeded data per test; afterwards, print what the library asked and what it got."""
    server.state.reset()
    yield
    for record in server.state.request_log:
        if record.path.startswith("/v1.0"):
            print(f"{record.method} {record.path} -> {record.status}")
