"""Processing queued notifications: dedupe + deliver (``deliver_changes``, shared with polling),
enrichment by GET, items gone before processing, refusals retried with backoff in item order,
health, paused instances, unknown subscriptions, attachments."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.store import Store, TriggerInstance
from sandbox import seed
from tests.triggers.harness import Harness, harness
from triggers.delivery import CallbackDelivery, TriggerEvent, dedupe_key
from triggers.delta import Change
from triggers.processor import deliver_changes

INBOX = {"folder_id": "inbox", "change_types": ["created", "updated", "deleted"]}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as made:
        yield made


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db") as opened:
        yield opened


def _instance(store: Store, instance_id: str = "i" * 32) -> TriggerInstance:
    now = time.time()
    instance = TriggerInstance(
        instance_id, "mail_message_webhook", "nobody", INBOX, "s" * 43, created_at=now, updated_at=now
    )
    store.save_trigger_instance(instance)
    return instance


def _item(rig: Harness, instance: TriggerInstance, change_type: str, message_id: str) -> dict[str, Any]:
    return {
        "subscriptionId": instance.state["watches"][0]["subscription_id"],
        "changeType": change_type,
        "resource": f"Users/{seed.USERS[0]['id']}/Messages/{message_id}",
        "resourceData": {"id": message_id},
        "clientState": instance.client_state,
    }


# -- deliver_changes --------------------------------------------------------------------------------
def test_each_version_and_each_deletion_is_delivered_once(store: Store) -> None:
    instance = _instance(store)
    got: list[TriggerEvent] = []
    sink = CallbackDelivery(got.append)
    changes = [
        Change("created", "m1", "k1", {"id": "m1", "changeKey": "k1"}),
        Change("updated", "m1", "k2", {"id": "m1", "changeKey": "k2"}),
        Change("updated", "m1", "k1", {"id": "m1", "changeKey": "k1"}),  # a version already delivered
        Change("deleted", "m1", None, None),
        Change("deleted", "m1", None, None),
    ]
    assert deliver_changes(store, sink, instance, changes, "delta", item_kind="message") == 3
    assert [(e.change_type, e.resource_id, e.source) for e in got] == [
        ("created", "m1", "delta"),
        ("updated", "m1", "delta"),
        ("deleted", "m1", "delta"),
    ]
    assert got[0].item_kind == "message" and got[0].trigger_key == "mail_message_webhook"
    assert len({e.dedupe_key for e in got}) == 3
    assert deliver_changes(store, sink, instance, changes, "webhook") == 0  # all seen
    other = _instance(store, "j" * 32)  # dedupe is per instance
    assert deliver_changes(store, sink, other, changes[:1], "webhook") == 1


def test_a_creation_marked_before_the_nul_free_mark_still_counts(store: Store) -> None:
    """A SQLite store upgraded within the week may hold creation marks made with the former
    ``\\0created`` pseudo key: a later "created" of that item goes out as updated, not again as created."""
    instance = _instance(store)
    store.mark_delivered(instance.id, dedupe_key(instance.id, "m1", "created", "\0created"))
    got: list[TriggerEvent] = []
    changes = [
        Change("created", "m1", "k2", {"id": "m1", "changeKey": "k2"}),
        Change("created", "m2", "k1", {"id": "m2", "changeKey": "k1"}),
    ]
    assert deliver_changes(store, CallbackDelivery(got.append), instance, changes, "delta") == 2
    assert [(e.change_type, e.resource_id) for e in got] == [("updated", "m1"), ("created", "m2")]


def test_a_refused_change_is_not_marked_and_goes_out_on_the_next_try(store: Store) -> None:
    instance = _instance(store)
    got: list[str] = []

    def busy_on_m2(event: TriggerEvent) -> None:
        if event.resource_id == "m2":
            raise RuntimeError("host busy")
        got.append(event.resource_id)

    changes = [Change("created", f"m{i}", "k", {"id": f"m{i}", "changeKey": "k"}) for i in (1, 2, 3)]
    with pytest.raises(RuntimeError):
        deliver_changes(store, CallbackDelivery(busy_on_m2), instance, changes, "delta")
    assert got == ["m1"]
    assert (
        deliver_changes(
            store, CallbackDelivery(lambda e: got.append(e.resource_id)), instance, changes, "delta"
        )
        == 2
    )
    assert got == ["m1", "m2", "m3"]


def test_created_goes_out_once_per_item(store: Store) -> None:
    instance = _instance(store)
    got: list[TriggerEvent] = []
    deliver_changes(
        store,
        CallbackDelivery(got.append),
        instance,
        [Change("created", "m1", "k1", {"changeKey": "k1"})],
        "webhook",
    )
    # a catch-up that sees the item for the first time calls it created, at a newer version
    deliver_changes(
        store,
        CallbackDelivery(got.append),
        instance,
        [Change("created", "m1", "k2", {"changeKey": "k2"})],
        "delta",
    )
    assert [e.change_type for e in got] == ["created", "updated"]


# -- processing notifications -------------------------------------------------------------------------
def test_an_item_gone_before_processing_is_not_delivered_but_its_deletion_is(rig: Harness) -> None:
    rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    message = rig.create_message("short-lived")
    rig.delete_message(message["id"])
    rig.flush()
    assert [(e.change_type, e.resource_id) for e in rig.host.events] == [("deleted", message["id"])]


def test_a_refused_event_is_retried_with_backoff_and_health_follows(rig: Harness) -> None:
    instance = rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    rig.host.refuse = lambda event: True
    message = rig.create_message("refused once")
    rig.deliver()
    assert rig.service.process_all() == 0
    assert rig.host.refusals == 1 and rig.host.events == []
    failing = rig.store.get_trigger_instance(instance.id)
    assert failing is not None and failing.last_error and "host is busy" in failing.last_error
    assert rig.store.pending_notification_count(instance.id) == 1
    rig.host.refuse = lambda event: False
    assert rig.service.process_all() == 0  # backoff: not due yet
    rig.clock.advance(600)
    assert rig.service.process_all() == 1
    assert [e.resource_id for e in rig.host.events] == [message["id"]]
    healthy = rig.store.get_trigger_instance(instance.id)
    assert healthy is not None and healthy.last_success_at is not None
    assert healthy.last_success_at >= (healthy.last_error_at or 0)


def test_a_refused_created_is_not_overtaken_by_its_update(rig: Harness) -> None:
    rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    first = {"done": False}

    def refuse_first(event: TriggerEvent) -> bool:
        if not first["done"]:
            first["done"] = True
            return True
        return False

    rig.host.refuse = refuse_first
    message = rig.create_message("created, then refused")
    rig.update_message(message["id"], isRead=True)
    rig.flush()  # the update's notification waits for the refused created
    assert rig.host.events == []
    rig.clock.advance(600)
    rig.flush()
    rig.clock.advance(600)
    rig.flush()
    assert [e.change_type for e in rig.host.events] == ["created"]  # at its latest version
    event = rig.host.events[0]
    assert event.resource is not None and event.resource["isRead"] is True


def test_notifications_of_unknown_subscriptions_are_dropped(rig: Harness) -> None:
    message = rig.create_message("made before the trigger: not a change it may report")
    instance = rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    item = _item(rig, instance, "updated", message["id"])
    item["subscriptionId"] = "00000000-0000-0000-0000-000000000000"
    rig.store.enqueue_notifications(instance.id, "change", [item])
    assert rig.service.process_all() == 1
    assert rig.host.events == []


def test_a_paused_instance_keeps_its_notifications(rig: Harness) -> None:
    instance = rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    assert rig.store.set_trigger_status(instance.id, "paused")
    rig.create_message("while paused")
    rig.flush()
    assert rig.host.events == [] and rig.store.pending_notification_count(instance.id) == 1
    assert rig.store.set_trigger_status(instance.id, "active")
    rig.clock.advance(600)
    rig.flush()
    assert len(rig.host.events) == 1


def test_new_attachment_trigger_delivers_created_messages_with_attachments_only(rig: Harness) -> None:
    rig.service.enable("new_attachment_webhook", rig.connection.name, {"folder_id": "inbox"})
    rig.create_message("no attachment")
    with_file = rig.create_message(
        "with a file",
        attachments=[
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": "notes.txt",
                "contentType": "text/plain",
                "contentBytes": "aGVsbG8=",
            }
        ],
    )
    rig.flush()
    [event] = rig.host.events
    assert event.resource_id == with_file["id"] and event.change_type == "created"
    assert event.resource is not None
    [attachment] = event.resource["attachments"]
    assert attachment["name"] == "notes.txt" and "contentBytes" not in attachment


def test_new_attachment_trigger_catches_up_by_delta_with_the_attachment_list(rig: Harness) -> None:
    rig.service.enable("new_attachment_webhook", rig.connection.name, {"folder_id": "inbox"})
    rig.gate.down = True
    file = {"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.csv", "contentBytes": "YSxi"}
    with_file = rig.create_message("missed, with a file", attachments=[file])
    rig.create_message("missed, no file")
    for _ in range(5):  # notification_max_attempts: the batch is dropped
        rig.deliver()
    rig.gate.down = False
    [sub_id] = rig.subscription_ids()
    assert rig.hub.send_lifecycle(sub_id, "missed")

    rig.service.process_all()

    [event] = rig.host.events
    assert (event.resource_id, event.change_type, event.source) == (with_file["id"], "created", "delta")
    assert event.resource is not None
    assert [a["name"] for a in event.resource["attachments"]] == ["a.csv"]


# -- rich notifications ------------------------------------------------------------------------------
def test_rich_notifications_are_decrypted_instead_of_read(rig: Harness) -> None:
    instance = rig.service.enable(
        "mail_message_webhook", rig.connection.name, {**INBOX, "include_resource_data": True}
    )
    [subscription] = rig.hub.list()
    assert subscription["includeResourceData"] is True
    assert subscription["encryptionCertificate"] == instance.state["certificate"]["certificate_b64"]
    assert "PRIVATE KEY" in instance.secrets["private_key_pem"]
    assert "private_key_pem" not in str(instance.state) and "PRIVATE" not in repr(instance)
    assert instance.state["watches"][0]["expires_at"] - time.time() <= 1440 * 60

    message = rig.create_message("sent inside the notification")
    rig.deliver()
    [queued] = rig.store.claim_notifications("peek", lease_seconds=0)
    assert "encryptedContent" in queued.item and queued.item["validationTokens"]
    rig.store.retry_notification(queued.seq, "peeked", 0)
    reads_before = _item_reads(rig, message["id"])
    rig.service.process_all()

    [event] = rig.host.events
    assert event.resource is not None and event.resource["subject"] == "sent inside the notification"
    assert event.change_type == "created" and event.resource_id == message["id"]
    assert _item_reads(rig, message["id"]) == reads_before  # decrypted, not read from Graph


def test_untrusted_rich_content_is_ignored_and_the_item_read(rig: Harness) -> None:
    instance = rig.service.enable(
        "mail_message_webhook", rig.connection.name, {**INBOX, "include_resource_data": True}
    )
    message = rig.create_message("genuine")
    rig.flush()
    forged = {
        **_item(rig, instance, "updated", message["id"]),
        "encryptedContent": {"data": "AAAA", "dataSignature": "AAAA", "dataKey": "AAAA"},
        "validationTokens": ["not.a.token"],
    }
    updated = rig.update_message(message["id"], isRead=True)
    reads_before = _item_reads(rig, message["id"])
    rig.store.enqueue_notifications(instance.id, "change", [forged])
    rig.service.process_all()
    assert _item_reads(rig, message["id"]) == reads_before + 1
    last = rig.host.events[-1]
    assert last.resource is not None and last.resource["changeKey"] == updated["changeKey"]
    assert last.resource["subject"] == "genuine"


def _item_reads(rig: Harness, message_id: str) -> int:
    return sum(
        1
        for r in rig.server.state.request_log
        if r.method == "GET" and r.path.lower().endswith(f"/messages/{message_id}".lower())
    )


def test_renewing_forgets_delivered_keys_older_than_a_week(tmp_path: Path) -> None:
    from connector.runtime import Runtime
    from triggers.service import DELIVERED_RETENTION, TriggerService

    now = [1_800_000_000.0]
    with Store(tmp_path / "state.db", clock=lambda: now[0]) as store, Runtime() as runtime:
        instance = _instance(store)
        assert store.mark_delivered(instance.id, "old-change")
        now[0] += DELIVERED_RETENTION.total_seconds() - 60
        assert store.mark_delivered(instance.id, "recent-change")
        service = TriggerService(store, runtime, CallbackDelivery(lambda event: None), clock=lambda: now[0])
        now[0] += 120

        report = service.renew_due()

        assert report.pruned == 1 and report.to_json()["pruned"] == 1
        assert not store.was_delivered(instance.id, "old-change")
        assert store.was_delivered(instance.id, "recent-change")
