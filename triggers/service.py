"""Trigger instances end to end: enable, renew, disable, and processing of queued notifications
(the queue part in ``triggers.notifications``; every delivery ends in ``triggers.processor``).

``TriggerService(store, runtime, delivery, public_url=...)`` is what the CLI (``triggers listen``,
``serve``, ``triggers worker``) and a host platform use. The receiver (``connector.webhooks``) only
checks and enqueues; everything that calls Graph or the host happens here, after its 202.

An instance's ``state`` (JSON, owned by this module)::

    {"public_url": where the receiver is (recreated subscriptions keep it),
     "watches": [{"resource", "subscription_id", "expires_at" (epoch s), "cursor" (delta link),
                  "retired": [old subscription ids], "needs_catch_up": bool,
                  "backfill": {...}}],   # as triggers.polling's, when enabled with a backfill
     "certificate": {"certificate_b64", "certificate_id"},      # only with includeResourceData
     "caught_up_at": epoch s of the last complete delta catch-up}

and its ``secrets`` hold ``private_key_pem`` for rich notifications. Watches are the trigger plan's,
in order; the plan is recomputed from the instance's config whenever it is needed (it is pure).

No change falls between the cracks: enable takes each watch's delta cursor before creating its
subscription; a recreated subscription (expired, removed) and a ``missed`` event are followed by a
delta catch-up from the stored cursor, whose cursor is stored only after its changes were delivered.
The overlap (a change seen both ways) is absorbed by the dedupe in ``triggers.processor``. After
each batch of an instance's notifications the processor also reads delta once, so the cursor keeps
up with what the host knows (delta reports deletions only of items its previous round saw).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from actions._subscriptions import parse_graph_time
from connector.errors import ConfigurationError, ConnectorError
from connector.store import TriggerInstance
from triggers import audit as trigger_audit
from triggers import lifecycle
from triggers.catch_up import catch_up_watch, state_lock_name
from triggers.delivery import TriggerEvent
from triggers.delta import DEFAULT_PAGE_SIZE, start_cursor
from triggers.notifications import NotificationProcessor, watch_index
from triggers.processor import in_store

if TYPE_CHECKING:
    from connections.base import Connection
    from connector.audit import ReadPass
    from connector.http import GraphClient
    from connector.runtime import Runtime
    from connector.store import Store
    from triggers.delivery import Delivery
    from triggers.plan import TriggerPlan, Watch
    from triggers.polling import PollProgress

log = logging.getLogger("outlook_connector.triggers")

DEFAULT_RENEW_MARGIN = timedelta(hours=12)
"""Renew subscriptions expiring within this (Outlook allows ~70 h, 24 h with resource data)."""
SYNC_RENEW_MARGIN = timedelta(days=1)
"""``sync`` renews a subscription expiring within this."""
DEFAULT_CATCH_UP_EVERY = timedelta(hours=24)
"""``catch_up_due``: a webhook instance whose last delta read is older than this reads delta again,
so a notification lost while the receiver was down is delivered within a day on a quiet mailbox."""


_RETIRED_KEPT = 5

RENEWAL_LEASE_SECONDS = 600.0
"""How long a worker may take to renew one instance before another worker may take it over."""


def renewal_lease_name(instance_id: str) -> str:
    """The store lease a worker holds while it renews (and catches up) one instance."""
    return f"trigger-renew:{instance_id}"


def _spread(instances: list[TriggerInstance], worker: str) -> list[TriggerInstance]:
    """The instances in an order of this worker's own, so that workers renewing at the same
    time start at different places and share the work instead of queueing on the same leases."""
    return sorted(instances, key=lambda i: hashlib.sha256(f"{worker}\0{i.id}".encode()).digest())


DELIVERED_RETENTION = timedelta(days=7)
"""How long a delivered change's dedupe key is kept (``renew_due`` forgets older ones): Graph retries
a notification for a few hours at most, and the delta cursor moves on after every batch, so an older
change comes back only if its item changed again, under a new key."""


EVENT_RETENTION = timedelta(days=7)
"""How long an outbox event (``OutboxDelivery``) is kept when its host never prunes it (``renew_due``
forgets older ones): a host reads the outbox continuously and prunes what it read."""


@dataclass
class RenewReport:
    """What one ``renew_due`` pass did: subscription ids renewed, recreated (404 / never made) and
    instances that failed (instance id -> message)."""

    renewed: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    caught_up: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    """Instances a subscription of which was renewed or recreated, or that caught up."""
    pruned: int = 0
    """Delivered-change keys forgotten (older than ``DELIVERED_RETENTION``)."""
    skipped: list[str] = field(default_factory=list)
    """Instances another worker was renewing (it held their renewal lease)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "renewed": self.renewed,
            "recreated": self.recreated,
            "caught_up": self.caught_up,
            "failed": self.failed,
            "pruned": self.pruned,
        }


