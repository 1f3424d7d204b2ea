"""Update Messages with a move: a move Graph may have applied is reported ``unknown``, never ``error``
(as Send Templated Messages does), so a flow does not move the message again or report it unmoved."""

from __future__ import annotations

import json

import httpx
import pytest

from connector.runtime import Runtime
from tests.runtime.conftest import FakeGraph
from tests.support.connections import StaticConnection


def _graph_answering_moves_with(status: int) -> FakeGraph:
    """PATCH batches succeed; the move batch call itself is answered ``status``."""

    def handle(request: httpx.Request) -> httpx.Response:
        subs = json.loads(request.content)["requests"]
        if any(s["url"].endswith("/move") for s in subs):
            return httpx.Response(status, json={"error": {"code": "Oops", "message": "said so"}})
        return httpx.Response(
            200, json={"responses": [{"id": s["id"], "status": 200, "body": {}} for s in subs]}
        )

    return FakeGraph(handler=handle)


@pytest.mark.parametrize(("status", "outcome"), [(502, "unknown"), (504, "unknown"), (400, "error")])
def test_a_failed_move_batch_call_is_unknown_when_graph_may_have_run_it(status: int, outcome: str) -> None:
    graph = _graph_answering_moves_with(status)
    with Runtime(strict_output=True, transport=httpx.MockTransport(graph)) as runtime:
        out = runtime.run_action(
            "update_messages",
            {"message_ids": ["a", "b"], "is_read": True, "destination_id": "archive"},
            StaticConnection(),
        )
    assert [r["status"] for r in out["results"]] == [outcome, outcome]
    assert out["unknown"] == (2 if outcome == "unknown" else 0)
    assert out["failed"] == 2 and out["succeeded"] == 0
