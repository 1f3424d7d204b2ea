"""Polling trigger instances (``poll_changes``): delta reads instead of notifications.

An instance keeps, per watch of its plan, the delta cursor and any backfill's progress in its
``state``::

    {"watches": [{"resource": ..., "cursor": "<delta cursor>",
                  "backfill": {"range": "30d", "since": "2026-10-24T00:00:00Z" | null,
                               "status": "running" | "done" | "cancelled",
                               "total": 412 | null, "items": 120, "pages": 3, "delivered": 118,
                               "started_at": epoch s, "finished_at": epoch s | null}}]}

``poll`` reads one page at a time, hands the page's changes to ``triggers.processor.deliver_changes``
(dedupe + deliver) and stores the cursor only after that: a crash in between re-reads the page and
the dedupe drops what was already delivered. The first poll starts from now, or backfills the
existing items of a range (``30d``, ``90d``, ``12m``, ``all``). Between pages it looks at the
instance again: ``pause`` (status ``paused``) stops it keeping its cursor, ``resume`` lets the next
poll continue from there, ``cancel`` ends a backfill and moves the cursor to now (a running poll
notices that its state changed and stops without overwriting it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connector.errors import ConnectorError, FieldError, GraphError, InputValidationError
from connector.runtime import CONNECTION_FAILURES
from connector.store import TriggerInstance
from triggers import audit as trigger_audit
from triggers.delta import (
    DEFAULT_PAGE_SIZE,
    backfill_cursor,
    estimate_total,
    read_changes,
    reanchor,
    start_cursor,
)
from triggers.processor import deliver_changes

if TYPE_CHECKING:
    from connections.base import Connection
    from connector.runtime import Runtime
    from connector.store import Store
    from triggers.delivery import Delivery
    from triggers.plan import TriggerPlan

BACKFILL_RANGES: dict[str, timedelta | None] = {
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "12m": timedelta(days=365),
    "all": None,
}


@dataclass(frozen=True)
class PollProgress:
    """Where a poll is, after each page: for a progress bar."""

    instance_id: str
    watch: int
    pages: int
    items: int
    """Items read so far (by the backfill, when one runs; else by this poll)."""
    delivered: int
    total: int | None
    """Graph's count of the items a backfill reads (None: unknown; show pages)."""
    caught_up: bool
    backfill: bool
    rate: float | None = None
    """Backfill items read per second since it started (None: not a backfill, or no time yet)."""
    eta_seconds: float | None = None
    """Seconds until the backfill is read, at that rate (None: unknown total or rate)."""


def backfill_progress(
    instance_id: str, watch: int, backfill: Mapping[str, Any], caught_up: bool, now: float
) -> PollProgress:
    """A backfill's progress (from the watch state's ``backfill``), with its rate and ETA."""
    items, total = int(backfill.get("items") or 0), backfill.get("total")
    elapsed = now - float(backfill.get("started_at") or now)
    rate = items / elapsed if elapsed > 0 and items else None
    eta = None
    if caught_up:
        eta = 0.0
    elif rate and isinstance(total, int):
        eta = max(0, total - items) / rate
    return PollProgress(
        instance_id=instance_id,
        watch=watch,
        pages=int(backfill.get("pages") or 0),
        items=items,
        delivered=int(backfill.get("delivered") or 0),
        total=total if isinstance(total, int) else None,
        caught_up=caught_up,
        backfill=True,
        rate=rate,
        eta_seconds=eta,
    )


@dataclass
class PollReport:
    instance_id: str
    status: str = "caught_up"
    """``caught_up`` | ``paused`` (before or during the poll) | ``cancelled`` (a cancel came in)."""
    delivered: int = 0
    pages: int = 0
    items: int = 0
    backfill: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "status": self.status,
            "delivered": self.delivered,
            "pages": self.pages,
            "items": self.items,
            "backfill": self.backfill,
        }


