"""Change-notification subscriptions: create, list, get, renew, reauthorize and delete them (creating
a calendar's or a mail folder's, reusing an identical one, is in subscriptions_reuse.py).

Graph keeps a subscription alive for at most 4,230 minutes (1,440 with resource data); expiries
are clamped to that (``expirationCapped``). ``clientState`` is write-only here: it authenticates
notifications, so outputs say only whether one is set (``hasClientState``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from actions import _subscriptions as subs
from actions._inputs import ActionInput, GraphId, MailboxInput
from actions.models import DeletedOutput, GraphObject
from connector.context import ActionContext
from connector.errors import GraphError
from connector.schemas import returns

ChangeType = Literal["created", "updated", "deleted"]
TlsVersion = Literal["v1_0", "v1_1", "v1_2", "v1_3"]

_EXPIRY_HELP = (
    "How long the subscription lives, in minutes. Empty: the longest Graph allows (4,230 minutes"
    " for Outlook items; 1,440 with resource data). A longer value is brought back to that maximum."
)


# -- outputs ----------------------------------------------------------------------------------------
MAX_ASKED_MINUTES = 525_600
"""Longest lifetime that may be asked (a year; Graph's longest is 42,300 minutes, so anything above
is clamped anyway): larger numbers would overflow the date arithmetic."""


class Subscription(GraphObject):
    """A change-notification subscription (microsoft.graph.subscription), without its clientState."""

    id: str = Field(description="Graph id of the subscription.")
    resource: str | None = Field(
        default=None, description="What is watched, e.g. me/mailFolders('inbox')/messages."
    )
    change_type: str | None = Field(default=None, description="Comma-separated: created, updated, deleted.")
    notification_url: str | None = None
    lifecycle_notification_url: str | None = None
    expiration_date_time: str | None = Field(default=None, description="When Graph stops notifying (UTC).")
    application_id: str | None = None
    creator_id: str | None = None
    include_resource_data: bool | None = None
    encryption_certificate_id: str | None = None
    latest_supported_tls_version: str | None = None
    has_client_state: bool = Field(
        default=False, description="Whether notifications carry a clientState (the secret is not shown)."
    )


class SubscriptionOutput(Subscription):
    change_types: list[ChangeType] = Field(description="The change types, as a list.")
    expiration_capped: bool = Field(
        default=False, description="The asked expiry was beyond Graph's maximum and was brought back to it."
    )


class ReusableSubscriptionOutput(SubscriptionOutput):
    reused: bool = Field(
        description="An identical subscription (same resource, change types and URL) existed and was"
        " renewed instead of creating a second one."
    )


class SubscriptionPage(BaseModel):
    subscriptions: list[Subscription] = Field(description="The subscriptions (filters applied).")
    count: int = Field(description="How many subscriptions this output holds.")
    next_link: str | None = Field(
        default=None, description="More subscriptions remain: pass it as `page_link`. Null: the last page."
    )


class ReauthorizedOutput(BaseModel):
    reauthorized: bool
    id: str


class DeleteAllOutput(BaseModel):
    deleted: int = Field(description="How many subscriptions were deleted (or were already gone).")
    deleted_ids: list[str]
    failed: list[dict[str, str]] = Field(
        description="`{id, error}` of each subscription that could not be deleted."
    )


# -- inputs -----------------------------------------------------------------------------------------
class SubscriptionIdInput(ActionInput):
    subscription_id: GraphId = Field(
        min_length=1, title="Subscription", description="Graph id of the subscription."
    )


_INSTANCE_HELP = (
    "Send the notifications to this `webhook` trigger instance (the instance_id of its events, or"
    " `triggers list`) instead of a notification_url: its URL and secret clientState are filled in"
    " (never shown), and the trigger delivers the messages, events and contacts they report."
)


class NotificationFields(ActionInput):
    notification_url: str | None = Field(
        default=None,
        title="Notification URL",
        description="Where Graph POSTs notifications: https (http only for localhost). Graph first"
        " checks it answers its validation request. Required unless `trigger_instance_id` is given.",
        examples=["https://hooks.example.com/outlook"],
    )
    trigger_instance_id: str | None = Field(
        default=None, min_length=1, max_length=200, title="Trigger instance", description=_INSTANCE_HELP
    )
    expiration_minutes: int | None = Field(
        default=None, ge=1, le=MAX_ASKED_MINUTES, title="Lifetime (minutes)", description=_EXPIRY_HELP
    )
    client_state: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        title="Client state",
        description="A secret Graph sends back with every notification, to tell them from forgeries."
        " Never shown in outputs.",
        json_schema_extra={"format": "password", "writeOnly": True},
    )
    lifecycle_notification_url: str | None = Field(
        default=None,
        title="Lifecycle URL",
        description="Where Graph POSTs lifecycle events (reauthorizationRequired, subscriptionRemoved,"
        " missed). https (http only for localhost).",
    )

    _urls = field_validator("notification_url", "lifecycle_notification_url")(subs.check_notification_url)

    @model_validator(mode="after")
    def _one_target(self) -> NotificationFields:
        if self.trigger_instance_id is None and self.notification_url is None:
            raise ValueError("notification_url: is required (or name a trigger_instance_id)")
        if self.trigger_instance_id is not None and self.notification_url is not None:
            raise ValueError("trigger_instance_id: give it or notification_url, not both")
        if self.trigger_instance_id is not None and self.client_state is not None:
            raise ValueError("client_state: a trigger instance's own secret is used; leave it empty")
        return self


@dataclass(frozen=True)
class _Target:
    notification_url: str
    client_state: str | None = field(default=None, repr=False)


def target_of(ctx: ActionContext, params: NotificationFields) -> _Target:
    """The notification URL and clientState: as given, or the trigger instance's."""
    if params.trigger_instance_id is not None:
        instance = subs.instance_target(ctx, params.trigger_instance_id, subscribing=True)
        return _Target(instance.notification_url, instance.client_state)
    assert params.notification_url is not None  # _one_target
    return _Target(params.notification_url, params.client_state)


