"""Fixtures of the web step runner's tests: the app over a throw-away store, served on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from connector.runtime import Runtime
from connector.store import Store
from connector.ui.app import close_app, create_app


@pytest.fixture(scope="module")
def ui_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app per test module: its sandbox (started on first use) seeds a whole tenant, so the
    module's tests share it; each test makes what it reads (messages with its own subject)."""
    store = Store(Path(tmp_path_factory.mktemp("ui")) / "state.db")
    runtime = Runtime(store=store, strict_output=True)
    app = create_app(runtime, store)
    try:
        yield app
    finally:
        close_app(app)
        runtime.close()
        store.close()


@pytest.fixture(scope="module")
def ui_url(ui_app: Flask) -> Iterator[str]:
    """The app served by a threaded werkzeug server on a free local port."""
    server = make_server("127.0.0.1", 0, ui_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
