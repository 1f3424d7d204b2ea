"""Subscription actions aimed at a webhook trigger instance (``trigger_instance_id``): the subscription
gets the instance's URL and clientState (never shown), the `webhook` trigger delivers what it
reports, List Subscriptions shows the instance's subscriptions and Delete All Instance
Subscriptions removes the ones made for it, all without typing the instance's URL. On the sandbox
with the real receiver and processor (tests/triggers/harness), both connection types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.errors import InputValidationError
from connector.policy import PRESETS
from connector.store import TriggerInstance
from tests.triggers.harness import Harness, harness
from triggers.lifecycle import Endpoints


@pytest.fixture(params=["delegated", "app"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path, request.param) as made:
        # subscription actions are admin, disabled by the default policy: this host allows them
        made.store.set_policy(made.connection.name, PRESETS["open"].to_dict())
        yield made


def _enable(rig: Harness, key: str = "webhook") -> TriggerInstance:
    config = {"resource": "messages", "folder_id": "inbox"} if key == "webhook" else {"folder_id": "inbox"}
    return rig.service.enable(key, rig.connection.name, config)


def _drafts_subscription(rig: Harness, instance_id: str) -> dict[str, object]:
    return rig.runtime.run_action(
        "create_mail_folder_subscription",
        {"folder_id": "drafts", "change_types": ["created"], "trigger_instance_id": instance_id},
        rig.connection,
    )


def test_a_subscription_made_for_the_instance_is_delivered_by_it(rig: Harness) -> None:
    instance = _enable(rig)
    created = _drafts_subscription(rig, instance.id)
    url = Endpoints.for_instance(rig.public_url, instance.id).notification_url
    assert created["notificationUrl"] == url and created["hasClientState"] is True
    assert "clientState" not in created and instance.client_state not in str(created)
    held = {s["id"]: s for s in rig.hub.list()}
    assert held[created["id"]]["clientState"] == instance.client_state

    made = rig.create_message("a draft the instance's own subscription does not watch", folder="drafts")
    assert rig.flush() >= 1
    [event] = [e for e in rig.host.events if e.resource_id == made["id"]]
    assert event.change_type == "created" and event.source == "webhook" and event.item_kind == "message"
    assert event.instance_id == instance.id and event.resource is not None
    assert event.resource["subject"] == made["subject"]


def test_list_and_delete_all_by_instance(rig: Harness) -> None:
    instance = _enable(rig)
    own = {w["subscription_id"] for w in instance.state["watches"]}
    made = _drafts_subscription(rig, instance.id)
    other = rig.runtime.run_action(
        "create_mail_folder_subscription",
        {"folder_id": "inbox", "notification_url": rig.server.url + "/_sandbox/webhooks/other"},
        rig.connection,
    )
    listed = rig.runtime.run_action(
        "list_subscriptions",
        {"show_instance_webhooks": True, "trigger_instance_id": instance.id},
        rig.connection,
    )
    assert {s["id"] for s in listed["subscriptions"]} == own | {made["id"]}
    everything = rig.runtime.run_action("list_subscriptions", {}, rig.connection)
    assert other["id"] in {s["id"] for s in everything["subscriptions"]}

    out = rig.runtime.run_action(
        "delete_all_instance_subscriptions", {"trigger_instance_id": instance.id}, rig.connection
    )
    assert out["deleted_ids"] == [made["id"]] and out["failed"] == []
    assert {s["id"] for s in rig.hub.list()} == own | {other["id"]}, "the trigger's own and others stay"


def _refused(rig: Harness, key: str, params: dict[str, object]) -> str:
    before = len(rig.server.state.request_log)
    with pytest.raises(InputValidationError) as info:
        rig.runtime.run_action(key, params, rig.connection)
    assert len(rig.server.state.request_log) == before, "nothing was sent to Graph"
    [error] = info.value.errors
    assert error.path == "trigger_instance_id"
    return error.reason


def test_instances_that_cannot_take_the_subscription_are_refused_before_any_request(rig: Harness) -> None:
    mail = _enable(rig, "mail_message_webhook")
    assert "own subscriptions" in _refused(
        rig, "create_mail_folder_subscription", {"trigger_instance_id": mail.id}
    )
    assert "not an enabled trigger instance" in _refused(
        rig, "create_event_subscription", {"trigger_instance_id": "no-such-instance"}
    )
    assert "not an enabled trigger instance" in _refused(
        rig, "delete_all_instance_subscriptions", {"trigger_instance_id": "no-such-instance"}
    )
    from triggers.polling import create_instance

    polling = create_instance(
        rig.store, rig.runtime, "poll_changes", rig.connection.name, {"folder_id": "inbox"}
    )
    assert "polling" in _refused(rig, "list_subscriptions", {"trigger_instance_id": polling.id})
    # another connection's instance
    webhook = _enable(rig)
    rig.store.save_trigger_instance(
        TriggerInstance(
            "elsewhere-instance",
            "webhook",
            "another-connection",
            {},
            "x" * 43,
            state={"public_url": rig.public_url, "watches": []},
        )
    )
    assert "another connection" in _refused(
        rig,
        "create_subscription",
        {"resource": "me/messages", "change_types": ["created"], "trigger_instance_id": "elsewhere-instance"},
    )
    with pytest.raises(InputValidationError) as info:  # the secret is the instance's own
        rig.runtime.run_action(
            "create_mail_folder_subscription",
            {"trigger_instance_id": webhook.id, "client_state": "mine"},
            rig.connection,
        )
    assert [e.path for e in info.value.errors] == ["client_state"]
