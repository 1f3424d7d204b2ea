"""The delivery record: what a trigger delivered, written in ONE transaction with what it depends on.

``commit_delivery`` marks a change delivered (its dedupe key, and its item's ``created`` mark),
completes the queue row it came from while that row is still the caller's claim, and, for a host
that reads its events from the store (the outbox), seals the event into ``trigger_events``: all or
nothing. The dedupe key's mark is the arbiter: an event is written only by the transaction that
marked its key first, so whichever worker, process or retry gets there, one version of one item
appears once in the outbox.

The host reads the outbox in order with a cursor of its own (``read_trigger_events(after)``) and
prunes what it has read (``prune_trigger_events``). Event order is commit order: on PostgreSQL the
transactions that write events take one transaction-level advisory lock just before their
INSERT, so a later sequence number never commits before an earlier one (a reader whose cursor
passed a number can never find a smaller one appear after); SQLite's writers take turns anyway.
Events are sealed with the store's key (they hold mail content), bound to their instance and key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connector.errors import ConfigurationError
from connector.store.core import StoreCore, label

_EVENTS_LOCK = "trigger-events:order"
"""The advisory lock (PostgreSQL) that makes event sequence numbers commit in order."""
MAX_EVENTS_READ = 10_000


@dataclass(frozen=True)
class DeliveryCommit:
    """What ``commit_delivery`` wrote."""

    delivered: bool
    """The change's dedupe key was marked now (False: it had been delivered before; no event written)."""
    finished: bool | None
    """The queue row was completed (False: it is no longer the caller's claim; None: no row given)."""


@dataclass(frozen=True)
class StoredTriggerEvent:
    """One event of the outbox: its position (``seq``, increasing in commit order) and the event
    as ``TriggerEvent.to_json()`` gave it."""

    seq: int
    instance_id: str
    dedupe_key: str
    event: dict[str, Any]
    created_at: float


class TriggerEvents(StoreCore):
    """``DeliveryRecords`` over the backend (the ``trigger_events`` table, and the marks and queue
    rows a delivery record touches)."""

    def commit_delivery(
        self,
        instance_id: str,
        keys: Sequence[str],
        *,
        event: Mapping[str, Any] | None = None,
        finish: tuple[int, str] | None = None,
    ) -> DeliveryCommit:
        """In ONE transaction: mark ``keys`` delivered (the first is the change's dedupe key, the
        others extra marks such as the item's ``created``); with ``event``, seal it into the outbox
        if and only if the first key was not marked before; with ``finish`` (queue seq, worker),
        complete that row if it is still that worker's claim. The marks (and the event) are written
        whether or not the row was still the caller's: a worker whose lease ran out while the host
        was accepting the event records it, and the row's new claimant finds it delivered."""
        if not keys:
            raise ConfigurationError("commit_delivery needs the change's dedupe key")
        sealed = None
        if event is not None:
            import orjson

            sealed = self.cipher().seal(orjson.dumps(dict(event)), _event_label(instance_id, keys[0]))
        now = self.clock()
        with self.db.transaction() as db:
            finished = None
            if finish is not None:
                sql = "DELETE FROM trigger_queue WHERE seq = ? AND claimed_by = ?"
                finished = db.execute(sql, finish).rowcount > 0
            marked = [
                db.execute(
                    "INSERT INTO trigger_delivered (instance_id, dedupe_key, delivered_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (instance_id, dedupe_key) DO NOTHING",
                    (instance_id, key, now),
                ).rowcount
                > 0
                for key in dict.fromkeys(keys)
            ]
            if sealed is not None and marked[0]:
                if self.db.name == "postgresql":
                    from connector.store.postgres import lock_key

                    db.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(_EVENTS_LOCK),))
                db.execute(
                    "INSERT INTO trigger_events (instance_id, dedupe_key, event, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (instance_id, keys[0], sealed, now),
                )
        return DeliveryCommit(delivered=marked[0], finished=finished)

    def read_trigger_events(self, after: int = 0, limit: int = 100) -> list[StoredTriggerEvent]:
        """Up to ``limit`` outbox events after position ``after`` (0: from the start), in commit
        order; a store bound to a principal reads only the events of instances it may see."""
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ConfigurationError(f"invalid after {after!r}: a position (0 or more) from an earlier read")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_EVENTS_READ:
            raise ConfigurationError(f"invalid limit {limit!r}: 1 to {MAX_EVENTS_READ}")
        mine, parameters = self._own_instances()
        with self.db.read() as db:
            rows = db.execute(
                "SELECT seq, instance_id, dedupe_key, event, created_at FROM trigger_events"
                f" WHERE seq > ?{mine} ORDER BY seq LIMIT ?",
                (after, *parameters, limit),
            ).fetchall()
        import orjson

        found = []
        for seq, instance_id, key, sealed, created_at in rows:
            what = f"an event of trigger {instance_id}"
            data = self.cipher().open(bytes(sealed), _event_label(instance_id, key), what)
            event = orjson.loads(data)
            found.append(StoredTriggerEvent(int(seq), instance_id, key, event, float(created_at)))
        return found

    def prune_trigger_events(self, *, through: int | None = None, older_than: float | None = None) -> int:
        """Forget outbox events up to position ``through`` (the host has read them) and/or older
        than ``older_than`` seconds; how many. A principal's store prunes only its own."""
        if through is None and older_than is None:
            raise ConfigurationError("prune_trigger_events: give through (a position) or older_than")
        conditions: list[str] = []
        parameters: list[float] = []
        if through is not None:
            conditions.append("seq <= ?")
            parameters.append(through)
        if older_than is not None:
            conditions.append("created_at < ?")
            parameters.append(self.clock() - older_than)
        mine, own = self._own_instances()
        with self.db.transaction() as db:
            sql = f"DELETE FROM trigger_events WHERE ({' OR '.join(conditions)}){mine}"
            return int(db.execute(sql, (*parameters, *own)).rowcount)


def _event_label(instance_id: str, dedupe_key: str) -> bytes:
    return label("trigger-event", instance_id, dedupe_key)
