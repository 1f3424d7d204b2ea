"""Processing the queued notifications of trigger instances (``TriggerService.process_pending``).

A worker claims queue rows with a lease (``Store.claim_notifications``) and handles each:
a lifecycle event goes to the service (``TriggerService.handle_lifecycle``); a change notification
is enriched (the item read from Graph, or decrypted from ``encryptedContent``), deduped and
delivered (``triggers.processor.deliver_queued_change``), and its row completed in the same
transaction as the delivery's record, while the row is still this worker's claim. A failure puts
the row back with backoff (only if it is still this worker's); later notifications of the same
item wait for an earlier one that failed, so an item's ``created`` goes out first. After each batch
every instance that had change rows completed reads its delta once (``TriggerService.catch_up``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connector.audit import note_resource_data
from connector.errors import ConnectorError, GraphError
from triggers import audit as trigger_audit
from triggers.catch_up import attachments
from triggers.delta import Change
from triggers.plan import ADOPTING_TRIGGERS
from triggers.processor import deliver_queued_change

if TYPE_CHECKING:
    from connector.audit import ReadPass
    from connector.store import QueuedNotification, TriggerInstance
    from triggers.plan import TriggerPlan
    from triggers.rich import TokenValidator
    from triggers.service import TriggerService

log = logging.getLogger("outlook_connector.triggers")

MAX_RETRY_DELAY = 300.0
_HELD = "trigger-held-items"
"""kv namespace: (instance, item id) -> seq of its earliest failed notification; later ones wait."""
_HELD_TTL = 86400.0


class NotificationProcessor:
    """The queue-processing part of a ``TriggerService`` (its store, runtime, delivery, worker
    name, lease and clock)."""

    def __init__(self, service: TriggerService) -> None:
        self.service = service
        self._validators: dict[str, TokenValidator] = {}
        self._guard = threading.Lock()

    def process_pending(self, limit: int = 100) -> int:
        """See ``TriggerService.process_pending``."""
        service = self.service
        completed = 0
        synced: set[str] = set()
        passes: dict[str, ReadPass] = {}  # one audited read pass per instance for the whole batch
        try:
            for row in service.store.claim_notifications(service.worker, limit, service.lease_seconds):
                if self._process_row(row, passes):
                    completed += 1
                    if row.kind == "change":
                        synced.add(row.instance_id)
        finally:
            for audited in passes.values():
                audited.close()
        for instance_id in sorted(synced):
            self._advance_cursor(instance_id)
        return completed

    def _advance_cursor(self, instance_id: str) -> None:
        """Read delta once after delivering an instance's notifications, so its stored cursor keeps
        up with what the host knows: delta reports a deletion (``@removed``) only for items its
        cursor's round returned, so a later gap caught up from an old cursor would miss deletions
        of items the webhook delivered since. The changes just delivered come back and are deduped."""
        store = self.service.store
        instance = store.get_trigger_instance(instance_id)
        if instance is None or instance.status != "active":
            return
        try:
            self.service.catch_up(instance_id)
        except Exception as exc:  # the next pass (or a missed/renew catch-up) tries again
            message = exc.message if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
            log.warning("trigger %s: delta read after notifications failed: %s", instance_id, message)
            store.record_trigger_error(instance_id, f"delta catch-up: {message}")

    def _process_row(self, row: QueuedNotification, passes: dict[str, ReadPass]) -> bool:
        service = self.service
        store, worker = service.store, service.worker
        instance = store.get_trigger_instance(row.instance_id)
        if instance is None or instance.status == "disabled":
            store.finish_notification(row.seq, worker)
            return True
        if instance.status == "paused":
            store.retry_notification(row.seq, "the trigger is paused", service.lease_seconds, worker)
            return False
        held_key = None
        if row.kind != "lifecycle":
            if not _usable_id(_resource_id(row.item)):
                log.warning("trigger %s: notification %s: no usable item id, dropped", instance.id, row.seq)
                store.finish_notification(row.seq, worker)
                return True
            held_key = _held_key(instance.id, row.item)
            held = store.kv_get(_HELD, held_key)
            if held is not None and int(held) < row.seq:
                if store.is_queued(int(held)):
                    # an earlier notification of this item failed: keep the item's order (created first)
                    store.retry_notification(row.seq, "waiting for an earlier notification", 1.0, worker)
                    return False
                store.kv_delete(_HELD, held_key)  # done, by a worker that died before forgetting it
        try:
            if instance.id not in passes:
                mailbox = service.connection(instance.connection_name).default_mailbox
                audited = trigger_audit.batch_pass(store, service.runtime, instance, mailbox, service.clock)
                passes[instance.id] = audited
            with passes[instance.id].reading():
                if row.kind == "lifecycle":
                    service.handle_lifecycle(instance, row.item)
                    finished = False
                else:
                    finished = self._handle_change(instance, row)
        except Exception as exc:  # the host refused, Graph failed, ...: try again later
            message = exc.message if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, ConnectorError):
                log.warning("trigger %s: notification %s failed: %s", instance.id, row.seq, message)
            if held_key is not None:
                store.kv_add(_HELD, held_key, row.seq, ttl=_HELD_TTL)
            store.retry_notification(row.seq, message, _backoff(row.attempts), worker)
            store.record_trigger_error(instance.id, message)
            return False
        if held_key is not None and store.kv_get(_HELD, held_key) == row.seq:
            store.kv_delete(_HELD, held_key)
        if not finished:  # nothing delivered (or the claim was lost): complete it if still ours
            store.finish_notification(row.seq, worker)
        store.record_trigger_success(instance.id)
        return True

    def _handle_change(self, instance: TriggerInstance, row: QueuedNotification) -> bool:
        """Enrich, dedupe and deliver the row's change; True if its row was completed with the
        delivery's record."""
        item = row.item
        service = self.service
        plan = service.plan(instance)
        subscription_id = str(item.get("subscriptionId") or "")
        index = watch_index(instance, subscription_id)
        if index is None:
            # a subscription made with the subscription actions for this instance: the receiver
            # checked it carries the instance's clientState, which only the connector holds
            item_kind = _item_kind(item) if instance.trigger_key in ADOPTING_TRIGGERS else None
            if item_kind is None:
                log.info("trigger %s: notification of an unknown subscription dropped", instance.id)
                return False
        else:
            item_kind = plan.watches[index].item_kind
        change = self._change_from_item(instance, plan, item)
        if change is None:
            return False
        return deliver_queued_change(
            service.store,
            service.delivery,
            instance,
            change,
            (row.seq, service.worker),
            item_kind=item_kind,
            subscription_id=str(item.get("subscriptionId")),
            received_at=row.received_at,
        )

    def _change_from_item(
        self, instance: TriggerInstance, plan: TriggerPlan, item: Mapping[str, Any]
    ) -> Change | None:
        change_type = str(item.get("changeType") or "")
        data = item.get("resourceData") or {}
        resource_id = _resource_id(item)
        if change_type == "deleted":
            return Change("deleted", resource_id, None, None)
        client = self.service.runtime.client_for(self.service.connection(instance.connection_name))
        resource = self._decrypt(instance, item) if "encryptedContent" in item else None
        if resource is not None:
            note_resource_data()  # audited like a read of the item
        else:
            try:
                resource = client.get_json(_item_path(item))
            except GraphError as exc:
                if exc.status == 404:
                    return None  # gone since: its deleted notification follows
                raise
        if plan.only_with_attachments and not resource.get("hasAttachments"):
            return None
        if plan.expand_attachments:
            try:
                resource["attachments"] = attachments(client, resource, _item_path(item))
            except GraphError as exc:
                if exc.status == 404:
                    return None
                raise
        change_key = resource.get("changeKey") or _etag_key(data.get("@odata.etag"))
        return Change(change_type, resource_id, change_key, resource)

    def _decrypt(self, instance: TriggerInstance, item: Mapping[str, Any]) -> dict[str, Any] | None:
        """The item's ``encryptedContent``, once its ``validationTokens`` proved the POST came from
        Graph; None (read the item from Graph instead) when it cannot be trusted or decrypted."""
        from triggers.rich import RichNotificationError, decrypt_content

        key = instance.secrets.get("private_key_pem")
        if not key:
            return None
        try:
            tokens = item.get("validationTokens")
            if not isinstance(tokens, list) or not tokens:
                raise RichNotificationError("the notification carries no validationTokens")
            self._validator(instance, item).check([str(t) for t in tokens])
            return decrypt_content(
                item["encryptedContent"],
                key.encode("ascii"),
                expected_certificate_id=instance.state.get("certificate", {}).get("certificate_id"),
            )
        except RichNotificationError as exc:
            if exc.retryable:
                raise
            log.warning("trigger %s: resource data not used (%s); reading the item", instance.id, exc.reason)
            return None

    def _validator(self, instance: TriggerInstance, item: Mapping[str, Any]) -> TokenValidator:
        from triggers.rich import TokenValidator, jwks_url_for

        connection = self.service.connection(instance.connection_name)
        config: Any = getattr(connection, "config", None)
        registration = config.registration(connection.name)
        tenant = str(getattr(config, "tenant", "") or "")
        if tenant in ("", "common", "organizations", "consumers") or "." in tenant:
            tenant = str(item.get("tenantId") or "")
        cache_key = f"{connection.name}\0{tenant}"
        with self._guard:
            validator = self._validators.get(cache_key)
            if validator is None:
                jwks = jwks_url_for(str(config.endpoints().login_base_url), tenant)
                validator = TokenValidator(jwks, registration.client_id, [tenant])
                self._validators[cache_key] = validator
        return validator


