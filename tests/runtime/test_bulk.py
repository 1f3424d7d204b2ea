"""Update Messages and Send Templated Messages at the HTTP boundary (Graph's $batch answers scripted):
chunking, what is retried and what never is, how each answer becomes an outcome, templates, and the
run_id journal."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.errors import InputValidationError
from connector.policy import PRESETS, PolicyGate
from connector.runtime import Runtime
from connector.store import Store
from tests.runtime.conftest import FakeGraph
from tests.support.connections import StaticConnection

SubAnswer = Callable[[dict[str, Any]], dict[str, Any]]


def _batches(graph: FakeGraph) -> list[list[dict[str, Any]]]:
    return [json.loads(r.content)["requests"] for r in graph.requests if r.url.path == "/v1.0/$batch"]


def _answering(answer: SubAnswer) -> Callable[[httpx.Request], httpx.Response]:
    """A $batch handler answering each sub-request with ``answer(sub)`` (in reverse order, as Graph may)."""

    def handle(request: httpx.Request) -> httpx.Response:
        subs = json.loads(request.content)["requests"]
        return httpx.Response(200, json={"responses": [{"id": s["id"], **answer(s)} for s in reversed(subs)]})

    return handle


def _ok(sub: dict[str, Any]) -> dict[str, Any]:
    if sub["url"].endswith("/move"):
        return {"status": 201, "body": {"id": "new-" + sub["url"].split("/")[-2]}}
    if sub["method"] == "POST":
        return {"status": 202}
    return {"status": 200, "body": {"id": sub["url"].split("/")[-1].split("?")[0], "categories": ["Blue"]}}


def _error(status: int, code: str = "Oops", retry_after: str | None = None) -> dict[str, Any]:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return {
        "status": status,
        "headers": headers,
        "body": {"error": {"code": code, "message": f"said {code}"}},
    }


# == Update Messages ====================================================================================
def test_update_messages_chunks_ids_20_per_batch_in_order(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = _answering(
        lambda s: _error(404, "ErrorItemNotFound") if s["url"].endswith("/m7") else _ok(s)
    )
    ids = [f"m{i}" for i in range(45)]
    out = runtime.run_action(
        "update_messages", {"message_ids": ids, "is_read": True, "flag": "flagged"}, connection
    )
    batches = _batches(graph)
    assert [len(b) for b in batches] == [20, 20, 5] and out["batches"] == 3
    assert [s["url"] for b in batches for s in b] == [f"/me/messages/{m}" for m in ids]
    assert {(s["method"], json.dumps(s["body"], sort_keys=True)) for b in batches for s in b} == {
        ("PATCH", json.dumps({"flag": {"flagStatus": "flagged"}, "isRead": True}, sort_keys=True))
    }
    assert [r["message_id"] for r in out["results"]] == ids
    assert (out["count"], out["succeeded"], out["failed"]) == (45, 44, 1)
    failed = out["results"][7]
    assert failed["status"] == "error" and failed["error"]["code"] == "ErrorItemNotFound"
    assert failed["error"]["status"] == 404 and failed["error"]["message"] == "said ErrorItemNotFound"


def test_throttled_and_5xx_patches_are_retried_alone_but_a_5xx_move_never(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    seen: dict[str, int] = {}

    def answer(sub: dict[str, Any]) -> dict[str, Any]:
        key = sub["method"] + sub["url"]
        seen[key] = seen.get(key, 0) + 1
        if sub["url"] == "/me/messages/a" and seen[key] == 1:
            return _error(429, "ApplicationThrottled", "0")
        if sub["url"] == "/me/messages/b" and seen[key] == 1:
            return _error(503, "ServiceNotAvailable", "0")
        if sub["url"] == "/me/messages/c/move":
            return _error(504, "GatewayTimeout")
        return _ok(sub)

    graph.handler = _answering(answer)
    out = runtime.run_action(
        "update_messages",
        {"message_ids": ["a", "b", "c"], "is_read": False, "destination_id": "archive"},
        connection,
    )
    batches = _batches(graph)
    assert [[s["id"] for s in b] for b in batches] == [["p0", "p1", "p2"], ["p0", "p1"], ["m0", "m1", "m2"]]
    assert seen["POST/me/messages/c/move"] == 1
    by_id = {r["message_id"]: r for r in out["results"]}
    assert by_id["a"]["new_id"] == "new-a" and by_id["b"]["new_id"] == "new-b"
    assert by_id["c"]["status"] == "unknown" and by_id["c"]["error"]["code"] == "RequestOutcomeUnknown"
    assert by_id["c"]["new_id"] is None


def test_adding_and_removing_categories_reads_then_patches_only_what_changes(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    current = {"x": ["Blue", "red"], "y": ["Green"], "z": ["Red"]}

    def answer(sub: dict[str, Any]) -> dict[str, Any]:
        message = sub["url"].split("/")[3].split("?")[0]
        if sub["method"] == "GET":
            assert sub["url"].endswith("?$select=categories")
            return {"status": 200, "body": {"id": message, "categories": current[message]}}
        return {"status": 200, "body": {"id": message}}

    graph.handler = _answering(answer)
    out = runtime.run_action(
        "update_messages",
        {"message_ids": ["x", "y", "z"], "add_categories": ["Green"], "remove_categories": ["RED"]},
        connection,
    )
    reads, writes = _batches(graph)
    assert [s["method"] for s in reads] == ["GET"] * 3
    assert {s["url"]: s["body"] for s in writes} == {
        "/me/messages/x": {"categories": ["Blue", "Green"]},
        "/me/messages/z": {"categories": ["Green"]},
    }  # y already has Green and no Red: nothing to write
    assert out["succeeded"] == 3


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"message_ids": ["a", "b", "a"], "is_read": True}, "message_ids"),
        ({"message_ids": ["a"]}, "at least one change"),
        ({"message_ids": ["a"], "categories": ["x"], "add_categories": ["y"]}, "categories"),
        ({"message_ids": [f"m{i}" for i in range(1001)], "is_read": True}, "message_ids"),
        ({"message_ids": [], "is_read": True}, "message_ids"),
    ],
)
def test_update_messages_input_is_checked_before_any_request(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, raw: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputValidationError) as refused:
        runtime.run_action("update_messages", raw, connection)
    assert field in str(refused.value)
    assert graph.requests == []


def test_a_failed_batch_call_stops_the_run_and_names_the_rest(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(
        403, json={"error": {"code": "ErrorAccessDenied", "message": "no"}}
    )
    out = runtime.run_action(
        "update_messages", {"message_ids": [f"m{i}" for i in range(30)], "is_read": True}, connection
    )
    assert len(graph.requests) == 1 and out["failed"] == 30
    assert out["results"][0]["error"]["code"] == "ErrorAccessDenied"
    assert out["results"][25]["error"]["code"] == "NotAttempted"


# == Send Templated Messages ============================================================================
ROWS = [
    {"Email": "alex@contoso.com", "First Name": "Alex", "Order": 1042},
    {"Email": "sam@contoso.com", "first name": "<b>Sam</b> & co", "Order": 7.0},
    {"Email": "kim@contoso.com", "Order": 3},
    {"Email": "not an address", "First Name": "Lee", "Order": 4},
    {"Email": "Pat Doe <pat@contoso.com>; jo@contoso.com", "First Name": "Pat", "Order": True},
]


def _send(runtime: Runtime, connection: StaticConnection, **extra: Any) -> dict[str, Any]:
    raw = {
        "subject_template": "Order {{ Order }}",
        "body_template": "<p>Hi {{First Name}}, order {{Order}}</p>",
        "to_column": "Email",
        "rows": ROWS,
        **extra,
    }
    return runtime.run_action("send_templated_messages", raw, connection)


def test_rows_are_rendered_escaped_and_sent_one_message_each(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = _answering(_ok)
    out = _send(runtime, connection)
    (batch,) = _batches(graph)
    assert [s["id"] for s in batch] == ["0", "1", "4"]
    assert all(s["method"] == "POST" and s["url"] == "/me/sendMail" for s in batch)
    messages = {s["id"]: s["body"]["message"] for s in batch}
    assert messages["0"]["subject"] == "Order 1042"
    assert messages["0"]["body"] == {"contentType": "HTML", "content": "<p>Hi Alex, order 1042</p>"}
    assert messages["1"]["body"]["content"] == "<p>Hi &lt;b&gt;Sam&lt;/b&gt; &amp; co, order 7</p>"
    assert messages["4"]["toRecipients"] == [
        {"emailAddress": {"address": "pat@contoso.com", "name": "Pat Doe"}},
        {"emailAddress": {"address": "jo@contoso.com"}},
    ]
    assert messages["4"]["subject"] == "Order true"
    assert batch[0]["body"]["saveToSentItems"] is True
    statuses = [(r["row"], r["status"]) for r in out["rows"]]
    assert statuses == [(0, "sent"), (1, "sent"), (2, "failed"), (3, "failed"), (4, "sent")]
    assert out["rows"][2]["reason"] == "column 'First Name' is missing"
    assert (
        "not an email address" in out["rows"][3]["reason"] and out["rows"][3]["recipient"] == "not an address"
    )
    assert out["rows"][4]["recipient"] == "pat@contoso.com, jo@contoso.com"
    assert (out["sent"], out["failed"], out["unknown"], out["already_sent"]) == (3, 2, 0, 0)


def test_text_bodies_are_not_escaped(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = _answering(_ok)
    _send(runtime, connection, body_type="text", rows=[ROWS[1]])
    (batch,) = _batches(graph)
    assert batch[0]["body"]["message"]["body"] == {
        "contentType": "Text",
        "content": "<p>Hi <b>Sam</b> & co, order 7</p>",
    }


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"body_template": "Hi {{Frist Name}}"}, "body_template"),
        ({"subject_template": "{{ }}"}, "subject_template"),
        ({"to_column": "E-mail"}, "to_column"),
        ({"cc_column": "Manager"}, "cc_column"),
        ({"rows": []}, "rows"),
        ({"rows": [{"Email": "a@contoso.com"}] * 501}, "rows"),
        (
            {
                "attachments": [
                    {"name": "f", "content_base64": base64.b64encode(b"\0" * (2_400_000)).decode()}
                ]
            },
            "attachments",
        ),
    ],
)
def test_send_templated_input_is_checked_before_any_request(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, extra: dict[str, Any], field: str
) -> None:
    with pytest.raises(InputValidationError) as refused:
        _send(runtime, connection, **extra)
    assert field in str(refused.value)
    assert graph.requests == []


def test_run_id_needs_a_store(runtime: Runtime, graph: FakeGraph, connection: StaticConnection) -> None:
    with pytest.raises(InputValidationError, match="run_id"):
        _send(runtime, connection, run_id="r1")
    assert graph.requests == []


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [
        (_error(429, "ApplicationThrottled", "0"), "failed", "throttled 9 times"),
        (
            _error(400, "ErrorInvalidRecipients"),
            "failed",
            "not sent: Graph answered 400 ErrorInvalidRecipients",
        ),
        (_error(503, "ServiceNotAvailable", "0"), "unknown", "may or may not have been sent"),
        (_error(500, "InternalServerError"), "unknown", "may or may not have been sent"),
        (None, "unknown", "did not include this request"),
    ],
)
def test_each_answer_becomes_an_outcome_and_only_429_is_resent(
    runtime: Runtime,
    graph: FakeGraph,
    connection: StaticConnection,
    answer: dict[str, Any] | None,
    status: str,
    reason: str,
) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        subs = json.loads(request.content)["requests"]
        listed = [
            {"id": s["id"], **(_ok(s) if s["id"] != "1" else answer)}
            for s in subs
            if s["id"] != "1" or answer
        ]
        return httpx.Response(200, json={"responses": listed})

    graph.handler = handle
    out = _send(runtime, connection, rows=ROWS[:2])
    assert out["rows"][0]["status"] == "sent"
    assert out["rows"][1]["status"] == status and reason in out["rows"][1]["reason"]
    sends_of_row_1 = sum(1 for b in _batches(graph) for s in b if s["id"] == "1")
    assert sends_of_row_1 == (9 if status == "failed" and "throttled" in reason else 1)


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (lambda request: httpx.Response(503, headers={"Retry-After": "0"}), "unknown"),
        (lambda request: httpx.Response(504), "unknown"),
        (lambda request: (_ for _ in ()).throw(httpx.ReadError("dropped", request=request)), "unknown"),
        (lambda request: httpx.Response(429, headers={"Retry-After": "0"}), "failed"),
        (
            lambda request: httpx.Response(400, json={"error": {"code": "BadRequest", "message": "no"}}),
            "failed",
        ),
    ],
)
def test_a_failed_batch_call_is_never_resent_unless_graph_did_not_run_it(
    runtime: Runtime,
    graph: FakeGraph,
    connection: StaticConnection,
    failure: Callable[[httpx.Request], httpx.Response],
    status: str,
) -> None:
    graph.handler = failure
    rows = [{"Email": f"r{i}@contoso.com", "First Name": "R", "Order": i} for i in range(25)]
    out = _send(runtime, connection, rows=rows)
    first = [r["status"] for r in out["rows"][:20]]
    assert first == [status] * 20
    assert [r["status"] for r in out["rows"][20:]] == ["failed"] * 5  # the run stopped: never sent
    assert "run again" in out["rows"][24]["reason"]
    batch_posts = [r for r in graph.requests if r.url.path == "/v1.0/$batch"]
    if status == "unknown":
        assert len(batch_posts) == 1  # a batch that may have run is not sent again
    assert all(len(json.loads(r.content)["requests"]) == 20 for r in batch_posts)


def test_batches_stay_under_the_request_size_limit(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = _answering(_ok)
    blob = base64.b64encode(b"\1" * 1_600_000).decode()  # 2.1 MB of base64 in every message
    out = _send(
        runtime, connection, rows=[ROWS[0]] * 3, attachments=[{"name": "f.bin", "content_base64": blob}]
    )
    sizes = [len(r.content) for r in graph.requests]
    assert len(sizes) == 3 and all(size < 4 * 1024 * 1024 for size in sizes)
    assert out["sent"] == 3 and out["batches"] == 3


@pytest.fixture
def stored_runtime(graph: FakeGraph, tmp_path: Path) -> Iterator[Runtime]:
    with (
        Store(tmp_path / "state.db") as store,
        Runtime(
            strict_output=True,
            store=store,
            transport=httpx.MockTransport(graph),
            gate=PolicyGate(policy=PRESETS["open"]),  # these tests are about the rerun, not the policy
        ) as rt,
    ):
        yield rt


def test_a_rerun_with_the_run_id_skips_sent_rows_and_never_resends_unknown_ones(
    stored_runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    rows = [{"Email": f"r{i}@contoso.com", "First Name": "R", "Order": i} for i in range(4)]
    first_answers = {
        "0": _ok,
        "1": lambda s: _error(400, "ErrorQuotaExceeded"),
        "2": lambda s: _error(500, "X"),
    }
    graph.handler = _answering(lambda s: first_answers.get(s["id"], _ok)(s))
    first = _send(stored_runtime, connection, rows=rows, run_id="campaign-7")
    assert [r["status"] for r in first["rows"]] == ["sent", "failed", "unknown", "sent"]

    graph.requests.clear()
    graph.handler = _answering(_ok)
    changed = [*rows[:3], {**rows[3], "Order": 99}]  # row 3's message changed: a new message
    again = _send(stored_runtime, connection, rows=changed, run_id="campaign-7")
    assert [r["status"] for r in again["rows"]] == ["already_sent", "sent", "unknown", "sent"]
    assert "earlier run" in again["rows"][2]["reason"]
    assert [s["id"] for b in _batches(graph) for s in b] == ["1", "3"]

    graph.requests.clear()
    other = _send(stored_runtime, connection, rows=rows[:1], run_id="campaign-8")
    assert other["rows"][0]["status"] == "sent"  # another run_id is another run
    assert len(graph.requests) == 1
