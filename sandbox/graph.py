"""The Graph v1.0 blueprint: the request pipeline every Graph call goes through, and helpers for handlers.

Pipeline: fault draw (a ``before`` fault answers at once, like a gateway) -> request size -> bearer
token -> throttling per app + mailbox -> (test gate, slow fault) -> handler -> ``after`` fault.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox.auth import MailAccess, Principal, authenticate, require_mail, resolve_user
from sandbox.delivery import release_due
from sandbox.errors import GraphError, bad_request, graph_error_response
from sandbox.fault_hooks import draw_fault, fail_after, slow_down
from sandbox.faults import Fault
from sandbox.mailbox import Mailbox
from sandbox.odata import ListQuery, Schema, next_link
from sandbox.state import SandboxState, current_state
from sandbox.throttle import format_retry_after

View = Callable[..., Response]
_ACTIONS = {"send", "move", "copy", "permanentDelete", "sendMail", "createUploadSession", "delta"}
_ACTIONS |= {"dismissReminder", "snoozeReminder"}
_ACTIONS |= {"reply", "replyAll", "forward", "createReply", "createReplyAll", "createForward"}  # mail_compose
_MAILBOX_IN_PATH = re.compile(r"^/v1\.0/users/([^/]+)")
_PREFER_BODY = re.compile(r'outlook\.body-content-type\s*=\s*"?(text|html)"?', re.IGNORECASE)
_PREFER_PAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)", re.IGNORECASE)
_PREFER_IMMUTABLE = re.compile(r'IdType\s*=\s*"?ImmutableId"?', re.IGNORECASE)


def create_blueprint() -> Blueprint:
    from sandbox import (
        graph_categories,
        graph_contacts,
        graph_folders,
        graph_messages,
        graph_settings,
        graph_users,
    )

    bp = Blueprint("graph", __name__, url_prefix="/v1.0")
    bp.before_request(_before)
    bp.after_request(_after)
    bp.teardown_request(_teardown)
    for module in (graph_users, graph_folders, graph_messages):
        module.register(bp)
    for module in (graph_categories, graph_contacts, graph_settings):  # folders_contacts_settings
        module.register(bp)
    from sandbox import graph_attachments, graph_batch  # attachments_raw_batch

    for module in (graph_attachments, graph_batch):  # attachments_raw_batch
        module.register(bp)
    from sandbox import (
        graph_calendar_delta,
        graph_calendars,
        graph_events,
        graph_meeting_verbs,
        graph_scheduling,
    )

    calendar = (graph_calendars, graph_events, graph_meeting_verbs, graph_calendar_delta, graph_scheduling)
    for module in calendar:
        module.register(bp)
    from sandbox import graph_compose  # mail_compose

    graph_compose.register(bp)  # mail_compose
    from sandbox import graph_subscriptions  # subscriptions

    graph_subscriptions.register(bp)  # subscriptions
    from sandbox import graph_event_extras, graph_folder_extras

    for module in (graph_folder_extras, graph_event_extras):
        module.register(bp)
    return bp


def add_mailbox_routes(bp: Blueprint, routes: Iterable[tuple[str, str, View]]) -> None:
    """Serve each (rule, method, view) under both ``/me`` and ``/users/{id or UPN}`` (the view gets
    ``user_ref``). Actions (``.../send``) also answer in Graph's namespace-qualified form
    (``.../microsoft.graph.send``), as its OpenAPI documents spell them."""
    for rule, method, view in routes:
        head, _, last = rule.rpartition("/")
        spellings = [rule, f"{head}/microsoft.graph.{last}"] if last in _ACTIONS else [rule]
        for number, spelling in enumerate(spellings):
            name = f"{view.__name__}_{method.lower()}_{number}"
            bp.add_url_rule(
                "/me" + spelling, f"me_{name}", view, methods=[method], defaults={"user_ref": None}
            )
            bp.add_url_rule("/users/<user_ref>" + spelling, f"users_{name}", view, methods=[method])


# -- pipeline ------------------------------------------------------------------------------------------
def _before() -> Response | None:
    early = draw_fault(_fault_response)
    if early is not None:
        return early
    state = current_state()
    if (request.content_length or 0) > state.config.max_request_bytes:
        raise GraphError(
            413,
            "RequestEntityTooLarge",
            f"The request body exceeds the maximum allowed size of "
            f"{state.config.max_request_bytes // (1024 * 1024)} MB.",
        )
    g.principal = authenticate(state)
    key = (g.principal.app_id, _throttled_mailbox(state, g.principal))
    rejection = state.throttle.acquire(key)
    if rejection is not None:
        raise GraphError(
            429,
            "ApplicationThrottled",
            rejection.message,
            {"Retry-After": format_retry_after(rejection.retry_after)},
        )
    g.throttle_key = key
    release_due(state)  # deferred sends whose time has come go out before the request looks
    state.wait_at_gate()
    if state.latency is not None and not request.path.endswith("/$batch"):  # a batch takes its parts' time
        state.latency.wait(request.method)
    slow_down()
    return None


def _after(response: Response) -> Response:
    applied = g.get("preference_applied")
    if applied:
        response.headers["Preference-Applied"] = ", ".join(applied)
    return fail_after(response, _fault_response)


def _teardown(_error: BaseException | None) -> None:
    key = g.pop("throttle_key", None)
    if key is not None:
        current_state().throttle.release(key)


def _throttled_mailbox(state: SandboxState, principal: Principal) -> str:
    match = _MAILBOX_IN_PATH.match(request.path)
    if match is None:
        return (principal.user_id or "") if request.path.startswith("/v1.0/me") else ""
    user = state.find_user(match.group(1))
    return user["id"] if user else match.group(1).lower()


def _fault_response(fault: Fault) -> Response:
    retry_after = {"Retry-After": format_retry_after(fault.retry_after or 0)}
    if fault.status == 429:
        return graph_error_response(
            429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.", retry_after
        )
    if fault.status == 503:
        return graph_error_response(
            503,
            "ServiceNotAvailable",
            "The service is temporarily unavailable. Retry the request later.",
            retry_after,
        )
    return graph_error_response(504, "UnknownError", "")


def handle_http_exception(error: HTTPException) -> Response:
    """Graph-shaped answers for unknown routes and methods under /v1.0."""
    if error.code == 404:
        segment = request.path.rstrip("/").rsplit("/", 1)[-1]
        return graph_error_response(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
    if error.code == 405:
        return graph_error_response(
            405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."
        )
    return graph_error_response(error.code or 500, "BadRequest", error.description or "")


# -- helpers for handlers ------------------------------------------------------------------------------
def principal() -> Principal:
    value = g.principal
    assert isinstance(value, Principal)
    return value


def open_mailbox(user_ref: str | None, access: MailAccess) -> tuple[SandboxState, dict[str, Any], Mailbox]:
    """(state, owner, mailbox) for a mailbox path after checking the caller's permission."""
    state = current_state()
    who = principal()
    owner = resolve_user(state, who, user_ref, mailbox=True)
    require_mail(who, owner, access)
    return state, owner, state.mailbox(owner["id"])