class CreateSubscriptionInput(MailboxInput, NotificationFields):
    resource: str = Field(
        min_length=1,
        title="Resource",
        description="The Graph resource to watch, relative to the API root. `me/...` acts on the named"
        " mailbox when `user_id` is set (or with an app-only connection).",
        examples=["me/mailFolders('inbox')/messages", "me/events", "users/ops@contoso.com/messages"],
    )
    change_types: list[ChangeType] = Field(
        min_length=1,
        max_length=3,
        title="Change types",
        description="Which changes to be told about.",
        json_schema_extra={"uniqueItems": True},
    )
    expiration_date_time: str | None = Field(
        default=None,
        title="Expires at",
        description="An exact expiry (ISO 8601, UTC without an offset) instead of `expiration_minutes`.",
        examples=["2026-11-25T18:00:00Z"],
    )
    include_resource_data: bool = Field(
        default=False,
        title="Include resource data",
        description="Notifications carry the changed item, encrypted with `encryption_certificate`.",
    )
    encryption_certificate: str | None = Field(
        default=None,
        title="Encryption certificate",
        description="Base64 DER X.509 certificate (public key) Graph encrypts resource data with.",
    )
    encryption_certificate_id: str | None = Field(
        default=None, max_length=128, title="Certificate id", description="Your name for that certificate."
    )
    latest_supported_tls_version: TlsVersion | None = Field(
        default=None,
        title="Latest TLS version",
        description="The newest TLS your endpoint supports. Empty: v1_2.",
    )

    _types = field_validator("change_types")(subs.check_change_types)
    _expiry = field_validator("expiration_date_time")(subs.check_expiry_text)

    @model_validator(mode="after")
    def _consistent(self) -> CreateSubscriptionInput:
        if self.expiration_date_time is not None and self.expiration_minutes is not None:
            raise ValueError("expiration_date_time: give it or expiration_minutes, not both")
        certificate = (self.encryption_certificate, self.encryption_certificate_id)
        if self.include_resource_data and not all(certificate):
            missing = "encryption_certificate" if not certificate[0] else "encryption_certificate_id"
            raise ValueError(f"{missing}: is required with include_resource_data")
        if not self.include_resource_data and any(certificate):
            raise ValueError("include_resource_data: the certificate is only used with include_resource_data")
        return self


