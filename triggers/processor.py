"""The last step of every trigger path: dedupe a change, hand it to the host, remember it.

Webhook notifications (``triggers.service``), delta catch-up after ``missed`` or a recreated
subscription, and polling (``triggers.polling``) all end here, so a change reaches the host once
whichever path saw it first. A change is marked delivered only after the host accepted it
(``Delivery.deliver`` returned); a refusal raises and leaves it unmarked, to be tried again.

The dedupe key (``triggers.delivery.dedupe_key``) is instance + resource id + change key for a
created or updated item, and instance + resource id + ``deleted`` for a deletion. Not the
subscription id (a delta catch-up has none, and a recreated subscription has a new one), and not the
change type of a created/updated item (Graph may report one version as created by webhook and as
updated by delta): one *version* of one item is delivered once. Webhook items are enriched with the
item as it is when processed, so several updates that happened before processing collapse into
the latest version, as delta does.

"Created" is delivered at most once per item: a change that says created for an item whose
creation was already delivered (a delta catch-up seeing for the first time an item the webhook
delivered) goes out as updated if its version is new.

Two workers may hold notifications about the same item (a webhook and a catch-up): the check,
the delivery and the mark run under a per-instance store lock (threads and processes), so the
second one sees the mark and skips.

The record of a delivery is one transaction (``Store.commit_delivery``): the change's dedupe key,
its item's ``created`` mark, the completion of the queue row it came from (``deliver_queued_change``;
only while the row is still this worker's claim) and, with ``OutboxDelivery``, the event itself.
A worker whose claim ran out while the host was accepting the event (another worker claimed the
row again) still writes the marks: the new claimant waits on the instance's lock meanwhile, then
finds the version delivered and only completes the row. So a callback host gets each version once
unless a process dies between the host's acceptance and the commit (then once more, same
``dedupe_key``); an outbox host gets it exactly once whatever dies when.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from connector.errors import ConfigurationError
from triggers.delivery import OutboxDelivery, TriggerEvent, dedupe_key

if TYPE_CHECKING:
    from connector.store import DeliveryCommit, Store, TriggerInstance
    from triggers.delivery import Delivery
    from triggers.delta import Change

_CREATED_MARK = "<created>"
"""A pseudo change key: the dedupe key ``created_key`` makes never equals a real version's (Graph's
change keys are base64). No NUL byte: PostgreSQL's text columns refuse it (it was ``\0created``,
which only SQLite could store)."""


def delivery_lock_name(instance_id: str) -> str:
    """The store lock that serializes deliveries of one trigger instance."""
    return f"trigger-delivery:{instance_id}"


_LEGACY_CREATED_MARK = "\0created"


def created_key(instance_id: str, resource_id: str) -> str:
    """Marked when an item's creation was delivered."""
    return dedupe_key(instance_id, resource_id, "created", _CREATED_MARK)


def creation_delivered(store: Store, instance_id: str, resource_id: str) -> bool:
    """Whether the item's creation was delivered. A SQLite store may still hold the marks made
    with the former ``\\0created`` pseudo key (delivered keys are kept a week), so they count too."""
    if store.was_delivered(instance_id, created_key(instance_id, resource_id)):
        return True
    legacy = dedupe_key(instance_id, resource_id, "created", _LEGACY_CREATED_MARK)
    return store.url is None and store.was_delivered(instance_id, legacy)


def deliver_changes(
    store: Store,
    delivery: Delivery,
    instance: TriggerInstance,
    changes: Iterable[Change],
    source: str,
    *,
    item_kind: str = "",
    subscription_id: str | None = None,
    received_at: float | None = None,
) -> int:
    """Deliver every change not delivered before, in order; return how many were delivered.

    A refused delivery (the sink raised) stops here and propagates: the changes before it are
    delivered and marked, it and the ones after are not, so a retry resumes at it.
    """
    outbox = in_store(store, delivery)
    delivered = 0
    for change in changes:
        commit = _deliver_one(
            store, delivery, outbox, instance, change, source, item_kind, subscription_id, received_at, None
        )
        if commit is not None and commit.delivered:
            delivered += 1
    return delivered


def deliver_queued_change(
    store: Store,
    delivery: Delivery,
    instance: TriggerInstance,
    change: Change,
    claim: tuple[int, str],
    *,
    item_kind: str = "",
    subscription_id: str | None = None,
    received_at: float | None = None,
) -> bool:
    """Deliver the change of the queue row ``claim`` (seq, worker) unless it was delivered before,
    completing the row in the same transaction as the delivery's record. True if the row was
    completed here; False if nothing was delivered (a version seen before) or the claim was lost
    meanwhile (the record is written all the same): the caller then finishes the row itself,
    which does nothing if it is no longer its claim."""
    outbox = in_store(store, delivery)
    commit = _deliver_one(
        store, delivery, outbox, instance, change, "webhook", item_kind, subscription_id, received_at, claim
    )
    return commit is not None and commit.finished is True


def _deliver_one(
    store: Store,
    delivery: Delivery,
    outbox: bool,
    instance: TriggerInstance,
    change: Change,
    source: str,
    item_kind: str,
    subscription_id: str | None,
    received_at: float | None,
    claim: tuple[int, str] | None,
) -> DeliveryCommit | None:
    """Check, deliver and record one change under the instance's delivery lock; None if it was
    delivered before (nothing written). ``outbox``: seal the event in the record (else deliver
    it first)."""
    key = dedupe_key(instance.id, change.resource_id, change.change_type, change.change_key)
    with store.lock(delivery_lock_name(instance.id)):
        if store.was_delivered(instance.id, key):
            return None
        change_type = change.change_type
        creation = created_key(instance.id, change.resource_id) if change_type == "created" else None
        if creation is not None and creation_delivered(store, instance.id, change.resource_id):
            change_type, creation = "updated", None
        now = time.time()
        event = TriggerEvent(
            instance_id=instance.id,
            trigger_key=instance.trigger_key,
            dedupe_key=key,
            change_type=change_type,
            resource_id=change.resource_id,
            resource=change.resource,
            source=source,
            occurred_at=now,
            received_at=received_at if received_at is not None else now,
            item_kind=item_kind,
            subscription_id=subscription_id,
        )
        if not outbox:
            delivery.deliver(event)  # the host accepted it: record that (a crash here sends it again)
        keys = [key] if creation is None else [key, creation]
        sealed = event.to_json() if outbox else None
        return store.commit_delivery(instance.id, keys, event=sealed, finish=claim)


def in_store(store: Store, delivery: Delivery) -> bool:
    """Whether ``delivery`` seals events into this store's outbox (in the record's transaction);
    ``ConfigurationError`` if it is an outbox of another database."""
    if not isinstance(delivery, OutboxDelivery):
        return False
    other = delivery.store
    if other.db is not store.db and (other.url, other.path) != (store.url, store.path):
        raise ConfigurationError("OutboxDelivery must seal into the store the triggers are processed with")
    return True
