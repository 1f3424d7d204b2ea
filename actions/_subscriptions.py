"""Graph logic of change-notification subscriptions, shared by the subscription actions and triggers.

Expiry: Graph refuses an ``expirationDateTime`` beyond the resource's maximum lifetime (4,230
minutes for Outlook messages, events and contacts; 1,440 with ``includeResourceData``), so an
asked expiry is clamped to the maximum less a small margin (this host's clock and Graph's differ)
and the output says it was. Reuse: a subscription is the same one when its resource, its set of
change types and its notification URL all match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from connector.context import ActionContext, quote_segment
from connector.errors import FieldError, InputValidationError

MAX_MINUTES = 4230
"""Outlook messages, events and contacts (and what the connector assumes of other resources)."""
RICH_MAX_MINUTES = 1440
"""Any resource with includeResourceData."""
SAFETY_MINUTES = 5
"""Asked for less than the maximum, so a clock a little ahead of Graph's is not refused."""
_LONGER_LIVED = (
    (re.compile(r"^(users|groups)$", re.IGNORECASE), 41760),  # directory objects: 29 days
    (re.compile(r"^drives?/", re.IGNORECASE), 42300),  # OneDrive / SharePoint driveItems
)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def max_minutes(resource: str, include_resource_data: bool = False) -> int:
    """The longest lifetime Graph gives a subscription to ``resource``."""
    if include_resource_data:
        return RICH_MAX_MINUTES
    plain = resource.lstrip("/")
    for pattern, minutes in _LONGER_LIVED:
        if pattern.match(plain):
            return minutes
    return MAX_MINUTES


def graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_graph_time(text: str) -> datetime:
    """Graph's ``expirationDateTime`` (``2026-11-23T10:00:00.1234567Z``: up to 7 fractional digits),
    or any ISO 8601 time with an offset (read as UTC without one)."""
    head, _, fraction = text.rstrip("Zz").partition(".")
    digits = re.match(r"\d*", fraction)
    rest = fraction[digits.end() if digits else 0 :]
    moment = datetime.fromisoformat(head + rest)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if digits and digits.group():
        moment += timedelta(microseconds=int(digits.group()[:6].ljust(6, "0")))
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Expiry:
    moment: datetime
    capped: bool
    """The asked expiry was beyond the resource's maximum and was brought back to it."""


def expiry(
    resource: str,
    include_resource_data: bool,
    *,
    minutes: int | None = None,
    at: str | None = None,
    now: datetime | None = None,
) -> Expiry:
    """The expiry to send: ``at`` or ``minutes`` from now, clamped to the maximum (less the margin);
    neither: the maximum."""
    now = now or datetime.now(UTC)
    latest = now + timedelta(minutes=max_minutes(resource, include_resource_data) - SAFETY_MINUTES)
    if at is not None:
        wanted = parse_graph_time(at)
    elif minutes is not None:
        wanted = now + timedelta(minutes=minutes)
    else:
        return Expiry(latest, capped=False)
    return Expiry(latest, capped=True) if wanted > latest else Expiry(wanted, capped=False)


def check_expiry_text(value: str | None) -> str | None:
    """A pydantic check: an ISO 8601 time in the future."""
    if value is None:
        return None
    try:
        moment = parse_graph_time(value)
    except ValueError:
        raise ValueError("expected an ISO 8601 date and time, such as 2026-11-25T18:00:00Z") from None
    if moment <= datetime.now(UTC):
        raise ValueError("must be in the future")
    return value


M = TypeVar("M")


def check_one_expiry(model: M) -> M:
    """A pydantic model check: ``expiration_date_time`` or ``expiration_minutes``, not both."""
    if getattr(model, "expiration_date_time", None) is not None and (
        getattr(model, "expiration_minutes", None) is not None
    ):
        raise ValueError("expiration_date_time: give it or expiration_minutes, not both")
    return model


def check_notification_url(value: str | None) -> str | None:
    """A pydantic check: an absolute https URL (http only on this machine, for local listeners)."""
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("expected an absolute https:// URL")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise ValueError("Graph delivers only to https:// URLs (http is allowed for localhost alone)")
    if len(value) > 2048:
        raise ValueError("is longer than 2048 characters")
    return value


