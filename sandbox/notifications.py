"""Subscriptions of one sandbox and their change notifications: ``SubscriptionHub``.

The hub keeps the subscriptions (``state.subscriptions``), turns every reported ``Change`` into
notification items for the subscriptions it concerns, and POSTs them to each subscription's
notificationUrl in batches of up to 100 (``{"value": [...]}``). A batch that is not answered with a
2xx is retried with backoff; after ``notification_max_attempts`` it is dropped and the subscription
gets a ``missed`` lifecycle event. Delivery runs in a background thread (``start``, every
``notification_interval`` seconds) and on demand (``deliver_pending``, deterministic for tests).
Times (expiry, backoff) follow the sandbox clock, ``SandboxConfig.clock``.

Locking: the hub has its own lock, held only briefly and never while POSTing; stores report changes
while holding ``state.lock``, so the hub never takes ``state.lock``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import httpx

from sandbox.changes import Change, ItemKind
from sandbox.config import SandboxConfig
from sandbox.seed import TENANT_ID

LOG = logging.getLogger("sandbox.notifications")

LifecycleEvent = Literal["reauthorizationRequired", "subscriptionRemoved", "missed"]
LIFECYCLE_EVENTS: tuple[str, ...] = get_args(LifecycleEvent)
CHANGE_TYPES = ("created", "updated", "deleted")
MAX_LIFETIME_MINUTES = 4230
"""Outlook resources (messages, events, contacts): just under 3 days."""
RICH_MAX_LIFETIME_MINUTES = 1440
"""With includeResourceData: 1 day."""
VALIDATION_FAILED = (
    "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
    "validation request."
)
_RESOURCE_NAMES: dict[str, tuple[str, str]] = {
    "message": ("Messages", "#Microsoft.Graph.Message"),
    "event": ("Events", "#Microsoft.Graph.Event"),
    "contact": ("Contacts", "#Microsoft.Graph.Contact"),
}
_MAX_RETRY_DELAY = 60.0
_VALIDATION_TEXT = "Validation: Testing client application reachability for subscription"
"""Graph's validation tokens read like this: spaces and colons, so receivers must URL-decode them."""


def format_time(moment: datetime) -> str:
    """Graph's subscription time format: UTC with seven fractional digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


@dataclass(frozen=True)
class Target:
    """What a subscription watches: one mailbox's messages, events or contacts, maybe in one folder
    or calendar (``container_id``; None for the whole mailbox)."""

    mailbox_id: str
    kind: ItemKind
    container_id: str | None = None


@dataclass
class Subscription:
    """A microsoft.graph.subscription as the sandbox keeps it."""

    id: str
    resource: str
    """As the client wrote it (Graph echoes it unchanged)."""
    target: Target
    change_type: str
    """Comma-separated, as given: ``created,updated``."""
    notification_url: str
    expiration: datetime
    application_id: str
    creator_id: str
    """The signed-in user's id (delegated) or the app's service principal id (app-only)."""
    app_only: bool
    client_state: str | None = None
    lifecycle_url: str | None = None
    include_resource_data: bool = False
    encryption_certificate: str | None = None
    encryption_certificate_id: str | None = None
    latest_supported_tls_version: str = "v1_2"
    notification_query_options: str | None = None
    notification_url_app_id: str | None = None
    reauthorization_required: bool = False

    @property
    def change_types(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.change_type.split(","))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": self.change_type,
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": self.notification_query_options,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": format_time(self.expiration),
            "creatorId": self.creator_id,
            "includeResourceData": self.include_resource_data,
            "latestSupportedTlsVersion": self.latest_supported_tls_version,
            "encryptionCertificate": self.encryption_certificate,
            "encryptionCertificateId": self.encryption_certificate_id,
            "notificationUrlAppId": self.notification_url_app_id,
            "notificationContentType": "application/json",
        }


@dataclass
class _Outbox:
    """A subscription's undelivered items: queued ones, and the batch being retried."""

    queued: list[dict[str, Any]] = field(default_factory=list)
    batch: list[dict[str, Any]] | None = None
    attempts: int = 0
    due: float = 0.0

    def size(self) -> int:
        return len(self.queued) + len(self.batch or ())


