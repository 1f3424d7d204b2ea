"""The last step of every trigger path: dedupe a change, hand it to the host, remember it.

Webhook notifications (``triggers.service``), delta catch-up after ``missed`` or a recreated
subscription, and polling (``triggers.polling``) all end here, so a change reaches the host once
whichever path saw it first. A change is marked delivered only after the host accepted it
(``Delivery.deliver`` returned); a refusal raises and leaves it unmarked, to be tried again.

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


def delivery_lock_name(instance_id: str) -> str:
    """The store lock that serializes deliveries of one trigger instance."""
    return f"trigger-delivery:{instance_id}"


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
            now = time.time()
            event = TriggerEvent(
                instance_id=instance.id,
                trigger_key=instance.trigger_key,
                dedupe_key=key,
                change_type=change.change_type,
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
        delivered += 1
    return delivered
