"""Trigger instance lifecycle against a served sandbox and the real receiver: enable (validation
handshake, clientState, lifecycle URL, maximum expiry, cursor before subscription), renew (PATCH;
recreate + delta catch-up on 404; the background renewer), lifecycle events
(reauthorizationRequired, subscriptionRemoved, missed), disable."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.errors import ConnectorError, InputValidationError
from tests.triggers.harness import Harness, harness
from triggers.service import RenewReport
from triggers.worker import Worker

TRIGGER = "mail_message_webhook"
INBOX = {"folder_id": "inbox", "change_types": ["created", "updated", "deleted"]}


@pytest.fixture(params=["delegated", "app"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path, request.param) as made:
        yield made


@pytest.fixture
def user_rig(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as made:
        yield made


def _ids(rig: Harness, change_type: str | None = None) -> list[str]:
    return [e.resource_id for e in rig.host.events if change_type is None or e.change_type == change_type]


def test_enable_subscribes_with_the_instance_secret_and_urls(rig: Harness) -> None:
    instance = rig.service.enable(TRIGGER, rig.connection.name, INBOX)

    [subscription] = rig.hub.list()
    assert subscription["clientState"] == instance.client_state
    assert len(instance.client_state) >= 43  # 32 random bytes, URL-safe base64
    assert subscription["notificationUrl"] == f"{rig.public_url}/hooks/{instance.id}/notifications"
    assert subscription["lifecycleNotificationUrl"] == f"{rig.public_url}/hooks/{instance.id}/lifecycle"
    assert subscription["changeType"] == "created,updated,deleted"
    expires = datetime.fromisoformat(subscription["expirationDateTime"].replace("0Z", "+00:00"))
    lifetime = expires - datetime.now(UTC)
    assert timedelta(minutes=4200) < lifetime <= timedelta(minutes=4230)
    [watch] = instance.state["watches"]
    assert watch["subscription_id"] == subscription["id"]
    assert watch["cursor"]  # the delta cursor, taken before the subscription
    assert instance.status == "active"
    stored = rig.store.get_trigger_instance(instance.id)
    assert stored is not None and stored.state == instance.state


def test_changes_after_enable_reach_the_host_once_each(rig: Harness) -> None:
    instance = rig.service.enable(TRIGGER, rig.connection.name, INBOX)
    created = rig.create_message("hello trigger")
    assert rig.flush() == 1
    updated = rig.update_message(created["id"], isRead=True)
    assert rig.flush() == 1
    rig.delete_message(created["id"])
    assert rig.flush() == 1

    first, second, third = rig.host.events
    assert (first.change_type, first.resource_id, first.source) == ("created", created["id"], "webhook")
    assert first.resource is not None and first.resource["subject"] == "hello trigger"
    assert first.instance_id == instance.id and first.trigger_key == TRIGGER
    assert second.change_type == "updated" and second.resource is not None
    assert second.resource["changeKey"] == updated["changeKey"] and second.resource["isRead"] is True
    assert (third.change_type, third.resource_id, third.resource) == ("deleted", created["id"], None)
    assert rig.store.pending_notification_count() == 0
    # the same notifications again (Graph may send one twice): nothing new reaches the host
    rig.store.enqueue_notifications(
        instance.id,
        "change",
        [
            {
                "subscriptionId": instance.state["watches"][0]["subscription_id"],
                "changeType": "deleted",
                "resource": f"Users/x/Messages/{created['id']}",
                "resourceData": {"id": created["id"]},
                "clientState": instance.client_state,
            }
        ],
    )
    rig.service.process_all()
    assert len(rig.host.events) == 3


def test_bad_input_names_the_field_before_any_subscription(user_rig: Harness) -> None:
    with pytest.raises(InputValidationError) as caught:
        user_rig.service.enable(TRIGGER, user_rig.connection.name, {"folder_id": 42})
    assert "folder_id" in str(caught.value)
    assert user_rig.hub.list() == []
    assert user_rig.store.list_trigger_instances() == []


def test_a_polling_trigger_is_not_enabled_with_subscriptions(user_rig: Harness) -> None:
    with pytest.raises(ConnectorError, match="triggers poll poll_changes"):
        user_rig.service.enable("poll_changes", user_rig.connection.name, {"folder_id": "inbox"})
    assert user_rig.hub.list() == []
    assert user_rig.store.list_trigger_instances() == []


def test_a_failed_validation_leaves_nothing_behind(user_rig: Harness) -> None:
    user_rig.gate.down = True  # the receiver cannot answer Graph's validation request
    with pytest.raises(Exception, match="validation"):
        user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    assert user_rig.hub.list() == []
    assert user_rig.store.list_trigger_instances() == []


def test_renew_patches_subscriptions_due_and_leaves_the_others(user_rig: Harness) -> None:
    instance = user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    before = instance.state["watches"][0]["expires_at"]

    assert user_rig.service.renew_due(margin=timedelta(hours=1)).renewed == []  # not due

    user_rig.clock.advance(60)  # the new expiry is counted from a later now
    report = user_rig.service.renew_due(margin=timedelta(days=3))
    [sub_id] = user_rig.subscription_ids()
    assert report.renewed == [sub_id] and report.recreated == [] and report.failed == {}
    after = user_rig.store.get_trigger_instance(instance.id)
    assert after is not None
    assert after.state["watches"][0]["expires_at"] >= before


def test_an_expired_subscription_is_recreated_and_caught_up_by_delta(rig: Harness) -> None:
    instance = rig.service.enable(TRIGGER, rig.connection.name, INBOX)
    [old_id] = rig.subscription_ids()
    rig.hub.expire(old_id)
    unseen = rig.create_message("made while no subscription existed")
    assert rig.flush() == 0  # nothing notified it

    report = rig.service.renew_due(margin=timedelta(days=3))

    [new_id] = rig.subscription_ids()
    assert new_id != old_id and report.recreated == [new_id] and report.caught_up == 1
    [event] = rig.host.events
    assert (event.resource_id, event.source) == (unseen["id"], "delta")
    later = rig.create_message("after the recreation")
    assert rig.flush() == 1
    assert _ids(rig)[-1] == later["id"]
    stored = rig.store.get_trigger_instance(instance.id)
    assert stored is not None and stored.state["watches"][0]["subscription_id"] == new_id


def test_reauthorization_required_is_answered(user_rig: Harness) -> None:
    user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    [sub_id] = user_rig.subscription_ids()
    assert user_rig.hub.send_lifecycle(sub_id, "reauthorizationRequired")
    sub = user_rig.hub.get(sub_id)
    assert sub is not None and sub.reauthorization_required

    user_rig.service.process_all()

    sub = user_rig.hub.get(sub_id)
    assert sub is not None and not sub.reauthorization_required
    assert [r.path for r in user_rig.server.state.request_log if r.path.endswith("/reauthorize")]


def test_subscription_removed_recreates_and_catches_up(user_rig: Harness) -> None:
    user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    [old_id] = user_rig.subscription_ids()
    assert user_rig.hub.send_lifecycle(old_id, "subscriptionRemoved")
    gap = user_rig.create_message("while the subscription was removed")

    user_rig.service.process_all()

    [new_id] = user_rig.subscription_ids()
    assert new_id != old_id
    assert [(e.resource_id, e.source) for e in user_rig.host.events] == [(gap["id"], "delta")]


def test_missed_catches_up_by_delta(user_rig: Harness) -> None:
    user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    user_rig.gate.down = True
    lost = user_rig.create_message("lost notification")
    for _ in range(5):  # notification_max_attempts: then the batch is dropped
        user_rig.deliver()
    assert user_rig.hub.pending_count() == 0
    user_rig.gate.down = False
    [sub_id] = user_rig.subscription_ids()
    assert user_rig.hub.send_lifecycle(sub_id, "missed")

    user_rig.service.process_all()

    assert [(e.resource_id, e.change_type, e.source) for e in user_rig.host.events] == [
        (lost["id"], "created", "delta")
    ]


def test_disable_deletes_the_subscription_and_the_state(rig: Harness) -> None:
    instance = rig.service.enable(TRIGGER, rig.connection.name, INBOX)
    assert rig.service.disable(instance.id) is True
    assert rig.hub.list() == []
    assert rig.store.get_trigger_instance(instance.id) is None
    assert rig.service.disable(instance.id) is False


def test_disable_when_the_subscription_is_already_gone(user_rig: Harness) -> None:
    instance = user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    [sub_id] = user_rig.subscription_ids()
    user_rig.hub.expire(sub_id)
    assert user_rig.service.disable(instance.id) is True
    assert user_rig.store.get_trigger_instance(instance.id) is None


def test_calendar_events_trigger_end_to_end(rig: Harness) -> None:
    rig.service.enable("calendar_event_webhook", rig.connection.name, {})
    [subscription] = rig.hub.list()
    assert subscription["resource"].lower().endswith("events")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    body = {
        "subject": "trigger planning",
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
    }
    created = rig.graph.post("/me/events", json=body)
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    assert rig.flush() == 1
    assert rig.graph.delete(f"/me/events/{event_id}").status_code == 204
    rig.flush()
    assert [(e.change_type, e.resource_id, e.item_kind) for e in rig.host.events] == [
        ("created", event_id, "event"),
        ("deleted", event_id, "event"),
    ]
    assert rig.host.events[0].resource is not None
    assert rig.host.events[0].resource["subject"] == "trigger planning"


def test_renew_leaves_polling_instances_alone(user_rig: Harness) -> None:
    from triggers import polling

    polled = polling.create_instance(
        user_rig.store, user_rig.runtime, "poll_changes", user_rig.connection.name, {"folder_id": "inbox"}
    )
    report = user_rig.service.renew_due(margin=timedelta(days=3))
    assert report.to_json() == {"renewed": [], "recreated": [], "caught_up": 0, "failed": {}, "pruned": 0}
    assert user_rig.hub.list() == []
    assert user_rig.store.get_trigger_instance(polled.id) is not None


def test_reauthorization_falls_back_to_renewing_when_reauthorize_fails(user_rig: Harness) -> None:
    instance = user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    [sub_id] = user_rig.subscription_ids()
    user_rig.server.state.set_faults(
        {"503": 1.0}, paths=("/v1.0/subscriptions/*/reauthorize",), methods=("POST",)
    )
    assert user_rig.hub.send_lifecycle(sub_id, "reauthorizationRequired")

    user_rig.service.process_all()

    patches = [r for r in user_rig.server.state.request_log if r.method == "PATCH" and sub_id in r.path]
    assert len(patches) == 1 and user_rig.server.state.faults.log  # reauthorize failed, PATCH renewed
    sub = user_rig.hub.get(sub_id)
    assert sub is not None and not sub.reauthorization_required
    stored = user_rig.store.get_trigger_instance(instance.id)
    assert stored is not None
    assert stored.state["watches"][0]["expires_at"] > instance.state["watches"][0]["expires_at"]


def test_the_background_renewer_renews_at_start_and_every_interval_and_outlives_a_failed_pass(
    user_rig: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    instance = user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    [sub_id] = user_rig.subscription_ids()
    reports: list[RenewReport] = []
    three_passes = threading.Event()

    def renewed(report: RenewReport) -> None:
        reports.append(report)
        user_rig.clock.advance(60)  # each pass counts its new expiry from a later now
        if len(reports) == 1:
            raise RuntimeError("the host's callback failed once")
        if len(reports) == 3:
            three_passes.set()

    worker = Worker(user_rig.service, renew_every=0.01, renew_margin=timedelta(days=3), on_renewed=renewed)
    worker.start(process=False)  # as `serve` and `triggers worker` run it
    try:
        assert three_passes.wait(30), "the renewer did not run three passes"
    finally:
        worker.stop()
    assert [report.renewed for report in reports[:3]] == [[sub_id]] * 3
    assert "renewing trigger subscriptions failed" in caplog.text  # logged, and the loop went on
    after = user_rig.store.get_trigger_instance(instance.id)
    assert after is not None
    assert after.state["watches"][0]["expires_at"] > instance.state["watches"][0]["expires_at"]


def test_renewal_skips_an_instance_another_worker_holds_and_rereads_it_after(user_rig: Harness) -> None:
    from triggers.service import renewal_lease_name

    held = user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    free = user_rig.service.enable(TRIGGER, user_rig.connection.name, {"folder_id": "sentitems"})
    lease = renewal_lease_name(held.id)
    assert user_rig.store.acquire_lease(lease, "another-worker", 600)

    report = user_rig.service.renew_due(margin=timedelta(days=3))
    free_sub = user_rig.store.get_trigger_instance(free.id)
    assert free_sub is not None
    assert report.renewed == [free_sub.state["watches"][0]["subscription_id"]]  # not the held one
    assert report.skipped == [held.id] and user_rig.store.lease_holder(lease) == "another-worker"

    assert user_rig.store.release_lease(lease, "another-worker")
    report = user_rig.service.renew_due(margin=timedelta(days=3))
    assert len(report.renewed) == 2 and report.skipped == []
    assert user_rig.store.lease_holder(lease) is None  # released after the renewal


def test_the_periodic_catch_up_skips_an_instance_another_worker_holds(user_rig: Harness) -> None:
    from triggers.service import renewal_lease_name

    instance = user_rig.service.enable(TRIGGER, user_rig.connection.name, INBOX)
    lease = renewal_lease_name(instance.id)
    assert user_rig.store.acquire_lease(lease, "another-worker", 600)
    assert user_rig.service.catch_up_due(timedelta(0)) == {}  # the other worker is on it
    assert user_rig.store.release_lease(lease, "another-worker")
    assert user_rig.service.catch_up_due(timedelta(0)) == {instance.id: 0}
    assert user_rig.store.lease_holder(lease) is None
