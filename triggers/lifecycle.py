"""The Graph side of a trigger instance's subscriptions: create, renew, reauthorize, delete.

Pure Graph calls through the connection's ``GraphClient``; what to keep of them (ids, expiry) is
the service's business (``triggers.service``). Expiry: the resource's maximum less a small safety
margin, as the subscription actions compute it (``actions._subscriptions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from actions._subscriptions import expiry, graph_time
from connector.context import quote_segment
from connector.errors import GraphError

if TYPE_CHECKING:
    from connector.http import GraphClient
    from triggers.plan import Watch
    from triggers.rich import NotificationCertificate


@dataclass(frozen=True)
class Endpoints:
    """Where Graph posts an instance's change and lifecycle notifications."""

    notification_url: str
    lifecycle_url: str

    @classmethod
    def for_instance(cls, public_url: str, instance_id: str) -> Endpoints:
        base = f"{public_url.rstrip('/')}/hooks/{quote_segment(instance_id)}"
        return cls(f"{base}/notifications", f"{base}/lifecycle")


def expiry_for(watch: Watch, now: datetime) -> datetime:
    """The expiry to ask for: the resource's maximum from ``now``, less the safety margin."""
    return expiry(watch.resource, watch.include_resource_data, now=now).moment


def create_subscription(
    client: GraphClient,
    watch: Watch,
    endpoints: Endpoints,
    client_state: str,
    now: datetime,
    certificate: NotificationCertificate | None = None,
) -> dict[str, Any]:
    """POST /subscriptions for ``watch``; Graph's subscription (with its id and expiry)."""
    body: dict[str, Any] = {
        "changeType": ",".join(watch.change_types),
        "notificationUrl": endpoints.notification_url,
        "lifecycleNotificationUrl": endpoints.lifecycle_url,
        "resource": unquote(watch.resource),  # a JSON string: Graph takes the UPN or id as it is
        "expirationDateTime": graph_time(expiry_for(watch, now)),
        "clientState": client_state,
    }
    if watch.include_resource_data:
        if certificate is None:
            raise ValueError("a watch with includeResourceData needs an encryption certificate")
        body.update(
            includeResourceData=True,
            encryptionCertificate=certificate.certificate_b64,
            encryptionCertificateId=certificate.certificate_id,
        )
    # a repeated create would make a second subscription: send it again only on proof it did not run
    return client.post_json("/subscriptions", body, idempotent=False, mailbox="")


def renew_subscription(
    client: GraphClient, subscription_id: str, watch: Watch, now: datetime
) -> dict[str, Any] | None:
    """PATCH the expiry to the maximum from ``now``; None when the subscription is gone (404)."""
    body = {"expirationDateTime": graph_time(expiry_for(watch, now))}
    try:
        return client.patch_json(f"/subscriptions/{quote_segment(subscription_id)}", body, mailbox="")
    except GraphError as exc:
        if exc.status == 404:
            return None
        raise


def reauthorize_subscription(
    client: GraphClient, subscription_id: str, watch: Watch, now: datetime
) -> dict[str, Any] | None:
    """Answer ``reauthorizationRequired``: POST .../reauthorize, or (if Graph refuses it with
    anything but 404) renew with PATCH, which also reauthorizes. None when the subscription is gone."""
    path = f"/subscriptions/{quote_segment(subscription_id)}/reauthorize"
    try:
        client.post_json(path, None, idempotent=True, mailbox="")
    except GraphError as exc:
        if exc.status == 404:
            return None
        if exc.status in (401, 403):
            raise  # the connection lost its permission: renewing cannot fix that
    return renew_subscription(client, subscription_id, watch, now)


def delete_subscription(client: GraphClient, subscription_id: str) -> bool:
    """DELETE the subscription; False when it was already gone (404)."""
    try:
        client.delete(f"/subscriptions/{quote_segment(subscription_id)}", mailbox="")
    except GraphError as exc:
        if exc.status == 404:
            return False
        raise
    return True
