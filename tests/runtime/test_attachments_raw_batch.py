"""Attachments, upload sessions and batches at the HTTP boundary (Graph's answers scripted): what
goes to which host with which headers, item attachments, and the retry rules of a batch."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from connector.errors import GraphError, InputValidationError
from connector.runtime import Runtime
from tests.runtime.conftest import FakeGraph
from tests.support.connections import StaticConnection

UPLOAD_URL = (
    "https://outlook.office.com/api/v2.0/Users('u')/Messages('m')/AttachmentSessions('s')?authtoken=secret"
)
MB = 1024 * 1024


def _json(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None


def test_upload_session_puts_ranges_to_the_upload_host_without_the_token(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    data = bytes(range(256)) * (5 * MB // 256)  # 5 MB: two ranges

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/createUploadSession"):
            return httpx.Response(201, json={"uploadUrl": UPLOAD_URL, "nextExpectedRanges": ["0-"]})
        _first, last = request.headers["Content-Range"].removeprefix("bytes ").split("/")[0].split("-")
        if int(last) + 1 < len(data):
            return httpx.Response(200, json={"nextExpectedRanges": [f"{int(last) + 1}-{len(data) - 1}"]})
        return httpx.Response(
            201, headers={"Location": "https://outlook.office.com/api/v2.0/Attachments('att-1')"}
        )

    graph.handler = answer
    out = runtime.run_action(
        "add_attachment",
        {
            "message_id": "AAMk/+=",
            "attachment": {"name": "big.bin", "content_base64": base64.b64encode(data).decode()},
        },
        connection,
    )
    assert out["id"] == "att-1" and out["size"] == len(data)
    create, *puts = graph.requests
    assert create.url.raw_path == b"/v1.0/me/messages/AAMk%2F%2B%3D/attachments/createUploadSession"
    assert create.headers["Authorization"] == f"Bearer {connection.token}"
    assert _json(create) == {
        "AttachmentItem": {
            "attachmentType": "file",
            "name": "big.bin",
            "size": len(data),
            "contentType": "application/octet-stream",
            "isInline": False,
        }
    }
    assert [p.url.host for p in puts] == ["outlook.office.com"] * 2
    assert all("Authorization" not in p.headers for p in puts)
    assert [p.headers["Content-Range"] for p in puts] == [
        f"bytes 0-{10 * 320 * 1024 - 1}/{len(data)}",
        f"bytes {10 * 320 * 1024}-{len(data) - 1}/{len(data)}",
    ]
    assert b"".join(p.content for p in puts) == data


def test_an_upload_that_never_moves_on_stops(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/createUploadSession"):
            return httpx.Response(201, json={"uploadUrl": UPLOAD_URL})
        return httpx.Response(200, json={"nextExpectedRanges": ["0-"]})

    graph.handler = answer
    big = base64.b64encode(b"\0" * (4 * MB)).decode()
    with pytest.raises(GraphError, match="does not move on"):
        runtime.run_action(
            "add_attachment",
            {"message_id": "m", "attachment": {"name": "f", "content_base64": big}},
            connection,
        )
    assert len(graph.requests) < 20


def test_send_message_deletes_the_draft_and_sends_nothing_when_the_upload_fails(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1.0/me/messages":
            return httpx.Response(201, json={"id": "draft-1"})
        if request.url.path.endswith("/createUploadSession"):
            return httpx.Response(
                400, json={"error": {"code": "ErrorAttachmentSizeLimitExceeded", "message": "no"}}
            )
        return httpx.Response(204)

    graph.handler = answer
    big = base64.b64encode(b"\0" * (4 * MB)).decode()
    with pytest.raises(GraphError):
        runtime.run_action(
            "send_message",
            {"to": ["a@contoso.com"], "attachments": [{"name": "f", "content_base64": big}]},
            connection,
        )
    calls = [(r.method, r.url.path) for r in graph.requests]
    assert calls == [
        ("POST", "/v1.0/me/messages"),
        ("POST", "/v1.0/me/messages/draft-1/attachments/createUploadSession"),
        ("DELETE", "/v1.0/me/messages/draft-1"),
    ]


def test_get_item_attachment_returns_the_item_and_its_mime(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    mime = b"From: a@contoso.com\r\nSubject: Lunch\r\n\r\nHi\r\n"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/$value"):
            return httpx.Response(200, content=mime, headers={"Content-Type": "message/rfc822"})
        base = {"@odata.type": "#microsoft.graph.itemAttachment", "id": "a1", "name": "Lunch", "size": 99}
        if request.url.params.get("$expand") == "microsoft.graph.itemattachment/item":
            return httpx.Response(
                200, json={**base, "item": {"@odata.type": "#microsoft.graph.message", "subject": "Lunch"}}
            )
        return httpx.Response(200, json=base)

    graph.handler = answer
    out = runtime.run_action("get_attachment", {"message_id": "m1", "attachment_id": "a1"}, connection)
    assert out["kind"] == "item" and out["item"]["subject"] == "Lunch"
    assert base64.b64decode(out["content_base64"]) == mime
    # the item comes expanded with the properties (one request), its MIME through $value (a second)
    expands = [r.url.params.get("$expand") for r in graph.requests]
    assert expands == ["microsoft.graph.itemattachment/item", None]


def _sub(status: int, body: Any = None, retry_after: str | None = None) -> dict[str, Any]:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return {"status": status, "headers": headers, "body": body or {}}


def test_batch_retries_only_what_graph_did_not_run(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    rounds: list[list[dict[str, Any]]] = []
    script = [
        {
            "get": _sub(429, retry_after="0.01"),
            "after_get": _sub(424),
            "post": _sub(503, retry_after="0"),
            "patch": _sub(503, retry_after="0"),
            "ok": _sub(200, {"v": 1}),
        },
        {"get": _sub(200, {"v": 2}), "after_get": _sub(200, {"v": 3}), "patch": _sub(204)},
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        sent = _json(request)["requests"]
        rounds.append(sent)
        answers = script[len(rounds) - 1]
        return httpx.Response(
            200, json={"responses": [{"id": r["id"], **answers[r["id"]]} for r in reversed(sent)]}
        )

    graph.handler = answer
    out = runtime.run_action(
        "batch_request",
        {
            "requests": [
                {"id": "get", "url": "/me/messages"},
                {"id": "after_get", "url": "/me/mailFolders", "depends_on": ["get"]},
                {"id": "post", "method": "POST", "url": "/me/messages", "body": {"subject": "x"}},
                {"id": "patch", "method": "PATCH", "url": "/me/messages/m1", "body": {"isRead": True}},
                {"id": "ok", "url": "/me"},
            ]
        },
        connection,
    )
    assert [r["id"] for r in out["responses"]] == ["get", "after_get", "post", "patch", "ok"]
    assert [r["status"] for r in out["responses"]] == [200, 200, 503, 204, 200]
    assert [r["attempts"] for r in out["responses"]] == [2, 2, 1, 2, 1]
    assert rounds[0][2] == {
        "id": "post",
        "method": "POST",
        "url": "/me/messages",
        "body": {"subject": "x"},
        "headers": {"Content-Type": "application/json"},
    }
    assert [r["id"] for r in rounds[1]] == ["get", "after_get", "patch"]
    assert rounds[1][1]["dependsOn"] == ["get"]
    assert all(r.url.path == "/v1.0/$batch" for r in graph.requests)


def test_batch_gives_up_after_its_retries(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(
        200, json={"responses": [{"id": "a", **_sub(429, retry_after="0.001")}]}
    )
    out = runtime.run_action(
        "batch_request", {"requests": [{"id": "a", "url": "/me"}], "max_retries": 2}, connection
    )
    assert out["responses"][0]["status"] == 429 and out["responses"][0]["attempts"] == 3
    assert len(graph.requests) == 3


def test_a_large_attachment_cannot_skip_sent_items(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    big = base64.b64encode(b"\0" * (3 * MB)).decode()
    raw = {
        "to": ["a@contoso.com"],
        "save_to_sent_items": False,
        "attachments": [{"name": "f", "content_base64": big}],
    }
    with pytest.raises(InputValidationError, match="save_to_sent_items"):
        runtime.run_action("send_message", raw, connection)
    assert graph.requests == []
