"""List and cancel scheduled messages, and MIME send / draft, at the HTTP boundary."""

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

DEFERRED = "SystemTime 0x3FEF"
OUTBOX_ID = "AAMkOutbox="
MIME = (
    "From: alex@contoso.com\r\nTo: Megan Bowen <megan@contoso.com>\r\nCc: dana@contoso.com\r\n"
    "Subject: Figures\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
)


def _scheduled(message_id: str, when: str | None, folder: str = OUTBOX_ID) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": message_id,
        "subject": f"s-{message_id}",
        "toRecipients": [{"emailAddress": {"address": "megan@contoso.com"}}],
        "createdDateTime": "2026-12-01T08:00:00Z",
        "parentFolderId": folder,
    }
    if when is not None:
        found["singleValueExtendedProperties"] = [{"id": DEFERRED, "value": when}]
    return found


def test_list_scheduled_messages_reads_the_outbox_with_the_property_and_sorts_soonest_first(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    pages = [
        {
            "value": [_scheduled("m2", "2026-12-24T09:00:00Z"), _scheduled("plain", None)],
            "@odata.nextLink": "https://graph.microsoft.com/v1.0/me/mailFolders/outbox/messages?$skip=2",
        },
        {"value": [_scheduled("m1", "2026-12-20T07:30:00Z")]},
    ]
    graph.handler = lambda request: httpx.Response(200, json=pages.pop(0))
    out = runtime.run_action("list_scheduled_messages", {"user_id": "shared@contoso.com"}, connection)
    first = graph.requests[0]
    assert first.url.path == "/v1.0/users/shared@contoso.com/mailFolders/outbox/messages"
    assert first.url.params["$expand"] == f"singleValueExtendedProperties($filter=id eq '{DEFERRED}')"
    assert [m["id"] for m in out["messages"]] == ["m1", "m2"] and out["count"] == 2
    assert out["messages"][0] == {
        "id": "m1",
        "subject": "s-m1",
        "to": ["megan@contoso.com"],
        "cc": [],
        "bcc": [],
        "scheduled_for": "2026-12-20T07:30:00Z",
        "created_at": "2026-12-01T08:00:00Z",
    }


def _answers(message: dict[str, Any] | None) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(204)
        if request.url.path.endswith("/mailFolders/outbox"):
            return httpx.Response(200, json={"id": OUTBOX_ID})
        if message is None:
            return httpx.Response(404, json={"error": {"code": "ErrorItemNotFound", "message": "not found"}})
        return httpx.Response(200, json=message)

    return handle


def test_cancel_deletes_a_scheduled_message_of_the_outbox(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = _answers(_scheduled("m1", "2026-12-20T07:30:00Z"))
    out = runtime.run_action("cancel_scheduled_message", {"message_id": "m1"}, connection)
    assert [(r.method, r.url.path) for r in graph.requests] == [
        ("GET", "/v1.0/me/messages/m1"),
        ("GET", "/v1.0/me/mailFolders/outbox"),
        ("DELETE", "/v1.0/me/messages/m1"),
    ]
    assert out == {"cancelled": True, "id": "m1", "subject": "s-m1", "scheduled_for": "2026-12-20T07:30:00Z"}


@pytest.mark.parametrize(
    "message",
    [
        _scheduled("m1", None),  # in the Outbox, but not scheduled
        _scheduled("m1", "2026-12-20T07:30:00Z", folder="AAMkInbox="),  # sent already, or elsewhere
        None,  # no such message
    ],
)
def test_cancel_refuses_anything_but_a_scheduled_message_and_deletes_nothing(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, message: dict[str, Any] | None
) -> None:
    graph.handler = _answers(message)
    with pytest.raises(InputValidationError) as caught:
        runtime.run_action("cancel_scheduled_message", {"message_id": "m1"}, connection)
    assert [e.path for e in caught.value.errors] == ["message_id"]
    assert "is not a scheduled message" in caught.value.errors[0].reason
    assert all(r.method == "GET" for r in graph.requests)


def test_cancel_that_loses_the_race_with_the_send_says_so(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    found = _answers(_scheduled("m1", "2026-12-20T07:30:00Z"))

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(404, json={"error": {"code": "ErrorItemNotFound", "message": "gone"}})
        return found(request)  # type: ignore[no-any-return]

    graph.handler = handle
    with pytest.raises(GraphError, match="left the Outbox before it could be cancelled"):
        runtime.run_action("cancel_scheduled_message", {"message_id": "m1"}, connection)


@pytest.mark.parametrize("form", ["mime", "mime_base64"])
def test_send_mime_posts_the_base64_message_as_text_plain_once(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, form: str
) -> None:
    graph.handler = lambda request: httpx.Response(202)
    value = MIME if form == "mime" else base64.b64encode(MIME.encode()).decode()
    out = runtime.run_action("send_mime_message", {form: value}, connection)
    [request] = graph.requests
    assert (request.method, request.url.path) == ("POST", "/v1.0/me/sendMail")
    assert request.headers["content-type"] == "text/plain"
    assert base64.b64decode(request.content) == MIME.encode()
    assert out == {
        "sent": True,
        "subject": "Figures",
        "to": ["megan@contoso.com"],
        "cc": ["dana@contoso.com"],
        "bcc": [],
        "size": len(MIME.encode()),
    }


def test_send_mime_is_never_retried_after_graph_may_have_sent_it(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(504, json={"error": {"code": "x", "message": "timeout"}})
    with pytest.raises(GraphError) as caught:
        runtime.run_action("send_mime_message", {"mime": MIME}, connection)
    assert len(graph.requests) == 1 and caught.value.status == 504


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"mime": MIME, "mime_base64": "eA=="}, "give exactly one"),
        ({}, "give exactly one"),
        ({"mime_base64": "not base64!"}, "is not valid base64"),
        ({"mime": "just some words"}, "is not a MIME message"),
        ({"mime": "Subject: nobody\r\n\r\nhi\r\n"}, "names no recipient"),
        ({"mime": "To: a@contoso.com\r\n\r\n" + "x" * (3 * 1024 * 1024 + 1)}, "under 4 MB"),
    ],
)
def test_bad_mime_is_refused_before_any_request(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, raw: dict[str, Any], reason: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_action("send_mime_message", raw, connection)
    assert reason in str(caught.value) and graph.requests == []


def test_create_draft_mime_returns_the_draft(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    draft = {"id": "d1", "subject": "Figures", "isDraft": True}
    graph.handler = lambda request: httpx.Response(201, json=draft)
    out = runtime.run_action("create_draft_mime", {"mime": MIME, "user_id": "ops@contoso.com"}, connection)
    [request] = graph.requests
    assert (request.method, request.url.path) == ("POST", "/v1.0/users/ops@contoso.com/messages")
    assert request.headers["content-type"] == "text/plain"
    assert json.loads(json.dumps(out)) == draft
