"""``/subscriptions``: create (with Graph's validation handshake), list, get, renew, delete, reauthorize.

Outlook resources only: ``me/`` or ``users/{id or UPN}/`` followed by ``messages``,
``mailFolders('{id}')/messages``, ``mailFolders/{id}/messages``, ``events``, ``calendar/events``,
``calendars/{id}/events`` or ``contacts`` (leading slash optional, case-insensitive). The store,
queue and delivery are ``state.subscriptions`` (sandbox/notifications.py).
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, request

from sandbox import seed
from sandbox.auth import Principal, resolve_user
from sandbox.calendar_seed import calendars_of
from sandbox.changes import ItemKind
from sandbox.errors import GraphError, bad_request, invalid_request_body
from sandbox.graph import collection, context_url, entity, json_body, no_content, principal
from sandbox.notifications import (
    CHANGE_TYPES,
    MAX_LIFETIME_MINUTES,
    RICH_MAX_LIFETIME_MINUTES,
    Subscription,
    SubscriptionHub,
    Target,
)
from sandbox.state import SandboxState, current_state

_RESOURCE = re.compile(r"^/?(?:me|users/(?P<user>[^/()]+))/(?P<rest>.+?)/?$", re.IGNORECASE)
_COLLECTIONS: tuple[tuple[re.Pattern[str], ItemKind], ...] = (
    (re.compile(r"^messages$", re.IGNORECASE), "message"),
    (re.compile(r"^mailfolders(?:\('(?P<id>[^']+)'\)|/(?P<id2>[^/]+))/messages$", re.IGNORECASE), "message"),
    (re.compile(r"^events$", re.IGNORECASE), "event"),
    (re.compile(r"^(?P<default>calendar)/events$", re.IGNORECASE), "event"),
    (re.compile(r"^calendars(?:\('(?P<id>[^']+)'\)|/(?P<id2>[^/]+))/events$", re.IGNORECASE), "event"),
    (re.compile(r"^contacts$", re.IGNORECASE), "contact"),
)
# Permissions that allow subscribing: (delegated, on the signed-in user's own mailbox; application).
_PERMISSIONS: dict[str, tuple[set[str], set[str]]] = {
    "message": (
        {"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"},
        {"Mail.ReadBasic.All", "Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"},
    ),
    "event": ({"Calendars.Read", "Calendars.ReadWrite"}, {"Calendars.Read", "Calendars.ReadWrite"}),
    "contact": ({"Contacts.Read", "Contacts.ReadWrite"}, {"Contacts.Read", "Contacts.ReadWrite"}),
}
_REQUIRED = ("changeType", "notificationUrl", "resource", "expirationDateTime")
_STRINGS = (
    "changeType", "notificationUrl", "resource", "expirationDateTime", "clientState",
    "lifecycleNotificationUrl", "encryptionCertificate", "encryptionCertificateId",
    "latestSupportedTlsVersion", "notificationQueryOptions", "notificationUrlAppId",
    "notificationContentType",
)  # fmt: skip
_IGNORED = ("@odata.type", "id", "applicationId", "creatorId")
_UPDATABLE = ("expirationDateTime", "notificationUrl")
_TLS_VERSIONS = ("v1_0", "v1_1", "v1_2", "v1_3")
_MAX_CLIENT_STATE = 128


# -- errors --------------------------------------------------------------------------------------------
def _not_found() -> GraphError:
    return GraphError(404, "ResourceNotFound", "The object was not found.")


def _extension_error(status: int, reason: str) -> GraphError:
    """Graph's subscription service wraps failures of the Outlook side like this."""
    return GraphError(
        status,
        "ExtensionError",
        f"Operation: Create; Exception: [Status Code: {_STATUS_NAMES.get(status, status)}; Reason: {reason}]",
    )


_STATUS_NAMES = {400: "BadRequest", 403: "Forbidden", 404: "NotFound"}


# -- parsing -------------------------------------------------------------------------------------------
def _target(state: SandboxState, who: Principal, resource: str) -> Target:
    """What ``resource`` names, after checking the caller may subscribe to it."""
    match = _RESOURCE.match(resource.strip())
    kind: ItemKind | None = None
    container_ref: str | None = None
    if match is not None:
        for pattern, candidate in _COLLECTIONS:
            found = pattern.match(match.group("rest"))
            if found is not None:
                kind = candidate
                groups = found.groupdict()
                container_ref = "" if groups.get("default") else groups.get("id") or groups.get("id2")
                break
    if match is None or kind is None:
        raise bad_request(
            f"The resource '{resource}' is not supported. The sandbox serves subscriptions to me/ or "
            "users/{id}/ followed by messages, mailFolders('{id}')/messages, events, calendar/events, "
            "calendars/{id}/events or contacts.",
            "InvalidRequest",
        )
    owner = resolve_user(state, who, match.group("user"), mailbox=True)
    delegated, application = _PERMISSIONS[kind]
    if who.app_only:
        allowed = who.has_any(application)
    else:  # delegated: only the signed-in user's own mailbox (Graph does not take .Shared here)
        allowed = owner["id"] == who.user_id and who.has_any(delegated)
    if not allowed:
        raise _extension_error(403, "Access is denied. Check credentials and try again.")
    container_id = None
    if container_ref is not None:
        container_id = _container(state, owner["id"], kind, container_ref)
    return Target(owner["id"], kind, container_id)


