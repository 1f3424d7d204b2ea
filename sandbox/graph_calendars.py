"""Calendars: list, create, get/update/delete (by id or the default ``/calendar``)."""

from __future__ import annotations

import re
from datetime import UTC, tzinfo
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, g, request

from sandbox.auth import Principal, resolve_user
from sandbox.calendar_seed import calendars_of
from sandbox.calendar_store import CalendarStore, UserCalendars, zone_or_400
from sandbox.errors import (
    GraphError,
    access_denied,
    bad_request,
    id_malformed,
    invalid_request_body,
    item_not_found,
)
from sandbox.graph import (
    add_mailbox_routes,
    collection_page,
    context_url,
    entity,
    json_body,
    no_content,
    principal,
    select_suffix,
    user_segment,
)
from sandbox.ids import looks_like_graph_id
from sandbox.odata import Schema, apply_select, option, parse_list_query, parse_select, run_query
from sandbox.seed import SHARED_MAILBOX_USER, TENANT_ID
from sandbox.state import SandboxState, current_state

CALENDAR_SCHEMA = Schema(
    entity="calendar",
    selectable=(
        "id",
        "name",
        "color",
        "hexColor",
        "isDefaultCalendar",
        "changeKey",
        "canShare",
        "canViewPrivateItems",
        "canEdit",
        "allowedOnlineMeetingProviders",
        "defaultOnlineMeetingProvider",
        "isTallyingResponses",
        "isRemovable",
        "owner",
    ),
    filterable={"name": "string", "isDefaultCalendar": "bool", "color": "enum"},
    sortable=frozenset({"name"}),
    default_top=10,
    max_top=1000,
)
COLORS = (
    "auto",
    "lightBlue",
    "lightGreen",
    "lightOrange",
    "lightGray",
    "lightYellow",
    "lightTeal",
    "lightPink",
    "lightBrown",
    "lightRed",
    "maxColor",
)
_WRITABLE = {"name", "color", "hexColor"}
_PREFER_ZONE = re.compile(r'outlook\.timezone\s*=\s*"([^"]+)"', re.IGNORECASE)

# Permissions for calendar access: (own calendar, shared mailbox's, app-only).
_READ = (
    {"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"},
    {"Calendars.Read.Shared", "Calendars.ReadWrite.Shared"},
    {"Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite"},
)
_WRITE = ({"Calendars.ReadWrite"}, {"Calendars.ReadWrite.Shared"}, {"Calendars.ReadWrite"})


def require_calendar(who: Principal, owner: dict[str, Any], write: bool) -> None:
    own, shared, app = _WRITE if write else _READ
    if who.app_only:
        allowed = who.has_any(app)
    elif owner["id"] == who.user_id:
        allowed = who.has_any(own)
    elif owner["id"] == SHARED_MAILBOX_USER["id"]:
        allowed = who.has_any(shared)
    else:
        allowed = False
    if not allowed:
        raise access_denied()


def open_calendars(
    user_ref: str | None, write: bool = False
) -> tuple[SandboxState, dict[str, Any], CalendarStore, UserCalendars]:
    state = current_state()
    who = principal()
    owner = resolve_user(state, who, user_ref, mailbox=True)
    require_calendar(who, owner, write)
    store = calendars_of(state)
    return state, owner, store, store.users[owner["id"]]


def preferred_zone() -> tuple[tzinfo, str]:
    """``Prefer: outlook.timezone="..."`` (echoed in Preference-Applied); UTC without one."""
    header = ", ".join(request.headers.getlist("Prefer"))
    match = _PREFER_ZONE.search(header)
    if match is None:
        return UTC, "UTC"
    name = match.group(1)
    where = zone_or_400(name)
    g.preference_applied = [*g.get("preference_applied", []), f'outlook.timezone="{name}"']
    return where, name


def find_calendar(box: UserCalendars, ref: str | None) -> dict[str, Any]:
    if ref is None:
        return box.default_calendar
    calendar = box.calendars.get(ref)
    if calendar is not None:
        return calendar
    if not looks_like_graph_id(ref):
        raise id_malformed()
    raise item_not_found()


def _context(user_ref: str | None, owner: dict[str, Any], where: str) -> str:
    return context_url(f"{user_segment(user_ref, owner)}/{where}")


def list_calendars(user_ref: str | None) -> Response:
    state, owner, _store, box = open_calendars(user_ref)
    query = parse_list_query(request.args, CALENDAR_SCHEMA)
    with state.lock:
        values = sorted(box.calendars.values(), key=lambda c: not c["isDefaultCalendar"])
        page, total, next_skip = run_query(values, query, CALENDAR_SCHEMA)
        if not query.orderby:
            page = sorted(page, key=lambda c: not c["isDefaultCalendar"])
    context = _context(user_ref, owner, f"calendars{select_suffix(query.select)}")
    return collection_page(
        context, [apply_select(c, query.select) for c in page], query, CALENDAR_SCHEMA, next_skip, total
    )


