"""Hostile input ends in the connector's input error naming the field, with nothing sent.

Each case is one of the escapes found by hand (a raw Python exception, or a request to another
resource); the Graph stand-in records every request at the HTTP boundary.
"""

from __future__ import annotations

from typing import Any

import pytest

from connector.errors import InputValidationError
from connector.runtime import Runtime
from tests.runtime.conftest import FakeGraph, StaticConnection

MB = 1024 * 1024
MESSAGE = "AAMkAGI2TAAA="
G = "https://graph.microsoft.com/v1.0"


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


CASES: list[tuple[str, str, dict[str, Any], str]] = [
    # (case, action, input, field named)
    (
        "dot-dot attachment id",
        "delete_attachment",
        {"message_id": MESSAGE, "attachment_id": ".."},
        "attachment_id",
    ),
    (
        "dot attachment id",
        "delete_attachment",
        {"message_id": MESSAGE, "attachment_id": "."},
        "attachment_id",
    ),
    (
        "blank attachment id",
        "delete_attachment",
        {"message_id": MESSAGE, "attachment_id": "  "},
        "attachment_id",
    ),
    ("dot-dot message id", "get_message", {"message_id": ".."}, "message_id"),
    (
        "dot-dot calendar id",
        "create_event",
        {"subject": "x", "start": "2026-12-01T10:00:00", "end": "2026-12-01T11:00:00", "calendar_id": ".."},
        "calendar_id",
    ),
    ("dot user id", "list_messages", {"user_id": "."}, "user_id"),
    (
        "dot-dot ids in a list",
        "update_messages",
        {"message_ids": [MESSAGE, ".."], "is_read": True},
        "message_ids",
    ),
    ("1 MB id", "get_message", {"message_id": "A" * MB}, "message_id"),
    ("1 MB page link", "list_messages", {"page_link": G + "/me/messages?" + "a" * MB}, "page_link"),
    ("CR in page link", "list_messages", {"page_link": G + "/me/messages\r\nX: y"}, "page_link"),
    ("NUL in page link", "list_messages", {"page_link": G + "/me/\x00"}, "page_link"),
    ("non-ASCII header name", "raw_request", {"path": "/me", "headers": {"Pr\u00e9fer": "x"}}, "headers"),
    ("non-ASCII header value", "raw_request", {"path": "/me", "headers": {"Prefer": "caf\u00e9"}}, "headers"),
    (
        "CRLF in a header value",
        "raw_request",
        {"method": "POST", "path": "/me/sendMail", "body": {}, "headers": {"X-Note": "a\r\nInjected: yes"}},
        "headers",
    ),
    (
        "dot-dot in raw path",
        "raw_request",
        {"method": "DELETE", "path": "/me/messages/x/attachments/.."},
        "path",
    ),
    ("encoded dot-dot in raw path", "raw_request", {"path": "/me/messages/%2E%2e"}, "path"),
    ("dot-dot in a link path", "raw_request", {"path": G + "/me/messages/../../users"}, "path"),
    (
        "dot-dot in a batch url",
        "batch_request",
        {"requests": [{"id": "1", "method": "DELETE", "url": "/me/messages/x/attachments/.."}]},
        "requests",
    ),
    (
        "CRLF in a batch header",
        "batch_request",
        {"requests": [{"id": "1", "url": "/me", "headers": {"X": "a\r\nb"}}]},
        "requests",
    ),
    ("non-ASCII time zone", "list_events", {"time_zone": "Europe/Z\u00fcrich"}, "time_zone"),
    ("quote in time zone", "list_events", {"time_zone": 'UTC", IdType="ImmutableId'}, "time_zone"),
    ("control character in time zone", "list_events", {"time_zone": "UTC\x01"}, "time_zone"),
    (
        "huge expiration_minutes",
        "create_subscription",
        {
            "resource": "me/messages",
            "change_types": ["created"],
            "notification_url": "https://hooks.example.com/x",
            "expiration_minutes": 10**30,
        },
        "expiration_minutes",
    ),
    (
        "raw body nested 1000 deep",
        "raw_request",
        {"method": "POST", "path": "/me/events", "body": _nested(1000)},
        "body",
    ),
    ("any value nested 1000 deep", "list_messages", {"select": _nested(1000)}, "select"),
]


@pytest.mark.parametrize(("action", "data", "field"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_an_input_error_naming_the_field_and_nothing_is_sent(
    runtime: Runtime,
    graph: FakeGraph,
    connection: StaticConnection,
    action: str,
    data: dict[str, Any],
    field: str,
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_action(action, data, connection)
    assert graph.requests == []
    assert any(e.path.split("[")[0].split(".")[0] == field for e in caught.value.errors), caught.value.errors
    assert len(str(caught.value)) < 2000, "the error repeats a huge value"


def test_the_issue_s_example_message(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_action("delete_attachment", {"message_id": MESSAGE, "attachment_id": ".."}, connection)
    assert str(caught.value.errors[0]).startswith("attachment_id: is not a valid id")


def test_an_id_from_the_connection_that_would_leave_its_segment_is_refused_where_the_path_is_built(
    runtime: Runtime, graph: FakeGraph
) -> None:
    """The connection's default mailbox is no input field: the refusal comes from the path builder."""
    connection = StaticConnection(default_mailbox="..")
    with pytest.raises(InputValidationError) as caught:
        runtime.run_action("list_messages", {}, connection)
    assert graph.requests == []
    assert "is not a valid id" in str(caught.value)


def test_list_child_folders_answer_without_an_id_is_a_graph_error(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    from connector.errors import GraphError

    with pytest.raises(GraphError) as caught:
        runtime.run_action("list_child_folders", {"folder_id": "inbox", "include_paths": True}, connection)
    assert caught.value.code == "InvalidResponse"