def _container(state: SandboxState, user_id: str, kind: ItemKind, ref: str) -> str:
    """The folder (messages) or calendar (events) id ``ref`` names ("" is the default calendar)."""
    with state.lock:
        if kind == "message":
            folder = state.mailbox(user_id).resolve_folder(ref)
            if folder is not None:
                return folder.id
        else:
            box = calendars_of(state).users[user_id]
            if ref == "":
                return str(box.default_calendar["id"])
            if ref in box.calendars:
                return ref
    raise _extension_error(404, "The specified object was not found in the store.")


def _string(payload: dict[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is not None and not isinstance(value, str):
        raise bad_request(f"Cannot convert the literal '{value}' to the expected type 'Edm.String'.")
    return value


def _check_properties(payload: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for name in payload:
        if name not in allowed and name not in _IGNORED:
            raise invalid_request_body(name, "subscription")


def _change_type(value: str) -> str:
    parts = [part.strip() for part in value.split(",")]
    if not value.strip() or any(part not in CHANGE_TYPES for part in parts):
        raise bad_request(
            f"Invalid changeType '{value}': use created, updated and/or deleted, comma-separated.",
            "InvalidRequest",
        )
    return ",".join(parts)


def _url(value: str, name: str) -> str:
    """An absolute https URL, as Graph requires (http too when the sandbox's local option is set)."""
    if not re.match(r"^https?://[^/\s?#]+", value, re.IGNORECASE) or any(c.isspace() for c in value):
        raise bad_request(f"Invalid {name} '{value}': it must be an absolute https URL.", "InvalidRequest")
    own = value.lower().startswith(f"{request.host_url.lower()}_sandbox/webhooks/")  # the sandbox's own
    if value[:5].lower() != "https" and not own and not current_state().config.http_notification_urls:
        raise bad_request(
            f"Invalid {name} '{value}': the notification URL must use https.", "ValidationError"
        )
    return value


def _expiration(value: str, now: datetime, rich: bool) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise bad_request(
            f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset'."
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # Graph reads it as UTC
    if moment <= now:
        raise bad_request("Subscription expiration can only be in the future.", "ExtensionError")
    limit = RICH_MAX_LIFETIME_MINUTES if rich else MAX_LIFETIME_MINUTES
    if moment > now + timedelta(minutes=limit):
        raise bad_request(
            f"Subscription expiration can only be {limit} minutes in the future.", "ExtensionError"
        )
    return moment


def _certificate(value: str | None, certificate_id: str | None) -> None:
    """includeResourceData needs a certificate (base64 DER X.509) and its id."""
    if not value:
        raise bad_request(
            "A valid encryptionCertificate is required when includeResourceData is true.", "ValidationError"
        )
    if not certificate_id:
        raise bad_request(
            "encryptionCertificateId is required when includeResourceData is true.", "ValidationError"
        )
    from cryptography import x509

    try:
        x509.load_der_x509_certificate(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise bad_request(
            "The encryptionCertificate is not a base64-encoded X.509 certificate.", "ValidationError"
        ) from None
    if importlib.util.find_spec("sandbox.rich_content") is None:
        raise bad_request("This sandbox cannot encrypt resource data: includeResourceData is not available.")


def _validate_endpoint(hub: SubscriptionHub, url: str) -> None:
    problem = hub.validate_endpoint(url)
    if problem is not None:
        raise bad_request(problem, "ValidationError")


# -- visibility ----------------------------------------------------------------------------------------
def _visible(subscription: Subscription, who: Principal) -> bool:
    """Apps see their own subscriptions; delegated callers those created for their user."""
    if subscription.application_id != who.app_id:
        return False
    return who.app_only or subscription.creator_id == who.user_id


def _find(subscription_id: str) -> tuple[SubscriptionHub, Subscription]:
    hub = current_state().subscriptions
    found = hub.get(subscription_id)
    if found is None or not _visible(found, principal()):
        raise _not_found()
    return hub, found


def _entity(subscription: Subscription, status: int = 200) -> Response:
    return entity(context_url("subscriptions/$entity"), subscription.to_json(), status)


# -- handlers ------------------------------------------------------------------------------------------
def create_subscription() -> Response:
    state = current_state()
    who = principal()
    payload = json_body()
    if not isinstance(payload, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    _check_properties(payload, (*_STRINGS, "includeResourceData"))
    strings = {name: _string(payload, name) for name in _STRINGS}
    for name in _REQUIRED:
        if not strings[name]:
            raise bad_request(f"{name} is a required property for subscription creation.", "InvalidRequest")
    rich = payload.get("includeResourceData") or False
    if not isinstance(rich, bool):
        raise bad_request(f"Cannot convert the literal '{rich}' to the expected type 'Edm.Boolean'.")
    change_type = _change_type(str(strings["changeType"]))
    notification_url = _url(str(strings["notificationUrl"]), "notificationUrl")
    lifecycle_url = strings["lifecycleNotificationUrl"]
    if lifecycle_url:
        lifecycle_url = _url(lifecycle_url, "lifecycleNotificationUrl")
    expiration = _expiration(str(strings["expirationDateTime"]), state.subscriptions.now(), rich)
    client_state = strings["clientState"]
    if client_state is not None and len(client_state) > _MAX_CLIENT_STATE:
        raise bad_request(
            f"clientState can be at most {_MAX_CLIENT_STATE} characters long.", "ValidationError"
        )
    tls = strings["latestSupportedTlsVersion"] or "v1_2"
    if tls not in _TLS_VERSIONS:
        raise bad_request(
            f"Invalid latestSupportedTlsVersion '{tls}': use one of {', '.join(_TLS_VERSIONS)}.",
            "InvalidRequest",
        )
    if rich:
        _certificate(strings["encryptionCertificate"], strings["encryptionCertificateId"])
    target = _target(state, who, str(strings["resource"]))
    hub = state.subscriptions
    limit = state.config.max_subscriptions_per_mailbox
    if hub.count_for_mailbox(target.mailbox_id) >= limit:
        raise GraphError(
            403,
            "ExtensionError",
            f"Operation: Create; Exception: [Status Code: Forbidden; Reason: Resource "
            f"'SubscriptionCountReached' has reached limit of '{limit}'.]",
        )
    _validate_endpoint(hub, notification_url)
    if lifecycle_url and lifecycle_url != notification_url:
        _validate_endpoint(hub, lifecycle_url)
    subscription = Subscription(
        id=str(uuid.uuid4()),
        resource=str(strings["resource"]),
        target=target,
        change_type=change_type,
        notification_url=notification_url,
        expiration=expiration,
        application_id=who.app_id,
        creator_id=seed.SERVICE_PRINCIPAL_ID if who.app_only else str(who.user_id),
        app_only=who.app_only,
        client_state=client_state,
        lifecycle_url=lifecycle_url or None,
        include_resource_data=rich,
        encryption_certificate=strings["encryptionCertificate"],
        encryption_certificate_id=strings["encryptionCertificateId"],
        latest_supported_tls_version=tls,
        notification_query_options=strings["notificationQueryOptions"],
        notification_url_app_id=strings["notificationUrlAppId"],
    )
    hub.add(subscription)
    return _entity(subscription, 201)


def list_subscriptions() -> Response:
    who = principal()
    hub = current_state().subscriptions
    values = [s.to_json() for s in hub.subscriptions() if _visible(s, who)]
    return collection(context_url("subscriptions"), values)


def get_subscription(subscription_id: str) -> Response:
    _hub, found = _find(subscription_id)
    return _entity(found)


def update_subscription(subscription_id: str) -> Response:
    """Renew (expirationDateTime) and/or move (notificationUrl, validated again)."""
    hub, found = _find(subscription_id)
    payload = json_body()
    if not isinstance(payload, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    for name in payload:
        if name not in _UPDATABLE and name not in ("@odata.type",):
            raise bad_request(
                f"The property '{name}' cannot be updated: only expirationDateTime and notificationUrl can.",
                "InvalidRequest",
            )
    expiration_text, url = _string(payload, "expirationDateTime"), _string(payload, "notificationUrl")
    if not expiration_text and not url:
        raise bad_request(
            "Subscription must contain either the 'expirationDateTime' or 'notificationUrl' property and "
            "its value.",
            "InvalidRequest",
        )
    changes: dict[str, Any] = {}
    if expiration_text:
        changes["expiration"] = _expiration(expiration_text, hub.now(), found.include_resource_data)
        changes["reauthorization_required"] = False
    if url and url != found.notification_url:
        _validate_endpoint(hub, _url(url, "notificationUrl"))
        changes["notification_url"] = url
    updated = hub.update(subscription_id, **changes)
    if updated is None:  # deleted or expired meanwhile
        raise _not_found()
    return _entity(updated)


def delete_subscription(subscription_id: str) -> Response:
    hub, _found = _find(subscription_id)
    if not hub.remove(subscription_id):
        raise _not_found()
    return no_content()


def reauthorize_subscription(subscription_id: str) -> Response:
    hub, _found = _find(subscription_id)
    if hub.update(subscription_id, reauthorization_required=False) is None:
        raise _not_found()
    return no_content()


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/subscriptions", "create_subscription", create_subscription, methods=["POST"])
    bp.add_url_rule("/subscriptions", "list_subscriptions", list_subscriptions, methods=["GET"])
    one = "/subscriptions/<subscription_id>"
    bp.add_url_rule(one, "get_subscription", get_subscription, methods=["GET"])
    bp.add_url_rule(one, "update_subscription", update_subscription, methods=["PATCH"])
    bp.add_url_rule(one, "delete_subscription", delete_subscription, methods=["DELETE"])
    for number, action in enumerate(("reauthorize", "microsoft.graph.reauthorize")):
        bp.add_url_rule(
            f"{one}/{action}",
            f"reauthorize_subscription_{number}",
            reauthorize_subscription,
            methods=["POST"],
        )
