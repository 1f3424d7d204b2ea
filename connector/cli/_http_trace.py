"""``run --dry-run`` and ``--verbose`` at the HTTP boundary: transports given to the runtime, so
the actions run exactly as always. Neither ever shows a credential: no headers but a few harmless
ones, and no query string of a non-Graph URL (pre-authenticated upload URLs carry a token there)."""

from __future__ import annotations

import json
import time
from typing import Any

import click
import httpx

SHOWN_HEADERS = ("content-type", "prefer", "if-match", "consistencylevel")
LONG_TEXT = 200


class DryRunStop(Exception):
    """Raised by ``DryRunTransport`` instead of sending: the CLI catches it and shows the request."""

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__("dry run: request not sent")
        self.request = request


class DryRunTransport(httpx.BaseTransport):
    """Answers nothing: the first Graph request an action makes is described and not sent."""

    def __init__(self, graph_base_url: str) -> None:
        self.graph_host = httpx.URL(graph_base_url).host

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise DryRunStop(describe(request, self.graph_host))


class TracingTransport(httpx.BaseTransport):
    """Sends through ``inner`` and prints one line per request and per answer on stderr."""

    def __init__(self, graph_base_url: str, inner: httpx.BaseTransport | None = None) -> None:
        self.graph_host = httpx.URL(graph_base_url).host
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = shown_url(request.url, self.graph_host)
        size = len(request.content) if _has_content(request) else 0
        click.echo(f"> {request.method} {url}" + (f" ({size} bytes)" if size else ""), err=True)
        start = time.perf_counter()
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError as exc:
            click.echo(f"< {type(exc).__name__} after {_ms(start)} ms", err=True)
            raise
        request_id = response.headers.get("request-id")
        click.echo(
            f"< {response.status_code} {request.method} {url} ({_ms(start)} ms"
            + (f", request-id {request_id})" if request_id else ")"),
            err=True,
        )
        return response

    def close(self) -> None:
        self.inner.close()


def _has_content(request: httpx.Request) -> bool:
    try:
        return bool(request.content)
    except httpx.RequestNotRead:
        return False


def _ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


def shown_url(url: httpx.URL, graph_host: str) -> str:
    """The URL as it may be shown: whole for Graph, without its query elsewhere."""
    if url.host == graph_host:
        return str(url)
    return str(url.copy_with(query=None)) + ("?..." if url.query else "")


def describe(request: httpx.Request, graph_host: str) -> dict[str, Any]:
    """Method, URL, harmless headers and the body (JSON, long strings cut) of a request."""
    described: dict[str, Any] = {"method": request.method, "url": shown_url(request.url, graph_host)}
    headers = {name: request.headers[name] for name in SHOWN_HEADERS if name in request.headers}
    if headers:
        described["headers"] = headers
    content = request.content if _has_content(request) else b""
    if content:
        try:
            described["body"] = _shorten(json.loads(content))
        except ValueError:
            described["body_bytes"] = len(content)
    return described


def _shorten(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LONG_TEXT:
        return f"{value[:40]}... ({len(value)} characters)"
    if isinstance(value, list):
        return [_shorten(item) for item in value]
    if isinstance(value, dict):
        return {key: _shorten(item) for key, item in value.items()}
    return value