@dataclass(frozen=True)
class _Job:
    subscription: Subscription
    items: list[dict[str, Any]]


class SubscriptionHub:
    """The subscriptions of one sandbox, their queued change notifications, and their delivery."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._delivering = threading.Lock()
        self._subscriptions: dict[str, Subscription] = {}
        self._outboxes: dict[str, _Outbox] = {}
        self._http = httpx.Client(trust_env=False, follow_redirects=False)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.tick: Callable[[], object] | None = None
        """Called by the delivery thread before each round (the app releases deferred sends with it)."""

    # -- clock -------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.config.clock(), UTC)

    def _live(self, subscription: Subscription | None, now: float | None = None) -> bool:
        if subscription is None:
            return False
        return subscription.expiration.timestamp() > (self.config.clock() if now is None else now)

    def _purge_expired(self) -> None:
        """Forget expired subscriptions and what they had queued (caller holds the lock)."""
        now = self.config.clock()
        for sub_id in [s.id for s in self._subscriptions.values() if not self._live(s, now)]:
            self._drop(sub_id)

    def _drop(self, subscription_id: str) -> Subscription | None:
        self._outboxes.pop(subscription_id, None)
        return self._subscriptions.pop(subscription_id, None)

    # -- the store ---------------------------------------------------------------------------------------
    def add(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions[subscription.id] = subscription
            self._outboxes[subscription.id] = _Outbox()

    def get(self, subscription_id: str) -> Subscription | None:
        """A live subscription (None when unknown, deleted or expired)."""
        with self._lock:
            found = self._subscriptions.get(subscription_id)
            return found if self._live(found) else None

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            self._purge_expired()
            return list(self._subscriptions.values())

    def list(self) -> list[dict[str, Any]]:
        """Every live subscription, as Graph returns it."""
        return [s.to_json() for s in self.subscriptions()]

    def count_for_mailbox(self, mailbox_id: str) -> int:
        return sum(1 for s in self.subscriptions() if s.target.mailbox_id == mailbox_id)

    def update(self, subscription_id: str, **changes: Any) -> Subscription | None:
        with self._lock:
            found = self._subscriptions.get(subscription_id)
            if not self._live(found):
                return None
            assert found is not None
            for name, value in changes.items():
                setattr(found, name, value)
            return found

    def remove(self, subscription_id: str) -> bool:
        with self._lock:
            found = self._drop(subscription_id)
            return self._live(found)

    def expire(self, subscription_id: str) -> bool:
        """The subscription ends now, as if its expiry had passed: it is gone, and so is its queue."""
        return self.remove(subscription_id)

    def clear(self) -> None:
        with self._lock:
            self._subscriptions.clear()
            self._outboxes.clear()

    # -- changes -> queued items -------------------------------------------------------------------------
    def observe(self, change: Change) -> None:
        """Queue a notification item for every live subscription the change concerns."""
        if not self._subscriptions:
            return
        rendered: dict[str, Any] | None = None
        with self._lock:
            now = self.config.clock()
            for sub in self._subscriptions.values():
                change_type = _change_type_for(sub.target, change)
                if change_type is None or change_type not in sub.change_types or not self._live(sub, now):
                    continue
                item = _item(sub, change, change_type)
                if sub.include_resource_data and change_type != "deleted" and change.render is not None:
                    if rendered is None:
                        rendered = change.render()
                    _add_encrypted_content(item, sub, rendered)
                self._outboxes[sub.id].queued.append(item)

    def pending_count(self) -> int:
        """Items queued or waiting for a retry, over all live subscriptions."""
        with self._lock:
            self._purge_expired()
            return sum(box.size() for box in self._outboxes.values())

    # -- delivery ----------------------------------------------------------------------------------------
    def deliver_pending(self, timeout: float = 10) -> int:
        """POST every due batch now (each subscription's in order, up to 100 items a POST) and return
        how many items were delivered. A failed batch waits for its backoff before the next try; no
        new POST starts after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        if not self._delivering.acquire(timeout=max(timeout, 0)):
            return 0
        try:
            delivered = 0
            with self._lock:
                self._purge_expired()
                waiting = [sub_id for sub_id, box in self._outboxes.items() if box.size()]
            for sub_id in waiting:
                while (job := self._next_job(sub_id)) is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return delivered
                    ok = self._post(job.subscription.notification_url, self._body(job), remaining)
                    if not self._settle(job, ok):
                        break
                    delivered += len(job.items)
            return delivered
        finally:
            self._delivering.release()

    def _next_job(self, subscription_id: str) -> _Job | None:
        with self._lock:
            sub, box = self._subscriptions.get(subscription_id), self._outboxes.get(subscription_id)
            if box is None or sub is None or not self._live(sub):
                return None
            if box.batch is None:
                if not box.queued:
                    return None
                size = self.config.notification_batch_size
                box.batch, box.queued = box.queued[:size], box.queued[size:]
                box.attempts, box.due = 0, 0.0
            if box.due > self.config.clock():
                return None
            return _Job(sub, list(box.batch))

    def _settle(self, job: _Job, ok: bool) -> bool:
        """Record a POST's outcome; True when the batch was delivered."""
        missed = False
        with self._lock:
            box = self._outboxes.get(job.subscription.id)
            if box is None:  # deleted or expired meanwhile
                return ok
            if ok:
                box.batch, box.attempts = None, 0
                return True
            box.attempts += 1
            if box.attempts >= self.config.notification_max_attempts:
                LOG.warning(
                    "dropped %d notification(s) of subscription %s after %d attempts",
                    len(job.items),
                    job.subscription.id,
                    box.attempts,
                )
                box.batch, box.attempts, box.due = None, 0, 0.0
                missed = True
            else:
                delay = self.config.notification_retry_delay * 2 ** (box.attempts - 1)
                box.due = self.config.clock() + min(delay, _MAX_RETRY_DELAY)
        if missed:
            self._post_lifecycle(job.subscription, "missed")
        return False

    def _body(self, job: _Job) -> dict[str, Any]:
        body: dict[str, Any] = {"value": job.items}
        if job.subscription.include_resource_data:
            body["validationTokens"] = [_validation_token(job.subscription)]
        return body

    def _post(self, url: str, body: dict[str, Any], timeout: float) -> bool:
        try:
            response = self._http.post(url, json=body, timeout=min(self.config.notification_timeout, timeout))
        except httpx.HTTPError as exc:
            LOG.info("notification POST failed: %s", type(exc).__name__)
            return False
        return 200 <= response.status_code < 300

    # -- lifecycle events --------------------------------------------------------------------------------
    def send_lifecycle(self, subscription_id: str, event: str) -> bool:
        """POST a lifecycle event to the subscription's lifecycleNotificationUrl (one try); True when
        it was answered with a 2xx. ``subscriptionRemoved`` also deletes the subscription;
        ``reauthorizationRequired`` marks it until it is reauthorized (or renewed).
        Raises LookupError for an unknown subscription, ValueError for an unknown event."""
        if event not in LIFECYCLE_EVENTS:
            raise ValueError(f"unknown lifecycle event {event!r}: use one of {', '.join(LIFECYCLE_EVENTS)}")
        with self._lock:
            sub = self._subscriptions.get(subscription_id)
            if sub is None or not self._live(sub):
                raise LookupError(f"no subscription {subscription_id!r}")
            if event == "subscriptionRemoved":
                self._drop(subscription_id)
            elif event == "reauthorizationRequired":
                sub.reauthorization_required = True
        return self._post_lifecycle(sub, event)

    def _post_lifecycle(self, sub: Subscription, event: str) -> bool:
        if not sub.lifecycle_url:
            return False
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": format_time(sub.expiration),
            "lifecycleEvent": event,
            "resource": sub.resource,
            "clientState": sub.client_state,
            "organizationId": TENANT_ID,
            "tenantId": TENANT_ID,
        }
        return self._post(sub.lifecycle_url, {"value": [item]}, self.config.notification_timeout)

    # -- endpoint validation -----------------------------------------------------------------------------
    def validate_endpoint(self, url: str) -> str | None:
        """Graph's handshake: POST ``url?validationToken=...`` (text/plain, empty body); the endpoint
        must answer 200 with the token as its body within ``validation_timeout``. Returns None when
        it did, else the error message Graph gives."""
        token = f"{_VALIDATION_TEXT} Request-Id: {uuid.uuid4()}"
        try:
            response = self._http.post(
                httpx.URL(url).copy_merge_params({"validationToken": token}),
                content=b"",
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=self.config.validation_timeout,
            )
        except httpx.TimeoutException:
            return "Subscription validation request timed out."
        except httpx.HTTPError:
            return VALIDATION_FAILED
        if response.status_code != 200:
            return VALIDATION_FAILED
        if response.text != token:
            return (
                "Subscription validation request failed. Response must exactly match validationToken "
                "query parameter."
            )
        return None

    # -- the delivery thread -----------------------------------------------------------------------------
    def start(self) -> None:
        """Deliver in a daemon thread every ``notification_interval`` seconds (0 disables it)."""
        interval = self.config.notification_interval
        if interval <= 0 or (self._thread is not None and self._thread.is_alive()):
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(interval, self._stop), name="sandbox-notifications", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=self.config.notification_timeout + 2)

    def _run(self, interval: float, stop: threading.Event) -> None:
        while not stop.wait(interval):
            try:
                if self.tick is not None:
                    self.tick()
                self.deliver_pending(timeout=max(interval, self.config.notification_timeout))
            except Exception:  # the thread must outlive one bad delivery
                LOG.exception("notification delivery failed")


