"""Docs contract of the bulk actions: each sub-request they put in a ``$batch`` is the single request
Microsoft documents (method, path, JSON body, save Graph defaults), and the documented answer, given
back as that sub-request's answer, is read as the action should (tests/conformance/cases/bulk.py)."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from connector.runtime import Runtime
from tests.conformance.cases.bulk import BATCHED_CASES
from tests.support import graph_docs
from tests.support.connections import StaticConnection
from tests.support.docs_contract import GRAPH_ROOT, DocCall, cassette_uri, doc_call, match_body, match_path

pytestmark = graph_docs.requires_docs()


class DocumentedBatch:
    """Answers a ``$batch`` whose one sub-request must be the documented request."""

    def __init__(self, call: DocCall) -> None:
        self.call = call
        self.batches: list[list[dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("POST", "/v1.0/$batch")
        subs: list[dict[str, Any]] = json.loads(request.content)["requests"]
        self.batches.append(subs)
        assert len(subs) == 1, subs
        (sub,) = subs
        call = self.call
        assert sub["method"] == call.method
        match_path(SimpleNamespace(uri=GRAPH_ROOT + sub["url"]), SimpleNamespace(uri=cassette_uri(call)))
        assert "?" not in sub["url"] and not call.query
        match_body(
            SimpleNamespace(body=json.dumps(sub.get("body"))), SimpleNamespace(body=json.dumps(call.body))
        )
        answer: dict[str, Any] = {"id": sub["id"], "status": call.status, "headers": call.response_headers}
        if call.response_body is not None:
            answer["body"] = call.response_body
        return httpx.Response(200, json={"responses": [answer]})


def _run(name: str, change: dict[str, Any] | None = None) -> tuple[dict[str, Any], DocumentedBatch]:
    case = BATCHED_CASES[name]
    call = doc_call(graph_docs.example(name))
    graph = DocumentedBatch(call)
    params = {**case.derive(call), **(change or {})}
    with Runtime(strict_output=True, transport=httpx.MockTransport(graph)) as runtime:
        output = runtime.run_action(case.action, params, StaticConnection())
    return output, graph


@pytest.mark.parametrize("name", sorted(BATCHED_CASES))
def test_documented_request_as_a_batch_sub_request(name: str) -> None:
    output, graph = _run(name)
    assert len(graph.batches) == 1
    BATCHED_CASES[name].expect(graph.call, output)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("user_sendmail", {"subject_template": "Meet for dinner?"}),
        ("message_move", {"destination_id": "archive"}),
    ],
)
def test_a_different_request_is_refused(name: str, change: dict[str, Any]) -> None:
    """The check bites: an input that changes the sub-request fails it."""
    with pytest.raises(AssertionError, match="body differs"):
        _run(name, change)
