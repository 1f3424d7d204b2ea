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
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from triggers.delivery import TriggerEvent, dedupe_key

if TYPE_CHECKING:
    from connector.store import Store, TriggerInstance
    from triggers.delivery import Delivery
    from triggers.delta import Change

_CREATED_MARK = "\0created"
"""A pseudo change key: the dedupe key ``created_key`` makes never equals a real version's."""


def delivery_lock_name(instance_id: str) -> str:
    """The store lock that serializes deliveries of one trigger instance."""
    return f"trigger-delivery:{instance_id}"


def created_key(instance_id: str, resource_id: str) -> str:
    """Marked when an item's creation was delivered."""
    return dedupe_key(instance_id, resource_id, "created", _CREATED_MARK)


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
    delivered = 0
    for change in changes:
        key = dedupe_key(instance.id, change.resource_id, change.change_type, change.change_key)
        with store.lock(delivery_lock_name(instance.id)):
            if store.was_delivered(instance.id, key):
                continue
            change_type = change.change_type
            creation = created_key(instance.id, change.resource_id) if change_type == "created" else None
            if creation is not None and store.was_delivered(instance.id, creation):
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
            delivery.deliver(event)
            store.mark_delivered(instance.id, key)
            if creation is not None:
                store.mark_delivered(instance.id, creation)
        delivered += 1
    return delivered
