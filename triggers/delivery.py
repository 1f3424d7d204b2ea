"""What a trigger hands to the host, and the sinks that take it.

A ``TriggerEvent`` is one change of one item, ready for a workflow platform. A ``Delivery`` takes
events: ``deliver`` returning means the host accepted the event (it is then marked delivered and
never sent again); raising means it refused, and the event is tried again later.

    delivery = CallbackDelivery(lambda event: platform.start_flow(event.to_json()))
    delivery = JsonLinesDelivery(sys.stdout)     # one JSON object per line, flushed
    delivery = OutboxDelivery(store)             # sealed into the store; the host reads them in order

What each guarantees. A callback (or a stream) is outside the store's transactions: an event is
marked delivered after the host accepted it, so a process that dies between the two sends it again
on the retry (same ``dedupe_key``): at least once, with a stable key for the host to drop the
repeat; duplicates only for events in flight at a crash. ``OutboxDelivery`` writes the event in the
same transaction as its delivered mark and its queue row's completion (``Store.commit_delivery``):
exactly once, even when a worker is killed at any point, for a host that reads the outbox from the
same database (``TriggerService.events_after`` / ``Store.read_trigger_events``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from connector.store import Store

_MAX_KEY_PART = 200
"""Dedupe keys longer than this are hashed (Graph ids are ~150 characters; keys stay short)."""


def dedupe_key(instance_id: str, resource_id: str, change_type: str, change_key: str | None) -> str:
    """The key that makes one version of one item go out once: instance + resource id + the
    change key (``deleted`` for a deletion, the change type when Graph gave no change key).
    Stable across processes and releases; a long key is replaced by its SHA-256."""
    version = "deleted" if change_type == "deleted" else (change_key or change_type)
    key = f"{instance_id}\n{resource_id}\n{version}"
    if len(key) <= _MAX_KEY_PART:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TriggerEvent:
    """One change of one item, as the host receives it.

    ``resource`` is the item (None for a deletion, or when it could not be read); ``source`` says
    which path saw the change ("webhook" or "delta"); times are epoch seconds.
    """

    instance_id: str
    trigger_key: str
    dedupe_key: str
    change_type: str
    resource_id: str
    resource: dict[str, Any] | None
    source: str
    occurred_at: float
    received_at: float
    item_kind: str = ""
    subscription_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-serializable dict of every field."""
        return asdict(self)


class Delivery(Protocol):
    """Where events go. ``deliver`` returns when the host accepted the event; raises to refuse it."""

    def deliver(self, event: TriggerEvent) -> None: ...


class CallbackDelivery:
    """Calls ``fn(event)``; an exception from ``fn`` refuses the event."""

    def __init__(self, fn: Callable[[TriggerEvent], object]) -> None:
        self.fn = fn

    def deliver(self, event: TriggerEvent) -> None:
        self.fn(event)


class JsonLinesDelivery:
    """Writes each event as one JSON object on its own line and flushes it. Thread-safe: lines
    from concurrent deliveries never interleave. A write or flush error refuses the event."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def deliver(self, event: TriggerEvent) -> None:
        line = json.dumps(event.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()


class OutboxDelivery:
    """Seals each event into ``store``'s outbox (``trigger_events``) in the transaction that marks
    it delivered and completes its queue row: a host sharing the database reads the events in order
    with its own cursor (``TriggerService.events_after``), each exactly once. The trigger service
    must process with the same database (``triggers.processor`` checks it)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def deliver(self, event: TriggerEvent) -> None:
        """An event delivered outside the processor: sealed with its own mark (once per key)."""
        self.store.commit_delivery(event.instance_id, [event.dedupe_key], event=event.to_json())