def backfill_since(range_: str, now: float) -> datetime | None:
    """The start of a backfill range (``30d``, ``90d``, ``12m``, ``all`` -> None)."""
    if range_ not in BACKFILL_RANGES:
        raise InputValidationError(
            [FieldError("backfill", f"must be one of {', '.join(BACKFILL_RANGES)}, not {range_!r}")]
        )
    span = BACKFILL_RANGES[range_]
    return None if span is None else datetime.fromtimestamp(now, UTC) - span


def _load_connection(store: Store, name: str) -> Connection:
    from connections.registry import load_connection

    return load_connection(store, name)


def _require_polling(runtime: Runtime, trigger_key: str) -> None:
    entry = runtime.manifest.triggers.get(trigger_key)
    if entry is None:
        known = ", ".join(k for k, e in runtime.manifest.triggers.items() if e.get("kind") == "polling")
        raise ConnectorError(f"unknown trigger {trigger_key!r} (polling triggers: {known or 'none'})")
    if entry.get("kind") != "polling":
        raise ConnectorError(
            f"trigger {trigger_key!r} is a {entry.get('kind')} trigger: enable it with `triggers enable`"
        )


def create_instance(
    store: Store,
    runtime: Runtime,
    trigger_key: str,
    connection_name: str,
    input: Mapping[str, Any],
    *,
    connection: Connection | None = None,
) -> TriggerInstance:
    """A new polling instance (no request yet: its first ``poll`` takes the cursor). Bad input
    raises, naming the field."""
    _require_polling(runtime, trigger_key)
    connection = connection or _load_connection(store, connection_name)
    plan: TriggerPlan = runtime.trigger_plan(trigger_key, dict(input), connection)
    state = {"watches": [{"resource": w.resource, "cursor": None} for w in plan.watches]}
    instance = TriggerInstance.new(trigger_key, connection_name, input, state, time.time())
    store.save_trigger_instance(instance)
    return instance


def _require(store: Store, instance_id: str) -> TriggerInstance:
    instance = store.get_trigger_instance(instance_id)
    if instance is None:
        raise ConnectorError(f"no trigger instance {instance_id!r}")
    return instance


def _watches(instance: TriggerInstance, plan: TriggerPlan) -> list[dict[str, Any]]:
    stored = [dict(w) for w in instance.state.get("watches", [])]
    while len(stored) < len(plan.watches):
        stored.append({"resource": plan.watches[len(stored)].resource, "cursor": None})
    return stored


def poll(
    store: Store,
    runtime: Runtime,
    delivery: Delivery,
    instance_id: str,
    *,
    backfill: str | None = None,
    progress: Callable[[PollProgress], None] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    connection: Connection | None = None,
    clock: Callable[[], float] = time.time,
) -> PollReport:
    """Deliver the instance's changes since its cursor, page by page, until caught up, paused or
    cancelled. ``backfill`` (first poll only) reads the existing items of that range first."""
    if backfill is not None:
        backfill_since(backfill, clock())  # a bad range fails before any request
    instance = _require(store, instance_id)
    _require_polling(runtime, instance.trigger_key)
    report = PollReport(instance_id)
    if instance.status == "paused":
        report.status = "paused"
        return report
    if instance.status != "active":
        raise ConnectorError(f"trigger instance {instance_id!r} is {instance.status}")
    connection = connection or _load_connection(store, instance.connection_name)
    plan: TriggerPlan = runtime.trigger_plan(instance.trigger_key, dict(instance.config), connection)
    client = runtime.client_for(connection)
    reading = trigger_audit.reading(store, runtime, instance, connection.default_mailbox, clock)
    try:
        with store.lock(f"trigger-poll:{instance_id}"), reading:
            for index, watch in enumerate(plan.watches):
                instance = _require(store, instance_id)
                entries = _watches(instance, plan)
                entry = entries[index]
                if entry.get("cursor") is None:
                    previous = entry.get("backfill")  # a cancelled backfill's record stays
                    entry = _first_cursor(client, watch, None if previous else backfill, clock)
                    if previous:
                        entry["backfill"] = previous
                    entries[index] = entry
                    if not store.update_trigger_state(
                        instance_id, {**instance.state, "watches": entries}, expected=instance.state
                    ):
                        report.status = "cancelled"
                        return report
                elif backfill is not None and (entry.get("backfill") or {}).get("status") != "running":
                    raise InputValidationError(
                        [
                            FieldError(
                                "backfill",
                                "applies to an instance's first poll; this one already has a cursor"
                                " (create a new instance to backfill)",
                            )
                        ]
                    )
                stop = _poll_watch(
                    store,
                    delivery,
                    client,
                    instance_id,
                    index,
                    watch,
                    plan,
                    report,
                    progress,
                    page_size,
                    clock,
                )
                if stop is not None:
                    report.status = stop
                    break
    except Exception as exc:
        message = exc.message if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, InputValidationError):  # a caller's mistake is not the instance's health
            store.record_trigger_error(instance_id, message)
        if isinstance(exc, GraphError) and exc.status in CONNECTION_FAILURES:
            runtime.note_health(connection, message)
        raise
    runtime.note_health(connection, None)
    final = store.get_trigger_instance(instance_id)
    if final is not None:
        report.backfill = [dict(w["backfill"]) for w in final.state.get("watches", []) if w.get("backfill")]
    store.record_trigger_success(instance_id)
    return report