def json_body(required: bool = True) -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise bad_request("Empty Payload. JSON content expected.")
        return None
    payload = request.get_json(silent=True, force=True)
    if payload is None:
        raise bad_request(
            "Unable to read JSON request payload. Please ensure Content-Type header is set and "
            "payload is of valid JSON format."
        )
    return action_parameters(payload)


_RESPONSE_PARAMETERS = ("comment", "sendResponse", "proposedNewTime")
ACTION_PARAMETERS: dict[str, tuple[str, ...]] = {
    "sendMail": ("message", "saveToSentItems"),
    "reply": ("comment", "message"),
    "replyAll": ("comment", "message"),
    "forward": ("comment", "message", "toRecipients"),
    "createReply": ("comment", "message"),
    "createReplyAll": ("comment", "message"),
    "createForward": ("comment", "message", "toRecipients"),
    "move": ("destinationId",),
    "copy": ("destinationId",),
    "accept": _RESPONSE_PARAMETERS,
    "decline": _RESPONSE_PARAMETERS,
    "tentativelyAccept": _RESPONSE_PARAMETERS,
    "cancel": ("comment",),
    "getSchedule": ("schedules", "startTime", "endTime", "availabilityViewInterval"),
    "findMeetingTimes": (
        "attendees", "locationConstraint", "timeConstraint", "meetingDuration", "maxCandidates",
        "isOrganizerOptional", "returnSuggestionReasons", "minimumAttendeePercentage",
    ),
    "createUploadSession": ("AttachmentItem",),
    "snoozeReminder": ("newReminderTime",),
}  # fmt: skip
"""Each action's parameters as Graph's docs spell them (camelCase)."""
_ACTION_NAMES = {name.lower(): name for name in ACTION_PARAMETERS}