def check_change_types(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("lists a change type twice")
    return values


def mailbox_resource(ctx: ActionContext, resource: str, user_id: str | None) -> str:
    """``resource`` as Graph takes it (no leading slash); ``me/...`` becomes ``users/{id}/...`` when a
    mailbox is named (``user_id`` or an app-only connection's default mailbox)."""
    plain = resource.strip().lstrip("/")
    head, slash, rest = plain.partition("/")
    if head.lower() != "me" or not (user_id or ctx.connection.default_mailbox or ctx.connection.app_only):
        return plain
    return unquote(ctx.mailbox(user_id).lstrip("/")) + slash + rest


def subscription_path(subscription_id: str) -> str:
    return f"/subscriptions/{quote_segment(subscription_id)}"


def public(subscription: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A subscription as the actions output it: ``clientState`` (a shared secret that authenticates
    notifications) is never returned, only whether one is set."""
    shown = {
        k: v for k, v in subscription.items() if k != "clientState" and not k.startswith("@odata.context")
    }
    return {**shown, "hasClientState": bool(subscription.get("clientState")), **extra}


def change_type_set(value: str | Iterable[str]) -> frozenset[str]:
    parts = value.split(",") if isinstance(value, str) else value
    return frozenset(part.strip().lower() for part in parts if part.strip())


def same_resource(a: str, b: str) -> bool:
    return unquote(a).strip("/").lower() == unquote(b).strip("/").lower()


def all_subscriptions(ctx: ActionContext) -> list[dict[str, Any]]:
    """Every subscription the app holds (and a signed-in user may see): Graph pages them itself."""
    found: list[dict[str, Any]] = []
    for page in ctx.graph.iter_pages("/subscriptions"):
        found.extend(page)
    return found


def find_same(
    ctx: ActionContext, resource: str, change_types: Iterable[str], notification_url: str
) -> dict[str, Any] | None:
    """An existing subscription to the same resource, with the same change types and URL."""
    wanted = change_type_set(change_types)
    for subscription in all_subscriptions(ctx):
        if (
            same_resource(str(subscription.get("resource", "")), resource)
            and change_type_set(str(subscription.get("changeType", ""))) == wanted
            and subscription.get("notificationUrl") == notification_url
        ):
            return subscription
    return None


@dataclass(frozen=True)
class InstanceTarget:
    """Where a webhook trigger instance receives notifications, and the secret they must carry."""

    instance_id: str
    notification_url: str
    lifecycle_url: str
    client_state: str = field(repr=False)
    own_subscription_ids: frozenset[str] = frozenset()
    """The subscriptions the trigger itself made and renews (current and retired)."""


def instance_target(
    ctx: ActionContext,
    instance_id: str,
    *,
    subscribing: bool = False,
    field_name: str = "trigger_instance_id",
) -> InstanceTarget:
    """The trigger instance ``instance_id`` as a subscription target (its URLs and clientState, which
    never leaves the connector). Input errors name ``field_name``: unknown or disabled instance, a
    polling one (no URL), another connection's, no state store; with ``subscribing``, an instance
    whose trigger does not deliver subscriptions made for it."""

    def refuse(reason: str) -> InputValidationError:
        return InputValidationError([FieldError(field_name, reason)])

    if ctx.store is None:
        raise refuse("needs the connector's state store, where trigger instances are kept")
    instance = ctx.store.get_trigger_instance(instance_id)
    if instance is None or instance.status == "disabled":
        raise refuse("is not an enabled trigger instance (`outlook-connector triggers list` shows them)")
    public_url = instance.state.get("public_url")
    if not public_url:
        raise refuse("is a polling trigger instance: it has no webhook URL")
    if instance.connection_name != ctx.connection.name:
        raise refuse("belongs to another connection; run this action with the instance's connection")
    from triggers.lifecycle import Endpoints  # triggers build on actions: imported when used
    from triggers.plan import ADOPTING_TRIGGERS

    if subscribing and instance.trigger_key not in ADOPTING_TRIGGERS:
        raise refuse(
            f"is a {instance.trigger_key} instance, which reports only its own subscriptions; enable a"
            f" {' or '.join(sorted(ADOPTING_TRIGGERS))} trigger for subscriptions made here"
        )

    endpoints = Endpoints.for_instance(str(public_url), instance.id)
    own: set[str] = set()
    for watch in instance.state.get("watches", []):
        if watch.get("subscription_id"):
            own.add(str(watch["subscription_id"]))
        own.update(str(old) for old in watch.get("retired", []))
    return InstanceTarget(
        instance.id,
        endpoints.notification_url,
        endpoints.lifecycle_url,
        instance.client_state,
        frozenset(own),
    )