def create_in(
    ctx: ActionContext,
    resource: str,
    change_types: list[str],
    params: NotificationFields,
    *,
    at: str | None = None,
    extra: dict[str, Any] | None = None,
    target: _Target | None = None,
) -> dict[str, Any]:
    target = target or target_of(ctx, params)
    rich = bool((extra or {}).get("includeResourceData"))
    expiry = subs.expiry(resource, rich, minutes=params.expiration_minutes, at=at)
    body: dict[str, Any] = {
        "changeType": ",".join(change_types),
        "notificationUrl": target.notification_url,
        "resource": resource,
        "expirationDateTime": subs.graph_time(expiry.moment),
    }
    if target.client_state:
        body["clientState"] = target.client_state
    if params.lifecycle_notification_url:
        body["lifecycleNotificationUrl"] = params.lifecycle_notification_url
    body.update(extra or {})
    # a repeated create would make a second subscription: sent again only on proof it did not run
    created = ctx.graph.post_json("/subscriptions", body, idempotent=False)
    return _output(created, capped=expiry.capped)


def _output(subscription: dict[str, Any], *, capped: bool = False, **extra: Any) -> dict[str, Any]:
    change_types = sorted(subs.change_type_set(str(subscription.get("changeType", ""))))
    return subs.public(subscription, changeTypes=change_types, expirationCapped=capped, **extra)


@returns(SubscriptionOutput)
def create_subscription(ctx: ActionContext, params: CreateSubscriptionInput) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if params.include_resource_data:
        extra.update(
            includeResourceData=True,
            encryptionCertificate=params.encryption_certificate,
            encryptionCertificateId=params.encryption_certificate_id,
        )
    if params.latest_supported_tls_version:
        extra["latestSupportedTlsVersion"] = params.latest_supported_tls_version
    resource = subs.mailbox_resource(ctx, params.resource, params.user_id)
    return create_in(
        ctx, resource, list(params.change_types), params, at=params.expiration_date_time, extra=extra
    )


# -- read -------------------------------------------------------------------------------------------
class ListSubscriptionsInput(ActionInput):
    fetch_all: bool = Field(
        default=True,
        title="Fetch all pages",
        description="Follow every page (up to `limit`). Off: one page as Graph pages them, and its"
        " `next_link`.",
    )
    limit: int | None = Field(
        default=None, ge=1, title="Limit", description="Stop after this many. Empty: no limit."
    )
    page_link: str | None = Field(
        default=None, title="Next page link", description="The `next_link` of an earlier output."
    )
    resource_contains: str | None = Field(
        default=None,
        min_length=1,
        title="Resource contains",
        description="Only subscriptions whose resource contains this text (case-insensitive).",
    )
    notification_url: str | None = Field(
        default=None,
        min_length=1,
        title="Notification URL",
        description="Only subscriptions posting to this URL.",
    )
    show_instance_webhooks: bool = Field(
        default=False,
        title="Show instance webhooks",
        description="Only subscriptions posting to the trigger instance `trigger_instance_id` names.",
    )
    trigger_instance_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        title="Trigger instance",
        description="A webhook trigger instance (the instance_id of its events): only subscriptions"
        " posting to it.",
    )

    @model_validator(mode="after")
    def _instance_named(self) -> ListSubscriptionsInput:
        if self.show_instance_webhooks and self.trigger_instance_id is None:
            raise ValueError(
                "trigger_instance_id: is required with show_instance_webhooks (the instance_id of the"
                " trigger's events)"
            )
        if self.trigger_instance_id is not None and self.notification_url is not None:
            raise ValueError("notification_url: give it or trigger_instance_id, not both")
        return self