def _change_type_for(target: Target, change: Change) -> str | None:
    """The change as a subscription to ``target`` sees it, or None when it does not concern it."""
    if change.mailbox_id != target.mailbox_id or change.kind != target.kind:
        return None
    if target.container_id is None:
        return change.change_type
    previous = change.previous_container_id
    if previous is not None and previous != change.container_id:  # moved, keeping its id
        if target.container_id == previous:
            return "deleted"
        return "created" if target.container_id == change.container_id else None
    return change.change_type if target.container_id == change.container_id else None


def _item(sub: Subscription, change: Change, change_type: str) -> dict[str, Any]:
    segment, odata_type = _RESOURCE_NAMES[change.kind]
    resource = f"Users/{change.mailbox_id}/{segment}/{change.item_id}"
    return {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": format_time(sub.expiration),
        "changeType": change_type,
        "resource": resource,
        "resourceData": {
            "@odata.type": odata_type,
            "@odata.id": resource,
            "@odata.etag": f'W/"{change.change_key}"',
            "id": change.item_id,
        },
        "clientState": sub.client_state,
        "tenantId": TENANT_ID,
    }


def _add_encrypted_content(item: dict[str, Any], sub: Subscription, resource: dict[str, Any]) -> None:
    try:
        from sandbox.rich_content import encrypt_resource

        item["encryptedContent"] = encrypt_resource(
            resource, sub.encryption_certificate or "", sub.encryption_certificate_id or ""
        )
    except Exception:  # a bad certificate must not fail the mailbox change that triggered this
        LOG.exception("could not encrypt resource data for subscription %s", sub.id)


def _validation_token(sub: Subscription) -> str:
    from sandbox.rich_content import sign_validation_token  # helper E2's module

    return str(sign_validation_token(app_id=sub.application_id, tenant_id=TENANT_ID))