@dataclass
class SyncReport:
    """What ``sync`` did for one instance: changes delivered, subscriptions renewed or recreated."""

    instance_id: str
    kind: str
    """``webhook`` | ``polling``."""
    delivered: int = 0
    renewed: list[str] = field(default_factory=list)
    recreated: list[str] = field(default_factory=list)
    status: str = "caught_up"
    """``caught_up``, or a polling instance's ``paused`` / ``cancelled``."""
    renewal_skipped: bool = False
    """Another worker held the instance's renewal lease, so this sync left the renewal to it."""

    def to_json(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "kind": self.kind,
            "status": self.status,
            "delivered": self.delivered,
            "renewed": self.renewed,
            "recreated": self.recreated,
            "renewal_skipped": self.renewal_skipped,
        }


class TriggerService:
    """Enable, renew and disable trigger instances, and process their queued notifications.

    ``worker`` names this process's claims on the queue; ``lease_seconds`` is how long a claimed
    notification stays invisible to other workers; ``renewal_lease_seconds`` how long its lease on
    an instance it renews or catches up lasts if it dies meanwhile. ``clock`` gives epoch seconds
    (tests move it). ``page_size``: items per delta page a catch-up (or a webhook backfill) reads.
    """

    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        delivery: Delivery,
        *,
        public_url: str | None = None,
        worker: str | None = None,
        lease_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        page_size: int = DEFAULT_PAGE_SIZE,
        renewal_lease_seconds: float = RENEWAL_LEASE_SECONDS,
    ) -> None:
        if public_url is not None and not public_url.startswith(("https://", "http://")):
            raise ConnectorError("public_url must be the http(s) URL Graph can reach the receiver at")
        in_store(store, delivery)  # an outbox of another database is refused here, before any request
        self.store = store
        self.runtime = runtime
        self.delivery = delivery
        self.public_url = public_url.rstrip("/") if public_url else None
        self.worker = worker or f"worker-{secrets.token_hex(4)}"
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.page_size = page_size
        """Items per delta page a catch-up asks for."""
        self.renewal_lease_seconds = renewal_lease_seconds
        """How long this worker's renewal lease on an instance lasts (another takes it over after)."""
        self._connections: dict[str, Connection] = {}
        self._guard = threading.Lock()
        self.notifications = NotificationProcessor(self)
        """Processes the queue (``process_pending``)."""

    # -- connections and plans -----------------------------------------------------------------------
    def connection(self, name: str) -> Connection:
        with self._guard:
            found = self._connections.get(name)
        is_current = getattr(found, "is_current", None)
        if is_current is not None and not is_current():
            found = None  # deleted or saved again (maybe by another process): load what is saved now
            with self._guard:
                self._connections.pop(name, None)
        if found is None:
            from connections.registry import load_connection

            found = load_connection(self.store, name)
            with self._guard:
                found = self._connections.setdefault(name, found)
        return found

    def is_webhook(self, instance: TriggerInstance) -> bool:
        """Whether the instance's trigger works by subscriptions (else it polls)."""
        entry = self.runtime.manifest.triggers.get(instance.trigger_key)
        return entry is not None and entry.get("kind") == "webhook"

    def _client(self, instance: TriggerInstance) -> GraphClient:
        return self.runtime.client_for(self.connection(instance.connection_name))

    def plan(self, instance: TriggerInstance) -> TriggerPlan:
        plan: TriggerPlan = self.runtime.trigger_plan(
            instance.trigger_key, dict(instance.config), self.connection(instance.connection_name)
        )
        return plan

    def _reading(self, instance: TriggerInstance) -> AbstractContextManager[ReadPass]:
        """One audited Graph read pass of the instance (``triggers.audit``)."""
        mailbox = self.connection(instance.connection_name).default_mailbox
        return trigger_audit.reading(self.store, self.runtime, instance, mailbox, self.clock)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # -- enable / disable ----------------------------------------------------------------------------
    def enable(
        self,
        trigger_key: str,
        connection_name: str,
        input: Mapping[str, Any],
        *,
        backfill: str | None = None,
    ) -> TriggerInstance:
        """Create an instance and its subscriptions. Bad input raises before any request; a failure
        half-way removes what was made. ``backfill`` (``30d``, ``90d``, ``12m``, ``all``) makes the
        first catch-up deliver the existing items of that range (as ``triggers poll`` does); the
        worker's next pass or ``sync`` runs it."""
        from triggers.polling import backfill_since, first_backfill

        if backfill is not None:
            backfill_since(backfill, self.clock())  # a bad range fails before any request
        entry = self.runtime.manifest.triggers.get(trigger_key)
        if entry is not None and entry.get("kind") == "polling":
            raise ConnectorError(
                f"trigger {trigger_key!r} polls: start it with `triggers poll {trigger_key}`"
            )
        connection = self.connection(connection_name)
        plan: TriggerPlan = self.runtime.trigger_plan(trigger_key, dict(input), connection)
        from connections.shared_mailbox import webhook_refusal

        # Graph would refuse the subscription (403): say why, before anything is made
        refused = webhook_refusal(self.store, connection, [w.resource for w in plan.watches])
        if refused is not None:
            raise ConfigurationError(refused)
        if self.public_url is None:
            raise ConnectorError("enabling a trigger needs the public URL of the receiver (--public-url)")
        state = {"public_url": self.public_url, "watches": [_watch_state(w) for w in plan.watches]}
        instance = TriggerInstance.new(trigger_key, connection_name, input, state, self.clock())
        if any(w.include_resource_data for w in plan.watches):
            from triggers.rich import generate_certificate

            certificate = generate_certificate(f"outlook-connector trigger {instance.id[:12]}")
            instance = replace(
                instance,
                state={
                    **instance.state,
                    "certificate": {
                        "certificate_b64": certificate.certificate_b64,
                        "certificate_id": certificate.certificate_id,
                    },
                },
                secrets={"private_key_pem": certificate.private_key_pem.decode("ascii")},
            )
        # saved first: Graph's validation request for the new subscription must find the instance
        self.store.save_trigger_instance(instance)
        try:
            client = self.runtime.client_for(connection)
            with self._reading(instance):
                for index, watch in enumerate(plan.watches):
                    # the cursor before the subscription: no change falls between
                    if backfill is None:
                        self._set_watch(instance.id, index, cursor=start_cursor(client, watch))
                    else:
                        first = first_backfill(client, watch, backfill, self.clock())
                        self._set_watch(instance.id, index, needs_catch_up=True, **first)
                    self._subscribe(client, instance, index, watch)
        except BaseException:
            self._remove(instance.id)
            raise
        self.store.record_trigger_success(instance.id)  # subscriptions and cursors exist: healthy
        found = self.store.get_trigger_instance(instance.id)
        assert found is not None
        return found

    def disable(self, instance_id: str) -> bool:
        """Delete the instance's subscriptions (already gone is fine) and its state; False if unknown."""
        instance = self.store.get_trigger_instance(instance_id)
        if instance is None:
            return False
        self._remove(instance_id)
        return True

    def instances_using(self, connection_name: str) -> list[TriggerInstance]:
        """The trigger instances that act through connection ``connection_name``."""
        return [i for i in self.store.list_trigger_instances() if i.connection_name == connection_name]

    def disable_for_connection(self, connection_name: str) -> list[str]:
        """Disable every instance using the connection (their subscriptions are deleted while its
        credentials still work); the ids disabled. Call it before deleting or replacing the connection."""
        disabled = []
        for instance in self.instances_using(connection_name):
            self._remove(instance.id)
            disabled.append(instance.id)
        return disabled

    def _remove(self, instance_id: str) -> None:
        instance = self.store.get_trigger_instance(instance_id)
        if instance is None:
            return
        try:
            client = self._client(instance)
            for watch_state in _watches(instance):
                if watch_state.get("subscription_id"):
                    lifecycle.delete_subscription(client, watch_state["subscription_id"])
        except ConnectorError as exc:  # the connection is gone or refused: the subscriptions expire
            log.warning("trigger %s: could not delete its subscriptions: %s", instance_id, exc.message)
        finally:
            self.store.delete_trigger_instance(instance_id)

    # -- subscriptions -------------------------------------------------------------------------------
    def _subscribe(self, client: GraphClient, instance: TriggerInstance, index: int, watch: Watch) -> str:
        certificate = None
        if watch.include_resource_data:
            from triggers.rich import NotificationCertificate

            stored = instance.state["certificate"]
            certificate = NotificationCertificate(
                certificate_b64=stored["certificate_b64"],
                certificate_id=stored["certificate_id"],
                private_key_pem=instance.secrets["private_key_pem"].encode("ascii"),
                thumbprint="",
            )
        created = lifecycle.create_subscription(
            client,
            watch,
            lifecycle.Endpoints.for_instance(_public_url(instance, self.public_url), instance.id),
            instance.client_state,
            self._now(),
            certificate,
        )
        self._set_watch(
            instance.id,
            index,
            subscription_id=str(created["id"]),
            expires_at=_expiry(created),
            retire=True,
        )
        return str(created["id"])

    def _resubscribe(self, instance: TriggerInstance, index: int, watch: Watch) -> tuple[str, int]:
        """Recreate a watch's subscription, then catch up by delta; (new id, changes delivered)."""
        client = self._client(instance)
        new_id = self._subscribe(client, instance, index, watch)
        # until the catch-up has run, renew_due retries it (a refused delivery must not lose the gap)
        self._set_watch(instance.id, index, needs_catch_up=True)
        delivered = self._catch_up_watch(instance.id, index)
        return new_id, delivered

    def renew_due(self, margin: timedelta = DEFAULT_RENEW_MARGIN) -> RenewReport:
        """PATCH every active subscription expiring within ``margin``; recreate (and catch up) the
        ones Graph no longer knows."""
        report = RenewReport()
        horizon = self.clock() + margin.total_seconds()
        for instance in _spread(self.store.list_trigger_instances(), self.worker):
            if instance.status != "active" or not self.is_webhook(instance):
                continue  # paused, or a polling instance (no subscriptions)
            if not _renewal_due(instance, horizon):
                continue  # as listed: checked again under the lease, as the last holder left it
            lease = renewal_lease_name(instance.id)
            if not self.store.acquire_lease(lease, self.worker, self.renewal_lease_seconds):
                report.skipped.append(instance.id)  # another worker is renewing it now
                continue
            try:
                current = self.store.get_trigger_instance(instance.id)  # as the last holder left it
                if current is not None and current.status == "active":
                    self._renew_instance(current, horizon, report)
            except ConnectorError as exc:
                report.failed[instance.id] = exc.message
                self.store.record_trigger_error(instance.id, f"renewing: {exc.message}")
                continue
            finally:
                self.store.release_lease(lease, self.worker)
            if instance.id in report.touched:
                self.store.record_trigger_success(instance.id)  # a renewal is a sync too
        report.pruned = self.store.prune_delivered(DELIVERED_RETENTION.total_seconds())
        self.store.prune_trigger_events(older_than=EVENT_RETENTION.total_seconds())
        return report

    def _renew_instance(self, instance: TriggerInstance, horizon: float, report: RenewReport) -> None:
        plan = self.plan(instance)
        client = self._client(instance)
        for index, (watch, watch_state) in enumerate(zip(plan.watches, _watches(instance), strict=True)):
            sub_id = watch_state.get("subscription_id")
            if watch_state.get("needs_catch_up"):
                report.caught_up += self._catch_up_watch(instance.id, index)
                report.touched.add(instance.id)
            if sub_id and float(watch_state.get("expires_at") or 0) > horizon:
                continue
            report.touched.add(instance.id)
            renewed = lifecycle.renew_subscription(client, sub_id, watch, self._now()) if sub_id else None
            if renewed is not None:
                self._set_watch(instance.id, index, expires_at=_expiry(renewed))
                report.renewed.append(str(sub_id))
                continue
            current = self._require(instance.id)
            new_id, delivered = self._resubscribe(current, index, watch)
            report.recreated.append(new_id)
            report.caught_up += delivered

    # -- catch-up by delta ---------------------------------------------------------------------------
    def catch_up(self, instance_id: str, progress: Callable[[PollProgress], None] | None = None) -> int:
        """Deliver the changes since each watch's stored cursor (deduped); store the new cursor only
        after they were delivered. Returns how many changes were delivered. A successful catch-up
        is a sync (health) and resets the daily catch-up's clock. ``progress`` gets a running
        backfill's progress after each page."""
        instance = self._require(instance_id)
        plan = self.plan(instance)
        with self._reading(instance):
            delivered = sum(self._catch_up_watch(instance_id, i, progress) for i in range(len(plan.watches)))
        with self._state_lock(instance_id):
            current = self._require(instance_id)
            self.store.update_trigger_state(instance_id, {**current.state, "caught_up_at": self.clock()})
        self.store.record_trigger_success(instance_id)
        return delivered

    def sync(
        self,
        instance_id: str,
        *,
        renew_margin: timedelta = SYNC_RENEW_MARGIN,
        progress: Callable[[PollProgress], None] | None = None,
    ) -> SyncReport:
        """Sync now: a delta catch-up from the stored cursor (a polling instance: a poll), after
        renewing a subscription that expires within ``renew_margin`` (recreating one Graph lost).
        Returns the count of new changes delivered (the dedupe drops what was delivered before)."""
        instance = self._require(instance_id)
        if not self.is_webhook(instance):
            from triggers import polling

            polled = polling.poll(
                self.store,
                self.runtime,
                self.delivery,
                instance_id,
                progress=progress,
                connection=self.connection(instance.connection_name),
                clock=self.clock,
            )
            return SyncReport(instance_id, "polling", polled.delivered, status=polled.status)
        if instance.status != "active":
            raise ConnectorError(
                f"trigger instance {instance_id!r} is {instance.status}: resume it before syncing"
            )
        renewal = RenewReport()
        lease = renewal_lease_name(instance_id)
        try:
            delivered = self.catch_up(instance_id, progress)
            if not self.store.acquire_lease(lease, self.worker, self.renewal_lease_seconds):
                # a worker is renewing it right now: its renewal stands, ours would race it
                report = SyncReport(instance_id, "webhook", delivered, renewal_skipped=True)
                return report
            try:
                current = self._require(instance_id)
                self._renew_instance(current, self.clock() + renew_margin.total_seconds(), renewal)
            finally:
                self.store.release_lease(lease, self.worker)
            delivered += renewal.caught_up
        except ConnectorError as exc:
            self.store.record_trigger_error(instance_id, f"sync: {exc.message}")
            raise
        return SyncReport(instance_id, "webhook", delivered, renewal.renewed, renewal.recreated)

    def catch_up_due(self, every: timedelta = DEFAULT_CATCH_UP_EVERY) -> dict[str, int | str]:
        """Catch up every active webhook instance whose last delta read is ``every`` or more ago
        (the worker calls this with its renewal pass), under the instance's renewal lease (several
        workers share the work). Instance id -> changes delivered, or the error message of a failed
        catch-up (recorded on the instance too)."""
        done: dict[str, int | str] = {}

        def due(instance: TriggerInstance | None) -> bool:
            if instance is None or instance.status != "active" or not self.is_webhook(instance):
                return False
            last = float(instance.state.get("caught_up_at") or instance.created_at or 0.0)
            return self.clock() - last >= every.total_seconds()

        for instance in _spread(self.store.list_trigger_instances(), self.worker):
            if not due(instance):
                continue
            lease = renewal_lease_name(instance.id)
            if not self.store.acquire_lease(lease, self.worker, self.renewal_lease_seconds):
                continue  # another worker is renewing or catching it up now
            try:
                if due(self.store.get_trigger_instance(instance.id)):  # not done meanwhile by another
                    done[instance.id] = self.catch_up(instance.id)
            except ConnectorError as exc:
                done[instance.id] = exc.message
                self.store.record_trigger_error(instance.id, f"daily catch-up: {exc.message}")
            finally:
                self.store.release_lease(lease, self.worker)
        return done

    def _catch_up_watch(
        self, instance_id: str, index: int, progress: Callable[[PollProgress], None] | None = None
    ) -> int:
        """Deliver the watch's changes since its cursor (``triggers.catch_up``), under its lock."""
        lock = self.store.lock(f"trigger-catch-up:{instance_id}:{index}")
        with lock, self._reading(self._require(instance_id)):
            instance = self._require(instance_id)
            return catch_up_watch(
                self.store,
                self.delivery,
                self._client(instance),
                instance,
                self.plan(instance),
                index,
                clock=self.clock,
                page_size=self.page_size,
                progress=progress,
            )

    # -- processing queued notifications (triggers.notifications) -------------------------------------
    def process_pending(self, limit: int = 100) -> int:
        """Claim up to ``limit`` queued notifications and handle each (lifecycle events, or enrich,
        dedupe, deliver); a failure puts the notification back with backoff. Then each instance
        that had change notifications completed reads its delta once. Returns how many
        notifications were completed."""
        return self.notifications.process_pending(limit)

    def process_all(self, limit: int = 100) -> int:
        """``process_pending`` until nothing claimable is left; total completed."""
        total = 0
        while (done := self.process_pending(limit)) > 0:
            total += done
        return total

    def events_after(self, after: int = 0, limit: int = 100) -> list[tuple[int, TriggerEvent]]:
        """The outbox (``OutboxDelivery``): up to ``limit`` events after position ``after``, in
        commit order, as (position, event); keep the last position and pass it next time. A store
        bound to a principal reads only its instances' events."""
        return [(row.seq, TriggerEvent(**row.event)) for row in self.store.read_trigger_events(after, limit)]

    def prune_events(self, through: int) -> int:
        """Forget the outbox events up to position ``through`` (read and handled by the host)."""
        return self.store.prune_trigger_events(through=through)

    def handle_lifecycle(self, instance: TriggerInstance, item: Mapping[str, Any]) -> None:
        event = str(item.get("lifecycleEvent") or "")
        sub_id = str(item.get("subscriptionId") or "")
        index = watch_index(instance, sub_id)
        current = index is not None and _watches(instance)[index].get("subscription_id") == sub_id
        if index is None:
            return
        watch = self.plan(instance).watches[index]
        if event == "missed":
            self._catch_up_watch(instance.id, index)
        elif event == "subscriptionRemoved" and current:
            self._resubscribe(instance, index, watch)
        elif event == "reauthorizationRequired" and current:
            renewed = lifecycle.reauthorize_subscription(self._client(instance), sub_id, watch, self._now())
            if renewed is None:
                self._resubscribe(instance, index, watch)
            else:
                self._set_watch(instance.id, index, expires_at=_expiry(renewed))
        elif event not in ("subscriptionRemoved", "reauthorizationRequired"):
            log.info("trigger %s: unknown lifecycle event %r ignored", instance.id, event[:40])

    # -- state ---------------------------------------------------------------------------------------
    def _require(self, instance_id: str) -> TriggerInstance:
        instance = self.store.get_trigger_instance(instance_id)
        if instance is None:
            raise ConnectorError(f"no trigger instance {instance_id!r}")
        return instance

    @contextmanager
    def _state_lock(self, instance_id: str) -> Iterator[None]:
        with self.store.lock(state_lock_name(instance_id)):
            yield

    def _set_watch(self, instance_id: str, index: int, *, retire: bool = False, **values: Any) -> None:
        """Update one watch's entry in the instance's state (read-modify-write under a lock)."""
        with self._state_lock(instance_id):
            instance = self._require(instance_id)
            watches = [dict(w) for w in _watches(instance)]
            entry = watches[index]
            old = entry.get("subscription_id")
            if retire and old and old != values.get("subscription_id"):
                entry["retired"] = [*entry.get("retired", []), old][-_RETIRED_KEPT:]
            entry.update(values)
            self.store.update_trigger_state(instance_id, {**instance.state, "watches": watches})


def _renewal_due(instance: TriggerInstance, horizon: float) -> bool:
    """Whether a watch of the instance needs its catch-up, has no subscription, or one expiring
    before ``horizon`` (what ``_renew_instance`` acts on)."""
    return any(
        w.get("needs_catch_up") or not w.get("subscription_id") or float(w.get("expires_at") or 0) <= horizon
        for w in _watches(instance)
    )


def _public_url(instance: TriggerInstance, default: str | None) -> str:
    """Where the instance's receiver is: as enabled (a recreated subscription keeps it)."""
    url = instance.state.get("public_url") or default
    if not url:
        raise ConnectorError(f"trigger instance {instance.id!r} has no public URL; disable and enable it")
    return str(url)


def _watch_state(watch: Watch) -> dict[str, Any]:
    return {"resource": watch.resource, "subscription_id": None, "expires_at": None, "cursor": None}


def _watches(instance: TriggerInstance) -> list[dict[str, Any]]:
    return list(instance.state.get("watches", []))


def _expiry(subscription: Mapping[str, Any]) -> float:
    return parse_graph_time(str(subscription["expirationDateTime"])).timestamp()
