"""pytest plugin: every request the suite sends to Microsoft Graph must be one Graph's documents accept.

It records every httpx request whose URL path starts with ``/v1.0/`` (graph.microsoft.com through
cassettes or ``MockTransport``, the sandbox on 127.0.0.1, any host), and at each test's teardown
checks that test's requests against Microsoft's OpenAPI documents (``tests.support.openapi``). An
invalid request fails the test as a teardown error naming the method, path and reason.

How requests are seen: ``httpx.Client._send_single_request`` (and the async twin) is wrapped. Every
request of every client passes through it once per attempt, after auth and before the transport,
whatever the transport is: ``HTTPTransport``, ``MockTransport``, ``WSGITransport``, or vcrpy's
patched ``handle_request``. vcrpy 9 replaces ``HTTPTransport.handle_request`` and
``MockTransport.handle_request`` while a cassette is in use and answers from the cassette without
calling the original, so a hook on the transports would miss every replayed request; the client
method sits above that patch and sees them.

Not checked: identity-platform requests (``/oauth2/``), sandbox administration (``/_sandbox/``), and
anything outside ``/v1.0/``. A test that sends invalid requests on purpose says so with
``@pytest.mark.graph_nonconformant("reason")`` (optionally ``match=<regex on "METHOD /path">`` to
exempt only some). Without the OpenAPI documents the check is skipped, not the test.

At the end: ``graph conformance: N requests checked against OpenAPI, M distinct operations``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support import graph_docs
from tests.support.openapi import Check, OpenApiIndex, index_for

MARKER = "graph_nonconformant"
GRAPH_PREFIX = "/v1.0/"
NOT_GRAPH = ("/_sandbox/", "/oauth2/")
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_CACHE_LIMIT = 20_000
_CACHE_BODY_LIMIT = 64 * 1024  # large bodies (attachments) are checked every time, not kept

CONTACTS_NOT_IN_OPENAPI = pytest.mark.graph_nonconformant(
    "the held OpenAPI documents lack the contacts module (PersonalContacts.yml)",
    match=r"^\w+ /(me|users/[^/]+)/contacts(/[^/]+)?$",
)
"""For tests whose contacts requests the OpenAPI check cannot know."""


@dataclass(frozen=True)
class GraphRequest:
    """One request sent to Graph, as the client sent it (without credentials)."""

    method: str
    url: str
    path: str
    """After ``/v1.0``, still percent-encoded: ``/me/messages/AAMk%3D``."""
    query: str
    """Raw query string."""
    headers: dict[str, str]
    """Lower-cased names; Authorization and cookies dropped."""
    content: bytes | None
    """The body; None when it was a stream the plugin could not read without consuming it."""
    test: str

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        """The JSON body (None without one)."""
        return json.loads(self.content) if self.content else None

    def __str__(self) -> str:
        return f"{self.method} {GRAPH_PREFIX[:-1]}{self.path}{'?' + self.query if self.query else ''}"


def graph_path(request: httpx.Request) -> tuple[str, str] | None:
    """``(path after /v1.0, raw query)`` for a Graph request, None for anything else."""
    raw = request.url.raw_path.decode("ascii", "replace")
    path, _, query = raw.partition("?")
    if not path.startswith(GRAPH_PREFIX) or any(marker in path for marker in NOT_GRAPH):
        return None
    return path[len(GRAPH_PREFIX) - 1 :], query


class Recorder:
    """Collects Graph requests per test (thread-safe: clients may send from worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: list[GraphRequest] | None = None
        self.test = ""
        self.outside: list[GraphRequest] = []
        """Requests sent while no test was running (collection, session hooks)."""

    def begin(self, test: str) -> list[GraphRequest]:
        with self._lock:
            self.current, self.test = [], test
            return self.current

    def end(self) -> list[GraphRequest]:
        with self._lock:
            records, self.current, self.test = self.current or [], None, ""
            return records

    def record(self, request: httpx.Request) -> None:
        where = graph_path(request)
        if where is None:
            return
        try:
            content: bytes | None = request.content
        except httpx.RequestNotRead:
            content = None
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS}
        with self._lock:
            entry = GraphRequest(
                request.method, str(request.url), where[0], where[1], headers, content, self.test
            )
            (self.current if self.current is not None else self.outside).append(entry)


RECORDER = Recorder()


@dataclass
class Stats:
    checked: int = 0
    operations: set[str] = field(default_factory=set)
    exempt: int = 0
    skipped_reason: str | None = None
    outside_problems: list[str] = field(default_factory=list)


STATS = Stats()
_CHECKS: dict[tuple[str, str, str, bytes | None, str], Check] = {}
_CHECKS_LOCK = threading.Lock()


def openapi_index() -> OpenApiIndex | None:
    """The OpenAPI index (built once per process), or None when the documents are not there."""
    if not graph_docs.openapi_available():
        return None
    return index_for(str(graph_docs.openapi_dir().resolve()))


