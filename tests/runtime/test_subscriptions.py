"""Subscription actions at the HTTP boundary (Graph's answers scripted): expiry arithmetic, reuse,
the app-only mailbox, partial failures and what never leaves the connector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from actions._subscriptions import expiry, max_minutes, parse_graph_time
from connector.runtime import Runtime
from tests.runtime.conftest import FakeGraph
from tests.support.connections import StaticConnection

URL = "https://hooks.example.com/outlook"


def subscription(
    sub_id: str, resource: str, change_type: str, url: str = URL, **extra: Any
) -> dict[str, Any]:
    return {
        "id": sub_id,
        "resource": resource,
        "changeType": change_type,
        "notificationUrl": url,
        "expirationDateTime": "2026-11-24T10:00:00.1234567Z",
        "clientState": "the-secret",
        **extra,
    }


def test_graph_times_with_seven_fractional_digits_and_offsets() -> None:
    assert parse_graph_time("2026-11-24T10:00:00.1234567Z") == datetime(2026, 11, 24, 10, 0, 0, 123456, UTC)
    assert parse_graph_time("2026-11-24T12:00:00+02:00") == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    assert parse_graph_time("2026-11-24T10:00:00") == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def test_expiry_is_the_maximum_less_a_margin_and_longer_asks_are_capped() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert max_minutes("me/messages") == 4230 and max_minutes("me/events", True) == 1440
    assert max_minutes("users") == 41760
    default = expiry("me/messages", False, now=now)
    assert default.moment == now + timedelta(minutes=4225) and not default.capped
    assert expiry("me/messages", False, minutes=90, now=now) == expiry(
        "me/messages", False, minutes=90, now=now
    )
    assert expiry("me/messages", False, minutes=90, now=now).moment == now + timedelta(minutes=90)
    rich = expiry("me/messages", True, minutes=4000, now=now)
    assert rich.capped and rich.moment == now + timedelta(minutes=1435)
    at = expiry("me/messages", False, at="2026-12-30T00:00:00Z", now=now)
    assert at.capped and at.moment == default.moment


def test_reuse_renews_the_same_resource_types_and_url_and_creates_otherwise(
    runtime: Runtime, graph: FakeGraph
) -> None:
    existing = [
        subscription(
            "same-url-other-folder", "me/mailFolders('archive')/messages", "created,updated,deleted"
        ),
        subscription("same-folder-other-types", "me/mailFolders('inbox')/messages", "created"),
        subscription("the-one", "/Me/MailFolders('Inbox')/Messages", "deleted,created,updated"),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"value": existing})
        if request.method == "PATCH":
            return httpx.Response(200, json={**existing[2], **_json(request)})
        return httpx.Response(201, json=subscription("new", "me/mailFolders('inbox')/messages", "updated"))

    graph.handler = answer
    reused = runtime.run_action(
        "create_mail_folder_subscription", {"notification_url": URL}, StaticConnection()
    )
    assert reused["reused"] and reused["id"] == "the-one"
    assert [r.method for r in graph.requests] == ["GET", "PATCH"]
    assert graph.requests[1].url.path == "/v1.0/subscriptions/the-one"

    graph.requests.clear()
    created = runtime.run_action(
        "create_mail_folder_subscription",
        {"notification_url": URL, "change_types": ["updated"]},
        StaticConnection(),
    )
    assert not created["reused"] and created["id"] == "new"
    assert [r.method for r in graph.requests] == ["GET", "POST"]
    assert graph.body()["changeType"] == "updated"


def test_reuse_of_a_subscription_that_expired_meanwhile_creates_a_new_one(
    runtime: Runtime, graph: FakeGraph
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(
                200, json={"value": [subscription("old", "me/events", "created,updated,deleted")]}
            )
        if request.method == "PATCH":
            return httpx.Response(404, json={"error": {"code": "ResourceNotFound", "message": "gone"}})
        return httpx.Response(201, json=subscription("fresh", "me/events", "created,updated,deleted"))

    graph.handler = answer
    out = runtime.run_action("create_event_subscription", {"notification_url": URL}, StaticConnection())
    assert out["id"] == "fresh" and out["reused"] is False
    assert [r.method for r in graph.requests] == ["GET", "PATCH", "POST"]


def test_app_only_resources_name_the_mailbox_and_client_state_never_comes_back(
    runtime: Runtime, graph: FakeGraph
) -> None:
    graph.handler = lambda request: (
        httpx.Response(200, json={"value": []})
        if request.method == "GET"
        else httpx.Response(201, json={**_json(request), "id": "s1"})
    )
    app = StaticConnection(app_only=True, default_mailbox="ops@contoso.com")
    out = runtime.run_action(
        "create_subscription",
        {
            "resource": "/me/mailFolders('inbox')/messages",
            "change_types": ["created"],
            "notification_url": URL,
            "client_state": "the-secret",
        },
        app,
    )
    sent = graph.body()
    assert sent["resource"] == "users/ops@contoso.com/mailFolders('inbox')/messages"
    assert sent["clientState"] == "the-secret"
    assert "the-secret" not in str(out) and out["hasClientState"] is True
    event = runtime.run_action(
        "create_event_subscription", {"notification_url": URL, "user_id": "room-1@contoso.com"}, app
    )
    assert graph.body()["resource"] == "users/room-1@contoso.com/events" and event["reused"] is False


def test_delete_all_counts_gone_ones_and_reports_each_failure(runtime: Runtime, graph: FakeGraph) -> None:
    listed = [
        subscription("a", "me/events", "created"),
        subscription("gone", "me/events", "updated"),
        subscription("locked", "me/messages", "created"),
        subscription("other", "me/messages", "created", url=URL + "/other"),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            if request.url.params.get("page") == "2":
                return httpx.Response(200, json={"value": listed[2:]})
            next_link = "https://graph.microsoft.com/v1.0/subscriptions?page=2"
            return httpx.Response(200, json={"value": listed[:2], "@odata.nextLink": next_link})
        name = request.url.path.rsplit("/", 1)[1]
        if name == "gone":
            return httpx.Response(404, json={"error": {"code": "ResourceNotFound", "message": "gone"}})
        if name == "locked":
            return httpx.Response(
                403, json={"error": {"code": "ExtensionError", "message": "Access is denied."}}
            )
        return httpx.Response(204)

    graph.handler = answer
    out = runtime.run_action(
        "delete_all_instance_subscriptions", {"notification_url": URL}, StaticConnection()
    )
    assert out["deleted"] == 2 and out["deleted_ids"] == ["a", "gone"]
    assert [f["id"] for f in out["failed"]] == ["locked"] and "Access is denied" in out["failed"][0]["error"]
    deleted_paths = [r.url.path for r in graph.requests if r.method == "DELETE"]
    assert deleted_paths == [
        "/v1.0/subscriptions/a",
        "/v1.0/subscriptions/gone",
        "/v1.0/subscriptions/locked",
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"subscription_id": "s1"},
        {"subscription_id": "s1", "expiration_minutes": 5, "expiration_date_time": "2099-01-01T00:00:00Z"},
    ],
)
def test_update_needs_exactly_one_expiry_or_a_url(
    runtime: Runtime, graph: FakeGraph, params: dict[str, Any]
) -> None:
    from connector.errors import InputValidationError

    with pytest.raises(InputValidationError):
        runtime.run_action("update_subscription", params, StaticConnection())
    assert graph.requests == []


def _json(request: httpx.Request) -> dict[str, Any]:
    import json

    body: dict[str, Any] = json.loads(request.content)
    return body
