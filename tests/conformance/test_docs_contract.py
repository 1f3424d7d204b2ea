"""Docs contract: each action sends exactly the request Microsoft documents and handles the documented answer.

Each row of ``CASES`` names a documented example (``../shared/graph-examples``), the action that
covers it and how its input derives from the documented request. The test replays the documented
response from a cassette built at test time; the cassette refuses any request but the documented
one (method, path, query, JSON body, documented headers). The runtime checks the output against
the action's output schema (strict).

Adding an action: in its group's module under ``tests/conformance/cases/``, add its endpoints to
``ACTION_ENDPOINTS``, a row to ``CASES`` per documented example it can express, and a reason in
``UNUSED`` for each one it cannot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.manifest import load_manifest
from connector.runtime import Runtime
from tests.conformance.cases import ACTION_ENDPOINTS, CASES, UNUSED
from tests.support import graph_docs
from tests.support.connections import StaticConnection
from tests.support.docs_contract import (
    COVERAGE_REPORTS,
    Coverage,
    coverage,
    doc_call,
    documented_cassette,
    endpoint_action,
)
from tests.support.graph_conformance import GraphRequest

pytestmark = graph_docs.requires_docs()


# -- the tests ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    with Runtime(strict_output=True) as rt:
        yield rt


@pytest.mark.parametrize("name", sorted(CASES))
def test_documented_example(
    name: str, runtime: Runtime, tmp_path: Path, graph_requests: list[GraphRequest]
) -> None:
    case = CASES[name]
    call = doc_call(graph_docs.example(name), case.faults)
    params = case.derive(call)
    with documented_cassette(call, tmp_path):
        output = runtime.run_action(case.action, params, StaticConnection())
    assert len(graph_requests) == 1, [str(r) for r in graph_requests]
    if case.expect is not None:
        case.expect(call, output)


@pytest.mark.parametrize(
    ("name", "change", "refused_by"),
    [
        ("get_messages", {"select": ["subject"]}, "match_query"),
        ("get_message_in_text", {"body_content_type": None}, "match_headers"),
        ("user_sendmail", {"subject": "Meet for dinner?"}, "match_body"),
        ("delete_message", {"user_id": "someone@contoso.com"}, "match_path"),
    ],
)
def test_the_cassette_refuses_any_other_request(
    name: str, change: dict[str, Any], refused_by: str, runtime: Runtime, tmp_path: Path
) -> None:
    """The harness bites: an input that changes the request makes the documented cassette refuse it."""
    from vcr.errors import CannotOverwriteExistingCassetteException

    case = CASES[name]
    call = doc_call(graph_docs.example(name), case.faults)
    params = {k: v for k, v in {**case.derive(call), **change}.items() if v is not None}
    with (
        pytest.raises(CannotOverwriteExistingCassetteException, match=f"{refused_by} differs"),
        documented_cassette(call, tmp_path),
    ):
        runtime.run_action(case.action, params, StaticConnection())


def test_table_names_documented_examples_of_its_actions() -> None:
    """Every row names a documented example of an endpoint of its action, and a manifest action."""
    actions = set(load_manifest().actions)
    assert set(ACTION_ENDPOINTS) == actions, "ACTION_ENDPOINTS must list every manifest action"
    for name, case in CASES.items():
        example = graph_docs.example(name)
        assert endpoint_action(example, ACTION_ENDPOINTS) == case.action, (
            f"{example} is not an endpoint of {case.action} in ACTION_ENDPOINTS"
        )
    known = {e.name for e in graph_docs.load_examples()}
    assert not set(UNUSED) - known, "UNUSED names examples that do not exist"


def test_every_example_of_a_covered_endpoint_is_used_or_explained() -> None:
    report = docs_coverage()
    assert report is not None
    missing = [str(example) for example, reason in report.unused if reason == "NO REASON GIVEN"]
    assert not missing, (
        "documented examples of covered endpoints, neither in CASES nor in UNUSED:\n" + "\n".join(missing)
    )


def docs_coverage() -> Coverage | None:
    if not graph_docs.examples_available():
        return None
    return coverage(graph_docs.load_examples(), ACTION_ENDPOINTS, CASES, UNUSED)


COVERAGE_REPORTS.append(docs_coverage)
