"""Subscription actions end to end on the sandbox (both connection types): what Graph then holds, and
the notifications that really arrive at a listener."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from actions._subscriptions import parse_graph_time
from connections.base import Connection
from connector.errors import GraphError, InputValidationError
from connector.runtime import Runtime
from sandbox import seed
from sandbox.server import SandboxServer
from tests.support.listener import Listener


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


def held(server: SandboxServer) -> list[dict[str, object]]:
    """What the sandbox holds (every app and user), straight from its state."""
    return server.state.subscriptions.list()


def minutes_left(subscription: dict[str, object]) -> float:
    expiry = parse_graph_time(str(subscription["expirationDateTime"]))
    return (expiry - datetime.now(UTC)).total_seconds() / 60


def test_create_get_list_and_delete(
    runtime: Runtime, connection: Connection, server: SandboxServer, listener: Listener
) -> None:
    created = runtime.run_action(
        "create_subscription",
        {
            "resource": "me/mailFolders('inbox')/messages",
            "change_types": ["created", "updated"],
            "notification_url": listener.url + "/notify",
            "lifecycle_notification_url": listener.url + "/lifecycle",
            "client_state": "s3cret-client-state",
            "expiration_minutes": 60,
        },
        connection,
    )
    assert created["changeTypes"] == ["created", "updated"] and created["hasClientState"] is True
    assert "clientState" not in created and not created["expirationCapped"]
    assert 55 < minutes_left(created) <= 60
    [stored] = held(server)
    assert stored["id"] == created["id"] and stored["clientState"] == "s3cret-client-state"
    if connection.app_only:  # `me/` is the connection's mailbox: app-only has no /me
        assert str(stored["resource"]).lower().startswith(f"users/{seed.DEFAULT_USER}".lower())
    assert {r.path for r in listener.validations()} == {"/notify", "/lifecycle"}

    got = runtime.run_action("get_subscription", {"subscription_id": created["id"]}, connection)
    assert got["id"] == created["id"] and got["notificationUrl"] == listener.url + "/notify"
    listed = runtime.run_action("list_subscriptions", {"resource_contains": "INBOX"}, connection)
    assert [s["id"] for s in listed["subscriptions"]] == [created["id"]]
    assert runtime.run_action("list_subscriptions", {"resource_contains": "events"}, connection)["count"] == 0

    out = runtime.run_action("delete_subscription", {"subscription_id": created["id"]}, connection)
    assert out == {"deleted": True, "id": created["id"]}
    assert held(server) == []
    with pytest.raises(GraphError) as gone:
        runtime.run_action("get_subscription", {"subscription_id": created["id"]}, connection)
    assert gone.value.status == 404


def test_a_subscription_delivers_notifications(
    runtime: Runtime, connection: Connection, server: SandboxServer, listener: Listener
) -> None:
    runtime.run_action(
        "create_mail_folder_subscription",
        {"folder_id": "inbox", "change_types": ["created"], "notification_url": listener.url},
        connection,
    )
    sent = runtime.run_action(
        "send_message", {"to": [seed.DEFAULT_USER], "subject": "ping", "body": "hello"}, connection
    )
    assert sent["sent"]
    assert listener.wait_for(lambda: len(listener.items()) >= 1)
    [item] = listener.items()
    assert item["changeType"] == "created" and "/messages/" in item["resource"].lower()


def test_expiry_is_capped_at_the_resource_maximum(
    runtime: Runtime, connection: Connection, listener: Listener
) -> None:
    created = runtime.run_action(
        "create_subscription",
        {
            "resource": "me/events",
            "change_types": ["deleted"],
            "notification_url": listener.url,
            "expiration_minutes": 100_000,
        },
        connection,
    )
    assert created["expirationCapped"] is True
    assert 4200 < minutes_left(created) <= 4230
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    renewed = runtime.run_action(
        "update_subscription", {"subscription_id": created["id"], "expiration_date_time": later}, connection
    )
    assert renewed["expirationCapped"] is True and 4200 < minutes_left(renewed) <= 4230


def test_event_subscription_is_reused_only_when_resource_types_and_url_all_match(
    runtime: Runtime, connection: Connection, server: SandboxServer, listener: Listener
) -> None:
    first = runtime.run_action(
        "create_event_subscription", {"notification_url": listener.url, "expiration_minutes": 30}, connection
    )
    assert first["reused"] is False and first["changeTypes"] == ["created", "deleted", "updated"]
    again = runtime.run_action(
        "create_event_subscription",
        {"notification_url": listener.url, "change_types": ["updated", "deleted", "created"]},
        connection,
    )
    assert again["reused"] is True and again["id"] == first["id"]
    assert minutes_left(again) > 4000, "reusing renews to the maximum"
    assert len(held(server)) == 1

    other_types = runtime.run_action(
        "create_event_subscription",
        {"notification_url": listener.url, "change_types": ["created"]},
        connection,
    )
    calendars = runtime.run_action("list_calendars", {}, connection)["calendars"]
    second_calendar = next(c["id"] for c in calendars if c["name"] == "Project Harbor")
    other_calendar = runtime.run_action(
        "create_event_subscription",
        {"notification_url": listener.url, "calendar_id": second_calendar},
        connection,
    )
    other_url = runtime.run_action(
        "create_event_subscription", {"notification_url": listener.url + "/b"}, connection
    )
    ids = {first["id"], other_types["id"], other_calendar["id"], other_url["id"]}
    assert len(ids) == 4 and not any(s["reused"] for s in (other_types, other_calendar, other_url))
    assert {str(s["id"]) for s in held(server)} == ids


def test_mail_folder_subscription_takes_any_folder(
    runtime: Runtime, connection: Connection, server: SandboxServer, listener: Listener
) -> None:
    inbox = runtime.run_action(
        "create_mail_folder_subscription", {"notification_url": listener.url}, connection
    )
    sent = runtime.run_action(
        "create_mail_folder_subscription",
        {"notification_url": listener.url, "folder_id": "sentitems"},
        connection,
    )
    assert inbox["id"] != sent["id"] and not inbox["reused"] and not sent["reused"]
    resources = sorted(str(s["resource"]).lower() for s in held(server))
    assert any("mailfolders('inbox')" in r for r in resources)
    assert any("mailfolders('sentitems')" in r for r in resources)
    repeat = runtime.run_action(
        "create_mail_folder_subscription",
        {"notification_url": listener.url, "folder_id": "sentitems"},
        connection,
    )
    assert repeat["reused"] and repeat["id"] == sent["id"] and len(held(server)) == 2


def test_update_renews_and_moves_and_reauthorize(
    runtime: Runtime, connection: Connection, server: SandboxServer, listener: Listener
) -> None:
    created = runtime.run_action(
        "create_event_subscription", {"notification_url": listener.url, "expiration_minutes": 10}, connection
    )
    renewed = runtime.run_action(
        "update_event_subscription_expiration", {"subscription_id": created["id"]}, connection
    )
    assert minutes_left(renewed) > 4200 and not renewed["expirationCapped"]
    assert minutes_left(held(server)[0]) > 4200

    with Listener() as other:
        moved = runtime.run_action(
            "update_subscription",
            {"subscription_id": created["id"], "notification_url": other.url},
            connection,
        )
        assert moved["notificationUrl"] == other.url and other.validations()
    assert held(server)[0]["notificationUrl"] == other.url

    out = runtime.run_action("reauthorize_subscription", {"subscription_id": created["id"]}, connection)
    assert out == {"reauthorized": True, "id": created["id"]}


def test_delete_all_instance_subscriptions_deletes_only_that_url(
    runtime: Runtime, connection: Connection, server: SandboxServer, listener: Listener
) -> None:
    flow = listener.url + "/flow-1"
    mine = [
        runtime.run_action("create_mail_folder_subscription", {"notification_url": flow}, connection)["id"],
        runtime.run_action("create_event_subscription", {"notification_url": flow}, connection)["id"],
    ]
    kept = runtime.run_action(
        "create_event_subscription", {"notification_url": listener.url + "/flow-2"}, connection
    )

    out = runtime.run_action("delete_all_instance_subscriptions", {"notification_url": flow}, connection)
    assert out["deleted"] == 2 and sorted(out["deleted_ids"]) == sorted(mine) and out["failed"] == []
    assert [s["id"] for s in held(server)] == [kept["id"]]
    again = runtime.run_action("delete_all_instance_subscriptions", {"notification_url": flow}, connection)
    assert again == {"deleted": 0, "deleted_ids": [], "failed": []}


def test_a_notification_url_that_fails_validation_creates_nothing(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    with Listener(validation="wrong") as bad, pytest.raises(GraphError) as refused:
        runtime.run_action(
            "create_subscription",
            {"resource": "me/messages", "change_types": ["created"], "notification_url": bad.url},
            connection,
        )
    assert refused.value.status == 400 and held(server) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"notification_url": "http://hooks.example.com/x"}, "notification_url"),
        ({"notification_url": "/relative"}, "notification_url"),
        ({"change_types": ["created", "created"]}, "change_types"),
        ({"change_types": []}, "change_types"),
        ({"change_types": ["moved"]}, "change_types[0]"),
        ({"client_state": "x" * 129}, "client_state"),
        ({"expiration_minutes": 0}, "expiration_minutes"),
        ({"expiration_date_time": "2020-01-01T00:00:00Z"}, "expiration_date_time"),
        ({"expiration_date_time": "tomorrow"}, "expiration_date_time"),
        ({"include_resource_data": True}, "encryption_certificate"),
        ({"encryption_certificate_id": "k1"}, "include_resource_data"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    runtime: Runtime, connection: Connection, server: SandboxServer, change: dict[str, object], field: str
) -> None:
    server.state.request_log.clear()
    params = {
        "resource": "me/messages",
        "change_types": ["created"],
        "notification_url": "https://h.example.com",
    }
    with pytest.raises(InputValidationError) as refused:
        runtime.run_action("create_subscription", {**params, **change}, connection)
    assert field in [e.path for e in refused.value.errors], refused.value.errors
    assert not [r for r in server.state.request_log if "/subscriptions" in r.path]


def test_the_sandbox_webhook_inbox_receives_notifications(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    """`/_sandbox/webhooks/{name}` is a notification endpoint to try subscriptions without a listener."""
    inbox = server.url + "/_sandbox/webhooks/try"
    runtime.run_action("create_mail_folder_subscription", {"notification_url": inbox}, connection)
    runtime.run_action(
        "send_message", {"to": [seed.DEFAULT_USER], "subject": "ping", "body": "hi"}, connection
    )
    server.state.subscriptions.deliver_pending()
    received = httpx.get(inbox).json()["received"]
    assert [item["changeType"] for body in received for item in body["value"]] == ["created"]