def _get(user_ref: str | None, calendar_ref: str | None) -> Response:
    state, owner, _store, box = open_calendars(user_ref)
    select = parse_select(option(request.args, "select"), CALENDAR_SCHEMA)
    with state.lock:
        calendar = find_calendar(box, calendar_ref)
        where = "calendar" if calendar_ref is None else f"calendars{select_suffix(select)}"
        # Graph names the calendar by its canonical URL (the user as id@tenant)
        who = quote(f"{owner['id']}@{TENANT_ID}", safe="@")
        canonical = f"{request.host_url}v1.0/users('{who}')/calendars('{quote(calendar['id'], safe='')}')"
        body = {"@odata.id": canonical, **apply_select(calendar, select)}
        return entity(_context(user_ref, owner, f"{where}/$entity"), body)


def get_default_calendar(user_ref: str | None) -> Response:
    return _get(user_ref, None)


def get_calendar(user_ref: str | None, calendar_ref: str) -> Response:
    return _get(user_ref, calendar_ref)


def _check_changes(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Invalid request.")
    for name in body:
        if name not in _WRITABLE and name not in CALENDAR_SCHEMA.selectable:
            raise invalid_request_body(name, "calendar")
    if "name" in body and (not isinstance(body["name"], str) or not body["name"].strip()):
        raise GraphError(400, "ErrorInvalidRequest", "The calendar name can't be empty.")
    if "color" in body and body["color"] not in COLORS:
        raise bad_request(
            f"Cannot convert the literal '{body['color']}' to the expected type"
            " 'microsoft.graph.calendarColor'."
        )
    return body


def _name_taken(box: UserCalendars, name: str, except_id: str | None = None) -> bool:
    return any(c["name"].lower() == name.lower() and c["id"] != except_id for c in box.calendars.values())


def create_calendar(user_ref: str | None) -> Response:
    state, owner, store, box = open_calendars(user_ref, write=True)
    body = _check_changes(json_body())
    if "name" not in body:
        raise GraphError(400, "ErrorInvalidRequest", "The calendar name can't be empty.")
    with state.lock:
        if _name_taken(box, body["name"]):
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        calendar = store.add_calendar(box, body["name"], body.get("color", "auto"))
        if body.get("hexColor"):
            calendar["hexColor"] = body["hexColor"]
        return entity(_context(user_ref, owner, "calendars/$entity"), dict(calendar), 201)


def _update(user_ref: str | None, calendar_ref: str | None) -> Response:
    state, owner, store, box = open_calendars(user_ref, write=True)
    body = _check_changes(json_body())
    with state.lock:
        calendar = find_calendar(box, calendar_ref)
        if "name" in body and _name_taken(box, body["name"], calendar["id"]):
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        for name in _WRITABLE & set(body):
            calendar[name] = body[name]
        calendar["changeKey"] = store.change_key()
        where = "calendar" if calendar_ref is None else "calendars"
        return entity(_context(user_ref, owner, f"{where}/$entity"), dict(calendar))


def update_default_calendar(user_ref: str | None) -> Response:
    return _update(user_ref, None)


def update_calendar(user_ref: str | None, calendar_ref: str) -> Response:
    return _update(user_ref, calendar_ref)


def _delete(user_ref: str | None, calendar_ref: str | None) -> Response:
    state, _owner, store, box = open_calendars(user_ref, write=True)
    with state.lock:
        calendar = find_calendar(box, calendar_ref)
        if calendar["isDefaultCalendar"]:
            raise GraphError(400, "ErrorInvalidRequest", "The default calendar can't be deleted.")
        del box.calendars[calendar["id"]]
        for event_id in [e["id"] for e in box.events.values() if e["_calendar"] == calendar["id"]]:
            store.remove(box, event_id)
    return no_content()


def delete_default_calendar(user_ref: str | None) -> Response:
    return _delete(user_ref, None)


def delete_calendar(user_ref: str | None, calendar_ref: str) -> Response:
    return _delete(user_ref, calendar_ref)


_ROUTES = (
    ("/calendars", "GET", list_calendars),
    ("/calendars", "POST", create_calendar),
    ("/calendar", "GET", get_default_calendar),
    ("/calendar", "PATCH", update_default_calendar),
    ("/calendar", "DELETE", delete_default_calendar),
    ("/calendars/<calendar_ref>", "GET", get_calendar),
    ("/calendars/<calendar_ref>", "PATCH", update_calendar),
    ("/calendars/<calendar_ref>", "DELETE", delete_calendar),
)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
