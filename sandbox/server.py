"""Serving the sandbox over real HTTP: ``SandboxServer`` (a background thread) and ``serve`` (blocking)."""

from __future__ import annotations

import io
import threading
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.state import EXTENSION_KEY, SandboxState


class _KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 keep-alive, as Graph's connections are (werkzeug closes every connection, because
    http.server cannot skip a body the application left unread before the next request line).

    Here the body (with a Content-Length) is read whole before the application runs, so the next
    request line is always where the connection stands; chunked uploads still close the connection.
    An idle connection is closed after ``timeout`` seconds."""

    protocol_version = "HTTP/1.1"
    timeout = 120
    disable_nagle_algorithm = True
    """TCP_NODELAY: on a kept-alive connection the body's small write would otherwise wait for the
    client's delayed ACK of the headers (Nagle), some 20-40 ms per response."""

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        if chunked or (length is not None and not length.strip().isdigit()):
            self._keep_alive = False
            super().run_wsgi()
            return
        self._keep_alive = not self.close_connection
        connection = self.rfile
        self.rfile = io.BytesIO(connection.read(int(length or 0)))
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection

    def send_header(self, keyword: str, value: str) -> None:
        closing = keyword.lower() == "connection" and value.lower() == "close"
        if closing and getattr(self, "_keep_alive", False):
            return  # werkzeug's blanket close: this connection stays open
        super().send_header(keyword, value)


class _QuietHandler(_KeepAliveHandler):
    """No access log: tests and embedded use stay quiet (the request log is in ``state``)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        return


class SandboxServer:
    """The sandbox on a local port, served by a threaded werkzeug server in a daemon thread.

    ``url`` is both the login authority host and the Graph host; ``graph_url`` adds ``/v1.0``.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        app: Flask | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app = app if app is not None else create_app(config)
        self.host = host
        self.port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> SandboxState:
        state = self.app.extensions[EXTENSION_KEY]
        assert isinstance(state, SandboxState)
        return state

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox server is not started")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def graph_url(self) -> str:
        return self.url + "/v1.0"

    def start(self) -> SandboxServer:
        if self._server is not None:
            return self
        self._server = make_server(
            self.host, self.port, self.app, threaded=True, request_handler=_QuietHandler
        )
        # A short poll interval keeps stop() quick: shutdown() waits for the serving loop to poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="outlook-sandbox",
            daemon=True,
        )
        self._thread.start()
        self.state.subscriptions.start()  # change notifications (SandboxConfig.notification_interval)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.state.release_requests()
        self.state.subscriptions.stop()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def serve(host: str = "127.0.0.1", port: int = 8765, config: SandboxConfig | None = None) -> None:
    """Serve until interrupted (``outlook-connector sandbox``)."""
    app = create_app(config)
    server = make_server(host, port, app, threaded=True, request_handler=_KeepAliveHandler)
    hub = app.extensions[EXTENSION_KEY].subscriptions
    hub.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        hub.stop()
        server.server_close()
