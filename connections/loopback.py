"""Signing in from a terminal: a one-shot HTTP listener on 127.0.0.1 receives the redirect back.

The redirect URI is ``http://localhost:<port><path>`` (Microsoft accepts any port for a registered
``http://localhost`` redirect URI of a mobile/desktop app). Only a request carrying this sign-in's
``state`` ends the wait; anything else is answered 400 and ignored.
"""

from __future__ import annotations

import hmac
import html
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpx

from connections.authorization import begin_authorization, complete_authorization
from connections.config import ConfigModel
from connections.tokens import TokenSet
from connector.errors import AuthError, ConfigurationError

DEFAULT_TIMEOUT = 300.0
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1"})

_DONE_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>outlook-connector</title></head>"
    "<body style='font-family:sans-serif'><h1>{title}</h1><p>{detail}</p></body></html>"
)


class _CallbackServer(HTTPServer):
    def __init__(self, port: int, path: str) -> None:
        super().__init__(("127.0.0.1", port), _CallbackHandler)
        self.callback_path = path
        self.state = ""
        self.params: dict[str, str] | None = None
        self.received = threading.Event()


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if (parts.path or "/") != self.server.callback_path or self.server.received.is_set():
            self._answer(404, "Not found", "")
            return
        if not hmac.compare_digest(params.get("state", "").encode(), self.server.state.encode()):
            self._answer(400, "Unexpected request", "This is not the answer to the current sign-in.")
            return
        if "error" in params:
            self._answer(400, "Sign-in failed", params.get("error_description", params["error"]))
        else:
            self._answer(200, "Signed in", "You can close this window and return to the application.")
        self.server.params = params
        self.server.received.set()

    def _answer(self, status: int, title: str, detail: str) -> None:
        body = _DONE_PAGE.format(title=html.escape(title), detail=html.escape(detail)).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return  # the query carries the authorization code: never log it


def _listen_target(redirect_uri: str) -> tuple[int, str]:
    """(port to listen on, 0 for any; path) of a loopback redirect URI."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in _LOOPBACK_HOSTS:
        raise ConfigurationError(
            f"signing in from here needs a loopback redirect URI such as http://localhost, not "
            f"{redirect_uri!r}: register http://localhost on the app (Mobile and desktop applications) "
            "and set the connection's redirect_uri to it"
        )
    return parts.port or 0, parts.path


def run_loopback_flow(
    connection_config: ConfigModel,
    open_browser: Callable[[str], None],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    login_hint: str | None = None,
    prompt: str | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
    connection: str = "",
) -> TokenSet:
    """Listen on 127.0.0.1, call ``open_browser(authorize_url)``, wait for the redirect (at most
    ``timeout`` seconds), check its state and redeem the code (PKCE). ``login_hint`` and ``prompt``
    (``select_account``, ``login``, ``consent``) go into the authorize URL."""
    app = connection_config.registration(connection)
    port, path = _listen_target(app.redirect_uri or "")
    server = _CallbackServer(port, path or "/")
    try:
        redirect_uri = f"http://localhost:{server.server_port}{path}"
        request = begin_authorization(
            connection_config, redirect_uri=redirect_uri, login_hint=login_hint, prompt=prompt
        )
        server.state = request.state  # set before serving starts
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            open_browser(request.authorize_url)
            if not server.received.wait(timeout):
                raise AuthError(
                    f"No sign-in arrived within {timeout:.0f} seconds.",
                    code="timeout",
                    hint="Open the sign-in URL in a browser on this computer, then try again.",
                )
        finally:
            server.shutdown()
            thread.join()
    finally:
        server.server_close()
    assert server.params is not None
    return complete_authorization(
        connection_config,
        server.params,
        request.state,
        request.code_verifier,
        redirect_uri=redirect_uri,
        transport=transport,
        clock=clock,
        connection=connection,
    )