def action_parameters(payload: Any) -> Any:
    """An action's body with its parameters named as the docs spell them: Graph's metadata names
    them in PascalCase (``Message``, ``SaveToSentItems``, which the SDKs send), its docs in camelCase,
    and Graph takes either. Annotations (``@odata.type``) are dropped; other names stay as sent."""
    last = request.path.rstrip("/").rsplit("/", 1)[-1].lower().removeprefix("microsoft.graph.")
    action = _ACTION_NAMES.get(last)
    if action is None or not isinstance(payload, dict):
        return payload
    names = {name.lower(): name for name in ACTION_PARAMETERS[action]}
    return {names.get(k.lower(), k): v for k, v in payload.items() if not k.startswith("@odata.")}


@dataclass
class Preferences:
    body_type: str | None = None
    max_page_size: int | None = None
    immutable_ids: bool = False
    applied: list[str] = field(default_factory=list)


def preferences() -> Preferences:
    """The ``Prefer`` header; what is honoured is echoed in ``Preference-Applied``."""
    header = ", ".join(request.headers.getlist("Prefer"))
    prefs = Preferences()
    if match := _PREFER_BODY.search(header):
        prefs.body_type = match.group(1).lower()
        prefs.applied.append(f'outlook.body-content-type="{prefs.body_type}"')
    if match := _PREFER_PAGE.search(header):
        prefs.max_page_size = int(match.group(1))
    if _PREFER_IMMUTABLE.search(header):
        prefs.immutable_ids = True
        prefs.applied.append('IdType="ImmutableId"')
    g.preference_applied = list(prefs.applied)
    return prefs


def apply_page_size_preference(prefs: Preferences) -> None:
    if prefs.max_page_size is not None:
        g.preference_applied = [*g.get("preference_applied", []), f"odata.maxpagesize={prefs.max_page_size}"]


def context_url(fragment: str) -> str:
    return f"{request.host_url}v1.0/$metadata#{fragment}"


def user_segment(user_ref: str | None, owner: dict[str, Any]) -> str:
    """``users('...')`` as Graph writes it in @odata.context."""
    return f"users('{quote(user_ref or owner['id'], safe='')}')"


def select_suffix(select: list[str] | None) -> str:
    return f"({','.join(select)})" if select else ""


def collection(
    context: str, values: list[dict[str, Any]], next_url: str | None = None, count: int | None = None
) -> Response:
    body: dict[str, Any] = {"@odata.context": context}
    if count is not None:
        body["@odata.count"] = count
    body["value"] = values
    if next_url is not None:
        body["@odata.nextLink"] = next_url
    return jsonify(body)


def collection_page(
    context: str,
    values: list[dict[str, Any]],
    query: ListQuery,
    schema: Schema,
    next_skip: int | None,
    total: int,
) -> Response:
    """A page of a collection, with ``@odata.nextLink`` (this URL, paged on) and ``@odata.count``."""
    next_url = None
    if next_skip is not None:
        next_url = next_link(request.base_url, list(request.args.items(multi=True)), next_skip, schema)
    return collection(context, values, next_url, total if query.count else None)


def entity(context: str, value: dict[str, Any], status: int = 200) -> Response:
    response = jsonify({"@odata.context": context, **value})
    response.status_code = status
    return response


def no_content(status: int = 204) -> Response:
    response = Response(b"", status=status)
    del response.headers["Content-Type"]  # Graph's 202/204 answers carry no body type
    return response
