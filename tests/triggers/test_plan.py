"""Trigger plans: what each trigger's input makes an instance watch, for a user and app-only, and
bad input named before any request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connections.base import Connection
from connections.client_credentials import ClientCredentialsConfig
from connections.oauth_code import OAuthCodeConfig
from connections.registry import create_connection
from connector.errors import InputValidationError
from connector.runtime import Runtime
from connector.store import Store
from triggers.definitions import calendar_window
from triggers.plan import TriggerPlan, Watch

GRAPH = {"graph_base_url": "https://graph.microsoft.com/v1.0", "client_id": "c" * 8, "tenant": "contoso.com"}


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with Runtime() as rt:
        yield rt


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db") as opened:
        yield opened


@pytest.fixture
def user(store: Store) -> Connection:
    return create_connection(store, "user", "oauth2_code", OAuthCodeConfig.model_validate(GRAPH))


@pytest.fixture
def app(store: Store) -> Connection:
    config = {**GRAPH, "client_secret": "s" * 12, "default_mailbox": "ops@contoso.com"}
    return create_connection(
        store, "app", "client_credentials", ClientCredentialsConfig.model_validate(config)
    )


def _plan(runtime: Runtime, key: str, config: dict[str, object], connection: Connection) -> TriggerPlan:
    plan = runtime.trigger_plan(key, config, connection)
    assert isinstance(plan, TriggerPlan)
    return plan


def test_mail_message_webhook_watches_one_folder(runtime: Runtime, user: Connection, app: Connection) -> None:
    plan = _plan(runtime, "mail_message_webhook", {"folder_id": "inbox"}, user)
    assert plan == TriggerPlan(
        (
            Watch(
                "me/mailFolders('inbox')/messages",
                ("created",),
                "message",
                "/me/mailFolders/inbox/messages/delta",
            ),
        )
    )
    shared = _plan(
        runtime,
        "mail_message_webhook",
        {"folder_id": "AAMk/x=", "user_id": "shared@contoso.com", "change_types": ["deleted", "created"]},
        app,
    ).watches[0]
    assert shared.resource == "users/shared%40contoso.com/mailFolders('AAMk%2Fx%3D')/messages"
    assert shared.delta_path == "/users/shared%40contoso.com/mailFolders/AAMk%2Fx%3D/messages/delta"
    assert shared.change_types == ("created", "deleted")  # Graph's order, whatever the input's
    default_mailbox = _plan(runtime, "mail_message_webhook", {}, app).watches[0]
    assert default_mailbox.resource == "users/ops%40contoso.com/mailFolders('inbox')/messages"


def test_calendar_event_webhook_watches_events_with_a_day_anchored_window(
    runtime: Runtime, user: Connection
) -> None:
    watch = _plan(runtime, "calendar_event_webhook", {"days_back": 2, "days_ahead": 10}, user).watches[0]
    assert (watch.resource, watch.item_kind, watch.delta_path) == (
        "me/events",
        "event",
        "/me/calendarView/delta",
    )
    assert watch.change_types == ("created", "updated", "deleted")
    assert dict(watch.delta_params) == calendar_window(2, 10)
    assert calendar_window(2, 10, datetime(2026, 3, 1, 17, 45, tzinfo=UTC)) == {
        "startDateTime": "2026-02-27T00:00:00Z",
        "endDateTime": "2026-03-11T00:00:00Z",
    }


def test_new_attachment_webhook_asks_for_attachments(runtime: Runtime, user: Connection) -> None:
    plan = _plan(runtime, "new_attachment_webhook", {"folder_id": "inbox"}, user)
    assert plan.only_with_attachments and plan.expand_attachments
    assert plan.watches[0].change_types == ("created",) and not plan.watches[0].include_resource_data


def test_generic_webhook_and_poll_changes(runtime: Runtime, user: Connection) -> None:
    rich = _plan(runtime, "webhook", {"resource": "events", "include_resource_data": True}, user).watches[0]
    assert rich.item_kind == "event" and rich.include_resource_data
    mail = _plan(runtime, "webhook", {"change_types": ["updated"]}, user).watches[0]
    assert mail.item_kind == "message" and mail.change_types == ("updated",)
    polled = _plan(runtime, "poll_changes", {"resource": "events"}, user).watches[0]
    assert (
        polled.item_kind == "event"
        and polled.change_types == ("created",)
        and not polled.include_resource_data
    )


@pytest.mark.parametrize(
    ("key", "config", "field"),
    [
        ("mail_message_webhook", {"folder_id": 42}, "folder_id"),
        ("mail_message_webhook", {"folder_id": ""}, "folder_id"),
        ("mail_message_webhook", {"change_types": []}, "change_types"),
        ("mail_message_webhook", {"change_types": ["moved"]}, "change_types"),
        ("mail_message_webhook", {"change_types": ["created", "created"]}, "change_types"),
        ("mail_message_webhook", {"mystery": 1}, "mystery"),
        ("calendar_event_webhook", {"days_ahead": 0}, "days_ahead"),
        ("calendar_event_webhook", {"days_back": -1}, "days_back"),
        ("webhook", {"resource": "contacts"}, "resource"),
        ("poll_changes", {"user_id": ""}, "user_id"),
    ],
)
def test_bad_input_names_its_field(
    runtime: Runtime, user: Connection, key: str, config: dict[str, object], field: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.trigger_plan(key, config, user)
    assert field in str(caught.value)


def test_watch_checks_itself() -> None:
    with pytest.raises(ValueError, match="leading slash"):
        Watch("/me/events", ("created",), "event", "/me/calendarView/delta")
    with pytest.raises(ValueError, match="change_types"):
        Watch("me/events", ("moved",), "event", "/me/calendarView/delta")
    watch = Watch("me/events", ("created",), "event", "/me/calendarView/delta", {"startDateTime": "a"})
    assert hash(watch) == hash(
        Watch("me/events", ("created",), "event", "/me/calendarView/delta", {"startDateTime": "a"})
    )


def test_item_path_is_the_mailbox_collection(runtime: Runtime, user: Connection, app: Connection) -> None:
    mail = _plan(runtime, "mail_message_webhook", {"folder_id": "archive"}, user).watches[0]
    assert mail.item_path("AAMk/1=") == "/me/messages/AAMk%2F1%3D"
    events = _plan(runtime, "calendar_event_webhook", {"user_id": "ann@contoso.com"}, app).watches[0]
    assert events.item_path("E1") == "/users/ann%40contoso.com/events/E1"