def check_request(index: OpenApiIndex, request: GraphRequest) -> Check:
    """``index.check`` for a recorded request, cached (suites repeat the same requests a lot)."""
    key = (request.method, request.path, request.query, request.content, request.content_type)
    with _CHECKS_LOCK:
        found = _CHECKS.get(key)
    if found is not None:
        return found
    if request.content is None and request.method in ("POST", "PUT", "PATCH"):
        result = index.check(request.method, request.path, request.query)
        result.notes.append("streamed body not checked")
        result.problems = [p for p in result.problems if "requires a request body" not in p]
    else:
        result = index.check(
            request.method,
            request.path,
            request.query,
            content=request.content or b"",
            content_type=request.content_type,
        )
    if request.content is None or len(request.content) <= _CACHE_BODY_LIMIT:
        with _CHECKS_LOCK:
            if len(_CHECKS) > _CACHE_LIMIT:
                _CHECKS.clear()
            _CHECKS[key] = result
    return result


def _problems(index: OpenApiIndex, records: list[GraphRequest]) -> list[tuple[GraphRequest, Check]]:
    bad: list[tuple[GraphRequest, Check]] = []
    for record in records:
        result = check_request(index, record)
        STATS.checked += 1
        STATS.operations.update(op.key for op in result.operations)
        if not result.ok:
            bad.append((record, result))
    return bad


def _report(bad: list[tuple[GraphRequest, Check]]) -> str:
    lines: dict[str, int] = {}
    for record, result in bad:
        where = f" ({result.operation.key})" if result.operation else ""
        for problem in result.problems:
            line = f"{record.method} /v1.0{record.path.split('?', 1)[0]}{where}: {problem}"
            lines[line] = lines.get(line, 0) + 1
    listing = "\n".join(f"  {line}" + (f"  [x{count}]" if count > 1 else "") for line, count in lines.items())
    noun = "request" if len(bad) == 1 else "requests"
    verb = "does" if len(bad) == 1 else "do"
    return (
        f"Graph conformance: {len(bad)} {noun} this test sent {verb} not match Microsoft Graph's OpenAPI"
        f" documents:\n{listing}\nFix the request, or mark the test"
        f' @pytest.mark.{MARKER}("reason") if it sends such requests on purpose.'
    )


# -- hooks -------------------------------------------------------------------------------------------
_ORIGINAL_SEND = httpx.Client._send_single_request
_ORIGINAL_ASEND = httpx.AsyncClient._send_single_request


def _send_single_request(self: httpx.Client, request: httpx.Request) -> httpx.Response:
    RECORDER.record(request)
    return _ORIGINAL_SEND(self, request)


async def _asend_single_request(self: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    RECORDER.record(request)
    return await _ORIGINAL_ASEND(self, request)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(reason, match=None): the test sends Graph requests that Graph's OpenAPI documents"
        " reject, on purpose; they are not failed by the conformance check (match: a regex on"
        " 'METHOD /path' to exempt only those).",
    )
    httpx.Client._send_single_request = _send_single_request  # type: ignore[method-assign]
    httpx.AsyncClient._send_single_request = _asend_single_request  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    httpx.Client._send_single_request = _ORIGINAL_SEND  # type: ignore[method-assign]
    httpx.AsyncClient._send_single_request = _ORIGINAL_ASEND  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    RECORDER.begin(item.nodeid)
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    try:
        result = yield
    finally:
        records = RECORDER.end()
    if not records:
        return result
    index = openapi_index()
    if index is None:
        STATS.skipped_reason = graph_docs.openapi_missing_reason()
        return result
    bad = _problems(index, records)
    marker = item.get_closest_marker(MARKER)
    if marker is not None and bad:
        reason = marker.args[0] if marker.args else marker.kwargs.get("reason")
        if not reason:
            pytest.fail(
                f"@pytest.mark.{MARKER} needs a reason: why does this test send invalid requests?",
                pytrace=False,
            )
        pattern = marker.kwargs.get("match")
        kept = [(r, c) for r, c in bad if pattern and not re.search(pattern, f"{r.method} {r.path}")]
        STATS.exempt += len(bad) - len(kept)
        bad = kept
    if bad:
        pytest.fail(_report(bad), pytrace=False)
    return result


@pytest.fixture
def graph_requests() -> Iterator[list[GraphRequest]]:
    """The Graph requests the running test has sent so far (a live list)."""
    yield RECORDER.current if RECORDER.current is not None else []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    outside, RECORDER.outside = RECORDER.outside, []
    if not outside:
        return
    index = openapi_index()
    if index is None:
        return
    bad = _problems(index, outside)
    if bad:
        STATS.outside_problems.append(_report(bad).replace("this test sent", "sent outside any test"))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if STATS.checked == 0 and STATS.skipped_reason:
        terminalreporter.write_line(f"graph conformance: not checked ({STATS.skipped_reason})")
        return
    terminalreporter.write_line(
        f"graph conformance: {STATS.checked} requests checked against OpenAPI,"
        f" {len(STATS.operations)} distinct operations"
    )
    if STATS.exempt:
        terminalreporter.write_line(
            f"graph conformance: {STATS.exempt} invalid requests exempted by @pytest.mark.{MARKER}"
        )
    for problem in STATS.outside_problems:
        terminalreporter.write_line(problem, red=True)
