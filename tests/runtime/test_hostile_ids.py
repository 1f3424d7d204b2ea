"""Ids never change the path: every manifest entry, every path parameter, asserted at the HTTP boundary.

Each action (its manifest example, filled from a sandbox) and each data source runs through the
runtime against the sandbox, with a transport that records what is sent. First every string input
is replaced by a sentinel: a field whose sentinel shows up as a path segment is a path parameter, and
its schema must type it as an id. Then each id field gets hostile values: the ones the URL layer
would drop (``.``, ``..``, empty, whitespace) must be refused with an input error naming the field
and nothing sent; the others (``..%2F``, ``a/../b``...) must arrive as exactly one segment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from connections.base import Connection
from connections.sandbox import sandbox_connection
from connector.errors import ConnectorError, InputValidationError
from connector.examples import fill, placeholders
from connector.manifest import Entry, load_manifest
from connector.runtime import Runtime
from connector.store import Store
from sandbox.server import SandboxServer
from tests.support.recording import Recorder

pytestmark = pytest.mark.graph_nonconformant(
    "puts a sentinel value in every string input on purpose ($select, $orderby, ids the documents"
    " do not know); what matters here is the path each request has"
)

MANIFEST = load_manifest()
ENTRIES = [*MANIFEST.actions.values(), *MANIFEST.data_sources.values()]
REFUSED = ["", ".", "..", "   "]
ONE_SEGMENT = ["../..", "%2e%2e", "a/../b", "x?$top=1#y"]
SENTINEL = "zzSentinel"
WHOLE_PATHS = {("raw_request", "path")}
"""Inputs that are a whole relative path, checked segment by segment (test_relative_paths_...)."""


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    recording = Recorder()
    yield recording
    recording.close()


@pytest.fixture(scope="module")
def runtime(recorder: Recorder) -> Iterator[Runtime]:
    with Runtime(transport=recorder) as rt:
        yield rt


@pytest.fixture(scope="module")
def connection(server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    with Store(Path(tmp_path_factory.mktemp("ids")) / "state.db") as store:
        yield sandbox_connection(store, server.url, "delegated", name="ids")


@pytest.fixture(scope="module")
def names(runtime: Runtime, connection: Connection) -> dict[str, str]:
    return placeholders(runtime, connection)


def _base_input(entry: Entry, names: dict[str, str]) -> dict[str, Any]:
    example = entry.get("example_input") or {}
    return dict(fill(example, names))


def _id_fields(entry: Entry) -> set[str]:
    """Input fields the schema types as ids (one path segment each)."""
    schema = entry.validator("input_schema").schema
    found = set()
    for name, prop in (schema.get("properties") or {}).items():
        variants = [prop, *prop.get("anyOf", []), prop.get("items") or {}]
        if any(v.get("not") == {"enum": [".", ".."]} for v in variants):
            found.add(name)
    return found


def _segments(request: httpx.Request) -> list[str]:
    return request.url.raw_path.decode("ascii").split("?", 1)[0].split("/")


def _run(runtime: Runtime, entry: Entry, data: dict[str, Any], connection: Connection) -> Exception | None:
    try:
        if entry.kind == "actions":
            runtime.run_action(entry.key, data, connection)
        else:
            runtime.run_data_source(entry.key, data, connection)
    except ConnectorError as exc:
        return exc
    return None


def _with(data: dict[str, Any], field: str, value: str, schema: dict[str, Any]) -> dict[str, Any]:
    prop = schema["properties"][field]
    is_list = prop.get("type") == "array" or any(v.get("type") == "array" for v in prop.get("anyOf", []))
    return {**data, field: [value] if is_list else value}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.key)
def test_ids_never_change_the_path(
    entry: Entry, runtime: Runtime, connection: Connection, recorder: Recorder, names: dict[str, str]
) -> None:
    base = _base_input(entry, names)
    schema = entry.validator("input_schema").schema
    id_fields = _id_fields(entry)
    strings = {k for k, v in base.items() if isinstance(v, str)} | {
        k for k, v in base.items() if isinstance(v, list) and v and all(isinstance(i, str) for i in v)
    }
    for field in sorted(strings | id_fields):
        # discovery: a field whose value ends up as a path segment must be typed as an id
        recorder.sent.clear()
        _run(runtime, entry, _with(base, field, SENTINEL, schema), connection)
        is_path = any(SENTINEL in _segments(r) for r in recorder.sent)
        if field not in id_fields:
            if (entry.key, field) in WHOLE_PATHS:
                continue
            assert not is_path, f"{entry.key}.{field} is a path parameter; its schema must type it as an id"
            continue
        for value in REFUSED:
            recorder.sent.clear()
            error = _run(runtime, entry, _with(base, field, value, schema), connection)
            assert not recorder.sent, f"{entry.key}.{field}={value!r} sent {recorder.sent}"
            assert isinstance(error, InputValidationError), f"{entry.key}.{field}={value!r}: {error!r}"
            assert any(e.path.split("[")[0] == field for e in error.errors), error.errors
        for value in ONE_SEGMENT:
            recorder.sent.clear()
            _run(runtime, entry, _with(base, field, value, schema), connection)
            for request in recorder.sent:
                assert all(s not in ("", ".", "..") for s in _segments(request)[1:]), request.url
            if is_path and recorder.sent:
                assert any(quote(value, safe="") in _segments(r) for r in recorder.sent), (
                    f"{entry.key}.{field}={value!r} did not arrive as one segment: "
                    f"{[r.url.raw_path for r in recorder.sent]}"
                )


TRIGGERS = [entry for entry in MANIFEST.triggers.values() if _id_fields(entry)]


@pytest.mark.parametrize("entry", TRIGGERS, ids=lambda e: e.key)
def test_trigger_ids_that_would_leave_their_segment_are_refused(
    entry: Entry, runtime: Runtime, connection: Connection, recorder: Recorder, names: dict[str, str]
) -> None:
    base = _base_input(entry, names)
    schema = entry.validator("input_schema").schema
    for field in sorted(_id_fields(entry)):
        for value in REFUSED:
            recorder.sent.clear()
            with pytest.raises(InputValidationError) as caught:
                runtime.trigger_plan(entry.key, _with(base, field, value, schema), connection)
            assert not recorder.sent
            assert any(e.path.split("[")[0] == field for e in caught.value.errors), caught.value.errors
