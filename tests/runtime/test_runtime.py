"""Runtime: validate input -> authorize -> call handler -> validate output."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest

from connector.errors import ConfigurationError, InputValidationError
from connector.runtime import Runtime
from tests.support.connections import TEST_TOKEN

from .conftest import FakeGraph, StaticConnection


def _paths(error: InputValidationError) -> set[str]:
    return {e.path for e in error.errors}


@pytest.mark.parametrize(
    ("key", "raw_input", "expected_paths"),
    [
        ("send_message", {"subject": "x"}, {"to"}),
        ("send_message", {"to": ["not-an-address"], "subject": "x"}, {"to[0]"}),
        ("send_message", {"to": [{"name": "Alex"}]}, {"to[0].address"}),
        ("send_message", {"to": ["a@contoso.com"], "importance": "urgent"}, {"importance"}),
        ("list_messages", {"top": 5000, "colour": "red"}, {"top", "colour"}),
        ("list_messages", {"search": "invoice", "order_by": "subject"}, {"order_by"}),
        ("list_messages", {"search": "invoice", "filter": "isRead eq false"}, {"filter"}),
        ("get_message", {}, {"message_id"}),
        ("get_message", {"message_id": ""}, {"message_id"}),
        ("delete_message", {"message_id": 42}, {"message_id"}),
    ],
)
def test_invalid_input_names_each_field_and_sends_nothing(
    runtime: Runtime,
    graph: FakeGraph,
    connection: StaticConnection,
    key: str,
    raw_input: object,
    expected_paths: set[str],
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_action(key, raw_input, connection)
    assert expected_paths <= _paths(caught.value), caught.value.message
    assert all(e.reason for e in caught.value.errors)
    assert graph.requests == []


def test_oversized_attachment_is_refused_before_sending(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    # from 3 MB send_message uploads the file through an upload session; over 150 MB Graph takes none
    big = base64.b64encode(b"x" * (150 * 1024 * 1024 + 1)).decode()
    raw = {
        "to": ["a@contoso.com"],
        "subject": "s",
        "attachments": [{"name": "big.bin", "content_base64": big}],
    }
    with pytest.raises(InputValidationError) as caught:
        runtime.run_action("send_message", raw, connection)
    assert "attachments[0].content_base64" in _paths(caught.value)
    assert "150 MB" in caught.value.message
    assert graph.requests == []


def test_bad_base64_attachment_is_refused(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    raw = {"to": ["a@contoso.com"], "attachments": [{"name": "a.txt", "content_base64": "***"}]}
    with pytest.raises(InputValidationError, match=r"attachments\[0\]\.content_base64: is not valid base64"):
        runtime.run_action("send_message", raw, connection)
    assert graph.requests == []


def test_send_message_builds_the_graph_body(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(202)
    content = base64.b64encode(b"a,b\n1,2\n").decode()
    out = runtime.run_action(
        "send_message",
        {
            "to": ["alex@contoso.com", {"address": "megan@contoso.com", "name": "Megan"}],
            "bcc": ["audit@contoso.com"],
            "reply_to": ["sales@contoso.com"],
            "subject": "Numbers",
            "body": "plain words",
            "body_type": "text",
            "importance": "high",
            "save_to_sent_items": False,
            "attachments": [{"name": "n.csv", "content_base64": content, "content_type": "text/csv"}],
        },
        connection,
    )
    request = graph.requests[0]
    assert (request.method, request.url.path) == ("POST", "/v1.0/me/sendMail")
    body = graph.body()
    assert body["saveToSentItems"] is False
    message = body["message"]
    assert message["toRecipients"] == [
        {"emailAddress": {"address": "alex@contoso.com"}},
        {"emailAddress": {"address": "megan@contoso.com", "name": "Megan"}},
    ]
    assert message["bccRecipients"] == [{"emailAddress": {"address": "audit@contoso.com"}}]
    assert message["replyTo"] == [{"emailAddress": {"address": "sales@contoso.com"}}]
    assert "ccRecipients" not in message
    assert message["body"] == {"contentType": "Text", "content": "plain words"}
    assert message["importance"] == "high"
    assert message["attachments"][0]["contentBytes"] == content
    assert message["attachments"][0]["@odata.type"] == "#microsoft.graph.fileAttachment"
    assert out["sent"] is True and out["to"] == ["alex@contoso.com", "megan@contoso.com"]
    assert out["attachments"] == 1


def test_user_id_and_ids_are_url_encoded(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(200, json={"id": "AAMk/a+b=", "subject": "s"})
    runtime.run_action(
        "get_message", {"message_id": "AAMk/a+b="}, connection, user_id="shared box@contoso.com"
    )
    raw_path = graph.requests[0].url.raw_path.decode()
    assert raw_path == "/v1.0/users/shared%20box%40contoso.com/messages/AAMk%2Fa%2Bb%3D"


def test_app_only_connection_needs_a_mailbox(runtime: Runtime, graph: FakeGraph) -> None:
    app = StaticConnection(type_key="client_credentials", app_only=True)
    with pytest.raises(InputValidationError, match="user_id: is required with an app-only"):
        runtime.run_action("list_messages", {}, app)
    assert graph.requests == []


def test_app_only_connection_uses_its_default_mailbox(runtime: Runtime, graph: FakeGraph) -> None:
    graph.handler = lambda request: httpx.Response(200, json={"value": []})
    app = StaticConnection(type_key="client_credentials", app_only=True, default_mailbox="ops@contoso.com")
    runtime.run_action("list_mail_folders", {}, app)
    assert graph.requests[0].url.path == "/v1.0/users/ops@contoso.com/mailFolders"


def test_list_messages_query_options(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(200, json={"value": [{"id": "1"}]})
    out = runtime.run_action(
        "list_messages",
        {
            "folder_id": "inbox",
            "search": 'say "hi"',
            "select": ["subject", "from"],
            "top": 25,
            "skip": 50,
            "body_content_type": "text",
        },
        connection,
    )
    request = graph.requests[0]
    assert request.url.path == "/v1.0/me/mailFolders/inbox/messages"
    assert dict(request.url.params) == {
        "$search": '"say \\"hi\\""',
        "$select": "subject,from",
        "$top": "25",
        "$skip": "50",
    }
    assert request.headers["Prefer"] == 'outlook.body-content-type="text"'
    assert out == {"messages": [{"id": "1"}], "count": 1, "next_link": None}


def test_fetch_all_follows_pages_up_to_the_limit(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        skip = int(request.url.params.get("$skip", "0"))
        items = [{"id": str(i)} for i in range(skip, skip + 10)]
        nxt = f"https://graph.microsoft.com/v1.0/me/messages?$top=10&$skip={skip + 10}"
        return httpx.Response(200, json={"value": items, "@odata.nextLink": nxt})

    graph.handler = pages
    out = runtime.run_action("list_messages", {"fetch_all": True, "limit": 25}, connection)
    assert [m["id"] for m in out["messages"]] == [str(i) for i in range(25)]
    assert out["count"] == 25
    assert len(graph.requests) == 3


def test_output_that_breaks_its_schema_fails_in_strict_mode(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(200, json={"displayName": "No Id"})
    with pytest.raises(InputValidationError, match="output of get_current_user: id: is required"):
        runtime.run_action("get_current_user", {}, connection)


def test_output_that_breaks_its_schema_is_logged_in_production(
    graph: FakeGraph, connection: StaticConnection, caplog: pytest.LogCaptureFixture
) -> None:
    graph.handler = lambda request: httpx.Response(200, json={"displayName": "No Id"})
    with (
        Runtime(strict_output=False, transport=httpx.MockTransport(graph)) as runtime,
        caplog.at_level(logging.WARNING),
    ):
        out = runtime.run_action("get_current_user", {}, connection)
    assert out == {"displayName": "No Id"}
    assert "does not match its schema" in caplog.text


def test_unsupported_connection_type_is_refused(runtime: Runtime, graph: FakeGraph) -> None:
    with pytest.raises(ConfigurationError, match="does not support 'carrier_pigeon'"):
        runtime.run_action("get_current_user", {}, StaticConnection(type_key="carrier_pigeon"))
    assert graph.requests == []


def test_unknown_action(runtime: Runtime, connection: StaticConnection) -> None:
    with pytest.raises(ConfigurationError, match="unknown action 'fly'"):
        runtime.run_action("fly", {}, connection)


def test_graph_errors_carry_status_code_and_request_id(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    from connector.errors import GraphError

    graph.handler = lambda request: httpx.Response(
        404,
        json={
            "error": {
                "code": "ErrorItemNotFound",
                "message": "The specified object was not found in the store.",
                "innerError": {"request-id": "rid-1", "date": "2026-11-22T10:00:00"},
            }
        },
    )
    with pytest.raises(GraphError) as caught:
        runtime.run_action("get_message", {"message_id": "gone"}, connection)
    error = caught.value
    assert (error.status, error.code, error.request_id) == (404, "ErrorItemNotFound", "rid-1")
    assert TEST_TOKEN not in str(error)