def _first_cursor(
    client: Any, watch: Any, backfill: str | None, clock: Callable[[], float]
) -> dict[str, Any]:
    if backfill is None:
        return {"resource": watch.resource, "cursor": start_cursor(client, watch)}
    return {"resource": watch.resource, **first_backfill(client, watch, backfill, clock())}


def first_backfill(client: Any, watch: Any, backfill: str, now: float) -> dict[str, Any]:
    """A watch's first cursor and progress record for a backfill of range ``backfill`` (polling and
    webhook instances alike): ``{"cursor", "backfill": {...}}``. One request: Graph's item count."""
    since = backfill_since(backfill, now)
    return {
        "cursor": backfill_cursor(client, watch, since),
        "backfill": {
            "range": backfill,
            "since": since.strftime("%Y-%m-%dT%H:%M:%SZ") if since else None,
            "status": "running",
            "total": estimate_total(client, watch, since),
            "items": 0,
            "pages": 0,
            "delivered": 0,
            "started_at": now,
            "finished_at": None,
        },
    }


def _poll_watch(
    store: Store,
    delivery: Delivery,
    client: Any,
    instance_id: str,
    index: int,
    watch: Any,
    plan: TriggerPlan,
    report: PollReport,
    progress: Callable[[PollProgress], None] | None,
    page_size: int,
    clock: Callable[[], float],
) -> str | None:
    """Pages until caught up; the reason it stopped early (``paused``, ``cancelled``) or None."""
    polled_items = polled_delivered = 0
    backfilling: bool | None = None
    while True:
        instance = _require(store, instance_id)
        if instance.status != "active":
            return "paused" if instance.status == "paused" else instance.status
        entries = _watches(instance, plan)
        entry = dict(entries[index])
        status = (entry.get("backfill") or {}).get("status")
        if backfilling is None:
            backfilling = status == "running"
        elif backfilling and status == "cancelled":
            return "cancelled"  # cancelled between pages: the cursor is now "now"
        read = read_changes(client, watch, str(entry["cursor"]), max_pages=1, page_size=page_size)
        delivered = deliver_changes(
            store, delivery, instance, read.changes, "delta", item_kind=watch.item_kind
        )
        report.delivered += delivered
        report.pages += read.pages
        report.items += read.items
        polled_items += read.items
        polled_delivered += delivered
        entry["cursor"] = read.cursor
        running = (
            dict(entry["backfill"]) if (entry.get("backfill") or {}).get("status") == "running" else None
        )
        if running is not None:
            running["items"] += read.items
            running["pages"] += read.pages
            running["delivered"] += delivered
            if read.caught_up:
                running["status"], running["finished_at"] = "done", clock()
            entry["backfill"] = running
        entries[index] = entry
        # stored only after delivery; a cancel (or another writer) since we read wins
        if not store.update_trigger_state(
            instance_id, {**instance.state, "watches": entries}, expected=instance.state
        ):
            return "cancelled"
        if read.caught_up and running is None and (moved := reanchor(watch, read.cursor)) is not None:
            # the calendar window moved on (a new day): read the new window's changes now
            current = _require(store, instance_id)
            entries = [dict(w) for w in _watches(current, plan)]
            entries[index]["cursor"] = moved
            if not store.update_trigger_state(
                instance_id, {**current.state, "watches": entries}, expected=current.state
            ):
                return "cancelled"
            continue
        if progress is not None and running is not None:
            progress(backfill_progress(instance_id, index, running, read.caught_up, clock()))
        elif progress is not None:
            progress(
                PollProgress(
                    instance_id=instance_id,
                    watch=index,
                    pages=report.pages,
                    items=polled_items,
                    delivered=polled_delivered,
                    total=None,
                    caught_up=read.caught_up,
                    backfill=False,
                )
            )
        if read.caught_up:
            return None