def watch_index(instance: TriggerInstance, subscription_id: str) -> int | None:
    """The watch a subscription id belongs to (current or retired), None for a stranger."""
    for index, entry in enumerate(instance.state.get("watches", [])):
        if subscription_id and (
            entry.get("subscription_id") == subscription_id or subscription_id in entry.get("retired", [])
        ):
            return index
    return None


def _resource_id(item: Mapping[str, Any]) -> str:
    """The changed item's id: ``resourceData.id``, else the last part of ``resource``."""
    data = item.get("resourceData")
    found = data.get("id") if isinstance(data, Mapping) else None
    return str(found or str(item.get("resource") or "").rsplit("/", 1)[-1])


def _usable_id(resource_id: str) -> bool:
    """Graph's ids are short and printable; anything else (a NUL byte, which PostgreSQL's text
    columns refuse, or a huge id) would fail every try of its row."""
    return 0 < len(resource_id) <= 1000 and resource_id.isprintable()


def _held_key(instance_id: str, item: Mapping[str, Any]) -> str:
    return f"{instance_id}\n{_resource_id(item)}"


def _etag_key(etag: Any) -> str | None:
    """``W/"CQAAABYAAAC..."`` -> the change key inside."""
    if not isinstance(etag, str) or not etag:
        return None
    return etag.removeprefix("W/").strip('"') or None


_ITEM_KINDS = {"messages": "message", "events": "event", "contacts": "contact"}


def _item_kind(item: Mapping[str, Any]) -> str | None:
    """``Users/{id}/Messages/{id}`` -> ``message`` (events, contacts likewise); None otherwise."""
    parts = str(item.get("resource") or "").strip("/").split("/")
    return _ITEM_KINDS.get(parts[-2].lower()) if len(parts) >= 2 else None


def _item_path(item: Mapping[str, Any]) -> str:
    """The changed item's Graph path, from a notification's ``resource`` (``Users/{id}/Messages/{id}``)."""
    return "/" + str(item.get("resource") or "").lstrip("/")


def _backoff(attempts: int) -> float:
    """Seconds before a failed notification is tried again: 1, 2, 4 ... up to 5 minutes."""
    return float(min(MAX_RETRY_DELAY, 2 ** max(0, attempts - 1)))
