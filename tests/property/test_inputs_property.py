"""Property: for every action and data source, inputs drawn from its own JSON Schema end only in the
connector's errors; schema-invalid inputs send nothing and raise the input error.

Inputs come from hypothesis-jsonschema (valid ones) and from valid ones with one field replaced by an
arbitrary or hostile value, or an unknown field added, or a required one dropped (mostly invalid; each
is classified by the entry's own schema validator). They run through the runtime against the sandbox,
behind a transport that records what is sent. Bounded: a fixed number of examples per entry,
derandomized (the same inputs every run), no example database. The figures (inputs tried, refused,
sent) are printed at the end of the module.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from connections.base import Connection
from connections.sandbox import sandbox_connection
from connector.errors import ConnectorError, InputValidationError
from connector.examples import WEBHOOK_PATH
from connector.manifest import Entry, load_manifest
from connector.runtime import Runtime
from connector.store import Store
from sandbox.server import SandboxServer
from tests.property.conftest import FIGURES
from tests.support.recording import Recorder

pytestmark = pytest.mark.graph_nonconformant(
    "draws made-up values for every input on purpose ($select names, ids, filters the documents do"
    " not know); what matters here is that only connector errors come back"
)

MANIFEST = load_manifest()
ENTRIES = [*MANIFEST.actions.values(), *MANIFEST.data_sources.values()]
EXAMPLES = {"delegated": (6, 8), "app": (2, 4)}
"""(valid, mutated) examples per entry for each connection type: the app-only connection (which
names its mailbox) runs fewer, to keep the module bounded."""
BOUNDED: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
}


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = {"a": [value]}
    return value


HOSTILE = [
    "", ".", "..", "   ", "../..", "%2e%2e", "a\r\nInjected: 1", "\x00", "\u00e9\u4e2d\U0001f600",
    'UTC", IdType="x', "A" * (1 << 20), "https://evil.example.com/v1.0/me", "/me/messages/..",
    10**30, -(10**30), 1e308, -1, 0, True, None, [], {}, [".."], {"..": ".."}, _nested(200),
]  # fmt: skip
ANY_VALUE = st.one_of(
    st.sampled_from(HOSTILE),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@pytest.fixture(scope="module")
def figures() -> Counter[str]:
    return FIGURES


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
def connections(
    server: SandboxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Connection]]:
    with Store(Path(tmp_path_factory.mktemp("property")) / "state.db") as store:
        yield {
            kind: sandbox_connection(store, server.url, kind, name=f"property-{kind}")  # type: ignore[arg-type]
            for kind in EXAMPLES
        }


def _tame(data: Any, webhook: str) -> Any:
    """Keep valid draws on the sandbox and short: notifications to the sandbox's own endpoint (the
    sandbox really POSTs to a notification URL), one page instead of every page."""
    if not isinstance(data, dict):
        return data
    tamed = dict(data)
    for name in ("notification_url", "lifecycle_notification_url"):
        if isinstance(tamed.get(name), str):
            tamed[name] = webhook
    if tamed.get("fetch_all") is True:
        tamed["fetch_all"] = False
    return tamed


def _mutations(schema: dict[str, Any], valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    properties = sorted(schema.get("properties") or {})
    required = sorted(schema.get("required") or [])

    @st.composite
    def mutate(draw: st.DrawFn) -> Any:
        base = dict(draw(valid))
        choices = ["unknown"] + (["replace"] if properties else []) + (["drop"] if required else [])
        kind = draw(st.sampled_from(choices))
        if kind == "unknown":
            base["zz_not_a_field"] = draw(ANY_VALUE)
        elif kind == "replace":
            base[draw(st.sampled_from(properties))] = draw(ANY_VALUE)
        else:
            base.pop(draw(st.sampled_from(required)), None)
        return base

    return mutate()


def _run(runtime: Runtime, entry: Entry, data: Any, connection: Connection) -> Exception | None:
    try:
        if entry.kind == "actions":
            runtime.run_action(entry.key, data, connection)
        else:
            runtime.run_data_source(entry.key, data, connection)
    except ConnectorError as exc:
        return exc
    return None


@pytest.mark.parametrize("kind", list(EXAMPLES))
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.key)
def test_inputs_from_the_schema_end_only_in_connector_errors(
    entry: Entry,
    kind: str,
    runtime: Runtime,
    connections: dict[str, Connection],
    recorder: Recorder,
    server: SandboxServer,
    figures: Counter[str],
) -> None:
    connection = connections[kind]
    valid_examples, mutated_examples = EXAMPLES[kind]
    validator = entry.validator("input_schema")
    schema = validator.schema
    webhook = server.url + WEBHOOK_PATH
    valid = from_schema(schema)

    def check(data: Any) -> None:
        schema_valid = not validator.errors(data)
        recorder.sent.clear()
        try:
            error = _run(runtime, entry, data, connection)
        except Exception as exc:  # the property: nothing but the connector's own errors
            raise AssertionError(f"{entry.key} raised {type(exc).__name__}: {exc!s:.300}") from exc
        figures["tried"] += 1
        figures[f"tried_{kind}"] += 1
        figures["schema_valid" if schema_valid else "schema_invalid"] += 1
        figures[
            "refused" if isinstance(error, InputValidationError) else "other_errors" if error else "succeeded"
        ] += 1
        if recorder.sent:
            figures["sent"] += 1
            figures["requests"] += len(recorder.sent)
        if not schema_valid:
            figures["invalid_sent"] += len(recorder.sent)
            assert isinstance(error, InputValidationError), (
                f"{entry.key}: schema-invalid input gave {error!r}"
            )
            assert not recorder.sent, f"{entry.key}: schema-invalid input sent {recorder.sent}"

    @settings(max_examples=valid_examples, **BOUNDED)
    @given(valid)
    def valid_inputs(data: Any) -> None:
        check(_tame(data, webhook))

    @settings(max_examples=mutated_examples, **BOUNDED)
    @given(_mutations(schema, valid))
    def mutated_inputs(data: Any) -> None:
        check(_tame(data, webhook))

    valid_inputs()
    mutated_inputs()