@returns(SubscriptionPage)
def list_subscriptions(ctx: ActionContext, params: ListSubscriptionsInput) -> dict[str, Any]:
    # GET /subscriptions takes no query options: Graph pages it, and the filters apply here.
    url = params.notification_url
    if params.trigger_instance_id is not None:
        url = subs.instance_target(ctx, params.trigger_instance_id).notification_url
    pages = ctx.graph.iter_pages(
        params.page_link or "/subscriptions", max_pages=None if params.fetch_all else 1
    )
    wanted = (params.resource_contains or "").lower()
    kept: list[dict[str, Any]] = []
    for page in pages:
        for subscription in page:
            if wanted and wanted not in str(subscription.get("resource", "")).lower():
                continue
            if url and subscription.get("notificationUrl") != url:
                continue
            kept.append(subs.public(subscription))
            if params.limit and len(kept) >= params.limit:
                return {"subscriptions": kept, "count": len(kept), "next_link": pages.next_link}
    return {"subscriptions": kept, "count": len(kept), "next_link": pages.next_link}


@returns(SubscriptionOutput)
def get_subscription(ctx: ActionContext, params: SubscriptionIdInput) -> dict[str, Any]:
    return _output(ctx.graph.get_json(subs.subscription_path(params.subscription_id)))


# -- renew, move, reauthorize ---------------------------------------------------------------------------
def renew(
    ctx: ActionContext,
    subscription_id: str,
    subscription: dict[str, Any],
    minutes: int | None,
    at: str | None,
    *,
    notification_url: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """PATCH the expiry (clamped to the subscription's resource maximum) and/or the notification URL."""
    body: dict[str, Any] = {}
    capped = False
    if minutes is not None or at is not None or notification_url is None:
        rich = bool(subscription.get("includeResourceData"))
        expiry = subs.expiry(str(subscription.get("resource", "")), rich, minutes=minutes, at=at)
        body["expirationDateTime"] = subs.graph_time(expiry.moment)
        capped = expiry.capped
    if notification_url is not None:
        body["notificationUrl"] = notification_url
    updated = ctx.graph.patch_json(subs.subscription_path(subscription_id), body)
    return _output(updated, capped=capped, **extra)


class UpdateSubscriptionInput(SubscriptionIdInput):
    expiration_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ASKED_MINUTES,
        title="Lifetime (minutes)",
        description="Renew for this long (clamped to Graph's maximum).",
    )
    expiration_date_time: str | None = Field(
        default=None,
        title="Expires at",
        description="An exact new expiry (ISO 8601) instead of `expiration_minutes`.",
        examples=["2026-11-25T18:00:00Z"],
    )
    notification_url: str | None = Field(
        default=None,
        title="Notification URL",
        description="Move notifications to this URL (Graph validates it first). https; http only for"
        " localhost.",
    )

    _url = field_validator("notification_url")(subs.check_notification_url)
    _expiry = field_validator("expiration_date_time")(subs.check_expiry_text)

    @model_validator(mode="after")
    def _something(self) -> UpdateSubscriptionInput:
        if self.expiration_date_time is not None and self.expiration_minutes is not None:
            raise ValueError("expiration_date_time: give it or expiration_minutes, not both")
        if (
            self.expiration_date_time is None
            and self.expiration_minutes is None
            and self.notification_url is None
        ):
            raise ValueError("expiration_minutes: give a new expiry and/or a notification_url")
        return self


