"""Catching a trigger instance's watch up by delta: page by page from its stored cursor, delivered
through the dedupe, each page's cursor stored only after its changes were delivered.

Used by ``triggers.service`` for ``missed`` events, recreated subscriptions, the read after each
batch of notifications, ``sync`` and the periodic catch-up, and for a webhook instance's backfill
(whose progress it counts per page, as ``triggers.polling`` does for polling instances). A page's
cursor is stored only while the stored one is still the one it was read from, so a ``cancel``
meanwhile (``triggers.polling.cancel``) wins and stops the catch-up within a page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from connector.errors import ConnectorError, GraphError
from triggers.delta import DEFAULT_PAGE_SIZE, Change, DeltaRead, read_changes, start_cursor
from triggers.processor import deliver_changes

if TYPE_CHECKING:
    from connector.http import GraphClient
    from connector.store import Store, TriggerInstance
    from triggers.delivery import Delivery
    from triggers.plan import TriggerPlan, Watch
    from triggers.polling import PollProgress

ATTACHMENT_FIELDS = "id,name,contentType,size,isInline,lastModifiedDateTime"


def state_lock_name(instance_id: str) -> str:
    """The store lock under which an instance's ``state`` is read, changed and written back."""
    return f"trigger-state:{instance_id}"


def catch_up_watch(
    store: Store,
    delivery: Delivery,
    client: GraphClient,
    instance: TriggerInstance,
    plan: TriggerPlan,
    index: int,
    *,
    clock: Callable[[], float],
    page_size: int = DEFAULT_PAGE_SIZE,
    progress: Callable[[PollProgress], None] | None = None,
) -> int:
    """Deliver watch ``index``'s changes since its stored cursor (from now when it has none), one
    page at a time; the count delivered. The caller holds the watch's catch-up lock."""
    from triggers.polling import backfill_progress

    watch = plan.watches[index]
    delivered = 0
    read_from = _cursor(instance, index)
    cursor = read_from or start_cursor(client, watch)
    while True:
        read = read_changes(client, watch, cursor, max_pages=1, page_size=page_size)
        changes = [c for c in (enrich_delta(client, plan, watch, c) for c in read.changes) if c]
        count = deliver_changes(store, delivery, instance, changes, "delta", item_kind=watch.item_kind)
        delivered += count
        stored, backfill = _advance(store, instance.id, index, read_from, read, count, clock)
        if not stored:
            break  # cancelled (or moved on by another reader) meanwhile
        if progress is not None and backfill is not None:
            progress(backfill_progress(instance.id, index, backfill, read.caught_up, clock()))
        if read.caught_up:
            break
        read_from = cursor = read.cursor
        current = store.get_trigger_instance(instance.id)
        if current is None or _cursor(current, index) != read_from:
            break  # cancelled between pages
    return delivered


def _cursor(instance: TriggerInstance, index: int) -> str | None:
    watches = instance.state.get("watches", [])
    return watches[index].get("cursor") if index < len(watches) else None


def _advance(
    store: Store,
    instance_id: str,
    index: int,
    read_from: str | None,
    read: DeltaRead,
    delivered: int,
    clock: Callable[[], float],
) -> tuple[bool, dict[str, Any] | None]:
    """Store a page's cursor (and a running backfill's progress) if the stored cursor is still
    ``read_from``: (stored, the running backfill's record or None)."""
    with store.lock(state_lock_name(instance_id)):
        instance = store.get_trigger_instance(instance_id)
        if instance is None:
            raise ConnectorError(f"no trigger instance {instance_id!r}")
        watches = [dict(w) for w in instance.state.get("watches", [])]
        entry = watches[index]
        if read_from is not None and entry.get("cursor") != read_from:
            return False, None
        entry["cursor"] = read.cursor
        if read.caught_up:
            entry["needs_catch_up"] = False
        running = (entry.get("backfill") or {}).get("status") == "running"
        backfill = dict(entry["backfill"]) if running else None
        if backfill is not None:
            backfill["items"] += read.items
            backfill["pages"] += read.pages
            backfill["delivered"] += delivered
            if read.caught_up:
                backfill["status"], backfill["finished_at"] = "done", clock()
            entry["backfill"] = backfill
        store.update_trigger_state(instance_id, {**instance.state, "watches": watches})
        return True, backfill


def enrich_delta(client: GraphClient, plan: TriggerPlan, watch: Watch, change: Change) -> Change | None:
    """A delta change shaped as the plan wants (only new messages with files; their attachment
    list), or None to leave it out (not wanted, or gone since)."""
    if change.change_type == "deleted" or not (plan.only_with_attachments or plan.expand_attachments):
        return change
    resource = dict(change.resource or {})
    if plan.only_with_attachments and (change.change_type != "created" or not resource.get("hasAttachments")):
        return None
    if plan.expand_attachments:
        try:
            resource["attachments"] = attachments(client, resource, watch.item_path(change.resource_id))
        except GraphError as exc:
            if exc.status == 404:
                return None
            raise
    return replace(change, resource=resource)


def attachments(client: GraphClient, resource: Mapping[str, Any], message_path: str) -> list[dict[str, Any]]:
    """The message's attachments (metadata only, no content bytes)."""
    if "attachments" in resource:
        return list(resource["attachments"])
    return list(client.iter_items(f"{message_path}/attachments", params={"$select": ATTACHMENT_FIELDS}))
