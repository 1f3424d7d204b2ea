"""The HTTP boundary for tests that talk to a real server (the sandbox): a transport that forwards
every request and keeps it, so a test can assert what was sent, or that nothing was."""

from __future__ import annotations

import httpx


class Recorder(httpx.BaseTransport):
    """Forwards to real HTTP and keeps every request sent (``sent``)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