@returns(SubscriptionOutput)
def update_subscription(ctx: ActionContext, params: UpdateSubscriptionInput) -> dict[str, Any]:
    subscription = ctx.graph.get_json(
        subs.subscription_path(params.subscription_id)
    )  # its resource's maximum
    return renew(
        ctx,
        params.subscription_id,
        subscription,
        params.expiration_minutes,
        params.expiration_date_time,
        notification_url=params.notification_url,
    )


class UpdateExpirationInput(SubscriptionIdInput):
    expiration_minutes: int | None = Field(
        default=None, ge=1, le=MAX_ASKED_MINUTES, title="Lifetime (minutes)", description=_EXPIRY_HELP
    )
    expiration_date_time: str | None = Field(
        default=None,
        title="Expires at",
        description="An exact new expiry (ISO 8601) instead of `expiration_minutes` (clamped to Graph's"
        " maximum).",
        examples=["2026-11-25T18:00:00Z"],
    )

    _expiry = field_validator("expiration_date_time")(subs.check_expiry_text)

    _one_expiry = model_validator(mode="after")(subs.check_one_expiry)


@returns(SubscriptionOutput)
def update_event_subscription_expiration(ctx: ActionContext, params: UpdateExpirationInput) -> dict[str, Any]:
    subscription = ctx.graph.get_json(subs.subscription_path(params.subscription_id))
    return renew(
        ctx,
        params.subscription_id,
        subscription,
        params.expiration_minutes,
        params.expiration_date_time,
    )


@returns(ReauthorizedOutput)
def reauthorize_subscription(ctx: ActionContext, params: SubscriptionIdInput) -> dict[str, Any]:
    """Answer Graph's reauthorizationRequired lifecycle event (204 when done)."""
    ctx.graph.post_json(
        f"{subs.subscription_path(params.subscription_id)}/reauthorize", None, idempotent=True
    )
    return {"reauthorized": True, "id": params.subscription_id}


# -- delete -------------------------------------------------------------------------------------------
@returns(DeletedOutput)
def delete_subscription(ctx: ActionContext, params: SubscriptionIdInput) -> dict[str, Any]:
    ctx.graph.delete(subs.subscription_path(params.subscription_id))
    return {"deleted": True, "id": params.subscription_id}


class DeleteAllInput(ActionInput):
    notification_url: str | None = Field(
        default=None,
        min_length=1,
        title="Notification URL",
        description="Delete every subscription of the app that posts to this URL (a removed flow's"
        " endpoint). Required unless `trigger_instance_id` is given.",
        examples=["https://hooks.example.com/outlook/flow-42"],
    )
    trigger_instance_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        title="Trigger instance",
        description="Delete the subscriptions made for this webhook trigger instance (the instance_id of"
        " its events) with the subscription actions; the trigger's own stay (disable the trigger to"
        " remove them).",
    )

    @model_validator(mode="after")
    def _one_target(self) -> DeleteAllInput:
        if (self.notification_url is None) == (self.trigger_instance_id is None):
            raise ValueError("notification_url: give it or trigger_instance_id (one of them)")
        return self


@returns(DeleteAllOutput)
def delete_all_instance_subscriptions(ctx: ActionContext, params: DeleteAllInput) -> dict[str, Any]:
    url, keep = params.notification_url, frozenset[str]()
    if params.trigger_instance_id is not None:
        instance = subs.instance_target(ctx, params.trigger_instance_id)
        url, keep = instance.notification_url, instance.own_subscription_ids
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    for subscription in subs.all_subscriptions(ctx):
        if subscription.get("notificationUrl") != url or str(subscription.get("id")) in keep:
            continue
        subscription_id = str(subscription["id"])
        try:
            ctx.graph.delete(subs.subscription_path(subscription_id))
        except GraphError as exc:
            if exc.status != 404:  # 404: expired or deleted meanwhile, which is what was asked
                failed.append({"id": subscription_id, "error": exc.message})
                continue
        deleted.append(subscription_id)
    return {"deleted": len(deleted), "deleted_ids": deleted, "failed": failed}