def pause(store: Store, instance_id: str) -> TriggerInstance:
    """Status ``paused``: a running poll stops after its current page, keeping its cursor."""
    instance = _require(store, instance_id)
    if instance.status == "disabled":
        raise ConnectorError(f"trigger instance {instance_id!r} is disabled")
    store.set_trigger_status(instance_id, "paused")
    return _require(store, instance_id)


def resume(store: Store, instance_id: str) -> TriggerInstance:
    """Status ``active`` again: the next poll continues from the stored cursor."""
    instance = _require(store, instance_id)
    if instance.status != "paused":
        raise ConnectorError(f"trigger instance {instance_id!r} is {instance.status}, not paused")
    store.set_trigger_status(instance_id, "active")
    return _require(store, instance_id)


def cancel(
    store: Store,
    runtime: Runtime,
    instance_id: str,
    *,
    connection: Connection | None = None,
    clock: Callable[[], float] = time.time,
) -> TriggerInstance:
    """End the instance's backfill (polling or webhook): its cursor moves to now, the rest of the
    backfill is skipped. The cancel is stored first, so a running poll or catch-up stops after the
    page it is on; the cursor "from now" (a pass over the folder) is taken after."""
    instance = _require(store, instance_id)
    entries = [dict(w) for w in instance.state.get("watches", [])]
    running = [i for i, w in enumerate(entries) if (w.get("backfill") or {}).get("status") == "running"]
    if not running:
        raise ConnectorError(f"trigger instance {instance_id!r} has no backfill in progress")
    for index in running:
        entries[index]["cursor"] = None  # "take a cursor from now" until the one below is stored
        entries[index]["backfill"] = {
            **entries[index]["backfill"],
            "status": "cancelled",
            "finished_at": clock(),
        }
    cancelled = {**instance.state, "watches": entries}
    # unconditional: a poll or catch-up running meanwhile fails its compare-and-set and stops
    store.update_trigger_state(instance_id, cancelled)
    connection = connection or _load_connection(store, instance.connection_name)
    plan: TriggerPlan = runtime.trigger_plan(instance.trigger_key, dict(instance.config), connection)
    client = runtime.client_for(connection)
    with trigger_audit.reading(store, runtime, instance, connection.default_mailbox, clock):
        now_cursors = {index: start_cursor(client, plan.watches[index]) for index in running}
    current = _require(store, instance_id)
    watches = [dict(w) for w in current.state.get("watches", [])]
    for index, cursor in now_cursors.items():
        if watches[index].get("cursor") is None:  # nobody took one meanwhile
            watches[index]["cursor"] = cursor
    store.update_trigger_state(instance_id, {**current.state, "watches": watches}, expected=current.state)
    return _require(store, instance_id)
