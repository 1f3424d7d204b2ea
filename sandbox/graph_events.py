"""Events: list, calendar view (series expanded), instances, get, create, update, delete, respond,
cancel and forward (calendarView delta and scheduling are in their own modules)."""

from __future__ import annotations

from copy import deepcopy
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, request

from sandbox import event_values, extended, graph_extensions, meeting_messages
from sandbox.calendar_store import (
    CalendarStore,
    UserCalendars,
    parse_date_time_time_zone,
    parse_instant,
)
from sandbox.errors import GraphError, bad_request, id_malformed, invalid_request_body, item_not_found
from sandbox.graph import (
    add_mailbox_routes,
    collection_page,
    context_url,
    entity,
    json_body,
    no_content,
    preferences,
    select_suffix,
    user_segment,
)
from sandbox.graph_calendars import find_calendar, open_calendars, preferred_zone
from sandbox.ids import looks_like_graph_id
from sandbox.odata import Schema, apply_select, option, parse_list_query, parse_select, run_query
from sandbox.state import SandboxState

_PROPERTIES = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "isDraft",
    "hideAttendees",
    "recurrence",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "attendees",
    "organizer",
    "onlineMeeting",
)
EVENT_SCHEMA = Schema(
    entity="event",
    selectable=_PROPERTIES,
    filterable={
        "subject": "string",
        "start/dateTime": "string",
        "end/dateTime": "string",
        "isOrganizer": "bool",
        "isAllDay": "bool",
        "isCancelled": "bool",
        "showAs": "enum",
        "importance": "enum",
        "type": "enum",
        "categories": "strings",
        "organizer/emailAddress/address": "string",
        **extended.FILTERABLE,
    },
    sortable=frozenset(
        {"start/dateTime", "end/dateTime", "subject", "createdDateTime", "lastModifiedDateTime"}
    ),
    default_top=10,
    max_top=1000,
    default_orderby=(("start/dateTime", False),),
)
_WRITABLE = {
    "subject",
    "body",
    "start",
    "end",
    "isAllDay",
    "location",
    "locations",
    "attendees",
    "recurrence",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "showAs",
    "importance",
    "sensitivity",
    "categories",
    "allowNewTimeProposals",
    "hideAttendees",
    "responseRequested",
    "transactionId",
}


def parse_event_select() -> list[str] | None:
    """$select; ``location`` brings ``locations`` along, as Graph answers (event-get.md)."""
    select = parse_select(option(request.args, "select"), EVENT_SCHEMA)
    if select is not None and "location" in select and "locations" not in select:
        select.append("locations")
    return select


def event_expansion() -> extended.Expansion:
    return extended.parse_expand(option(request.args, "expand"), "event")


def events_context(user_ref: str | None, owner: dict[str, Any], where: str) -> str:
    return context_url(f"{user_segment(user_ref, owner)}/{where}")


def find_event(store: CalendarStore, box: UserCalendars, ref: str) -> dict[str, Any]:
    event = store.find_event(box, ref)
    if event is not None:
        return event
    if not looks_like_graph_id(ref):
        raise id_malformed()
    raise item_not_found()


def _page(
    user_ref: str | None,
    owner: dict[str, Any],
    where: str,
    store: CalendarStore,
    events: list[dict[str, Any]],
) -> Response:
    prefs = preferences()
    query = parse_list_query(request.args, EVENT_SCHEMA, prefs.max_page_size)
    query.select = parse_event_select()
    expansion = event_expansion()
    zone, zone_name = preferred_zone()
    rendered = [store.render(e, zone, zone_name, keep_extended=True) for e in events]
    page, total, next_skip = run_query(rendered, query, EVENT_SCHEMA)
    context = events_context(user_ref, owner, f"{where}{select_suffix(query.select)}")
    items = context_url(f"{user_segment(user_ref, owner)}/events")
    values = [expansion.apply(apply_select(e, query.select), e, items) for e in page]
    return collection_page(context, values, query, EVENT_SCHEMA, next_skip, total)


# -- reading ------------------------------------------------------------------------------------------------
def _list(user_ref: str | None, calendar_ref: str | None, default: bool) -> Response:
    state, owner, store, box = open_calendars(user_ref)
    with state.lock:
        # /events and /calendar/events are the default calendar's; /calendars/{id}/events that one's
        calendar_id = find_calendar(box, None if default else calendar_ref)["id"]
        events = [e for e in box.events.values() if e["_calendar"] == calendar_id]
        return _page(user_ref, owner, "events", store, events)


def list_events(user_ref: str | None) -> Response:
    return _list(user_ref, None, False)


def list_default_calendar_events(user_ref: str | None) -> Response:
    return _list(user_ref, None, True)


def list_calendar_events(user_ref: str | None, calendar_ref: str) -> Response:
    return _list(user_ref, calendar_ref, False)


def view_window() -> tuple[datetime, datetime]:
    args = {name.lower(): value for name, value in request.args.items()}  # names are case-insensitive
    start, end = args.get("startdatetime"), args.get("enddatetime")
    if not start or not end:
        missing = "startDateTime" if not start else "endDateTime"
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            f"This request requires a time window specified by the query string parameters StartDateTime"
            f" and EndDateTime. Missing: {missing}.",
        )
    begin, finish = parse_instant(start, "startDateTime"), parse_instant(end, "endDateTime")
    if finish <= begin:
        raise GraphError(400, "ErrorInvalidParameter", "The end of the time window must be after its start.")
    return begin, finish


def _view(user_ref: str | None, calendar_ref: str | None, default: bool) -> Response:
    state, owner, store, box = open_calendars(user_ref)
    begin, finish = view_window()
    with state.lock:
        calendar_id = find_calendar(box, None if default else calendar_ref)["id"]
        events = store.expand(box, calendar_id, begin, finish)
        return _page(user_ref, owner, "calendarView", store, events)


def calendar_view(user_ref: str | None) -> Response:
    return _view(user_ref, None, False)


def default_calendar_view(user_ref: str | None) -> Response:
    return _view(user_ref, None, True)


def calendar_view_of(user_ref: str | None, calendar_ref: str) -> Response:
    return _view(user_ref, calendar_ref, False)


def list_instances(user_ref: str | None, event_ref: str) -> Response:
    state, owner, store, box = open_calendars(user_ref)
    begin, finish = view_window()
    with state.lock:
        master = find_event(store, box, event_ref)
        if not master.get("recurrence"):
            events = [master] if master["_end"] > begin and master["_start"] < finish else []
        else:
            events = [
                e
                for e in store.expand(box, master["_calendar"], begin, finish)
                if e.get("seriesMasterId") == master["id"]
            ]
        return _page(user_ref, owner, f"events('{event_ref}')/instances", store, events)


def get_event(user_ref: str | None, event_ref: str) -> Response:
    state, owner, store, box = open_calendars(user_ref)
    select = parse_event_select()
    expansion = event_expansion()
    zone, zone_name = preferred_zone()
    with state.lock:
        event = find_event(store, box, event_ref)
        items = context_url(f"{user_segment(user_ref, owner)}/events")
        body = expansion.apply(apply_select(store.render(event, zone, zone_name), select), event, items)
    return entity(events_context(user_ref, owner, f"events{select_suffix(select)}/$entity"), body)


# -- writing ------------------------------------------------------------------------------------------------
def _check_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Invalid request.")
    for name in body:
        known = name in _WRITABLE or name in _PROPERTIES or name in extended.KEYS
        if not known and not name.startswith("@odata."):  # annotations (SDKs send @odata.type) are no data
            raise invalid_request_body(name, "event")
    return body


def _create(user_ref: str | None, calendar_ref: str | None) -> Response:
    state, owner, store, box = open_calendars(user_ref, write=True)
    body = event_values.normalise(_check_body(json_body()), None)
    zone, zone_name = preferred_zone()
    with state.lock:
        calendar = find_calendar(box, calendar_ref)
        if body.get("transactionId"):
            for existing in box.events.values():
                if existing.get("transactionId") == body["transactionId"]:
                    return entity(
                        events_context(user_ref, owner, "events/$entity"),
                        store.render(existing, zone, zone_name),
                        201,
                    )
        extras = extended.take(body)
        event = store.add_event(box, calendar["id"], body)
        event.update(extras)
        meeting_messages.send_requests(state, store, box, event)
        return entity(
            events_context(user_ref, owner, "events/$entity"), store.render(event, zone, zone_name), 201
        )


def create_event(user_ref: str | None) -> Response:
    return _create(user_ref, None)


def create_default_calendar_event(user_ref: str | None) -> Response:
    return _create(user_ref, None)


def create_calendar_event(user_ref: str | None, calendar_ref: str) -> Response:
    return _create(user_ref, calendar_ref)


def update_event(user_ref: str | None, event_ref: str) -> Response:
    state, owner, store, box = open_calendars(user_ref, write=True)
    body = _check_body(json_body())
    zone, zone_name = preferred_zone()
    with state.lock:
        event = box.events.get(event_ref) or find_event(store, box, event_ref)
        if event["type"] == "occurrence":
            raise GraphError(
                400, "ErrorInvalidRequest", "Updating a single occurrence is not supported by the sandbox."
            )
        invited = meeting_messages.holders(store, event)
        before = {name: deepcopy(event[name]) for name in _SHARED_CHANGES}
        previous = meeting_messages.times(event)
        event.update(extended.take(body, event))
        start_zone = None if "start" in body else str(event["originalStartTimeZone"])
        body = event_values.normalise(body, start_zone)
        if "start" in body:
            event["_start"], event["originalStartTimeZone"] = parse_date_time_time_zone(
                body["start"], "Start"
            )
            event.pop("_series_zone", None)
        if "end" in body:
            event["_end"], event["originalEndTimeZone"] = parse_date_time_time_zone(body["end"], "End")
        if event["_end"] < event["_start"]:
            raise GraphError(
                400, "ErrorInvalidRequest", "The end time of the event must be later than its start time."
            )
        for name in _WRITABLE & set(body) - {"start", "end"}:
            value = body[name]
            if name == "body" and isinstance(value, dict):
                value = {
                    "contentType": str(value.get("contentType", "html")).lower(),
                    "content": value.get("content", ""),
                }
                event["bodyPreview"] = " ".join(str(value["content"]).split())[:255]
            if name == "location" and isinstance(value, dict):
                value = {
                    "locationType": "default",
                    "uniqueIdType": "unknown",
                    "address": {},
                    "coordinates": {},
                    **value,
                }
            if name == "attendees" and isinstance(value, list):
                value = [
                    {
                        "type": a.get("type", "required"),
                        "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                        "emailAddress": dict(a.get("emailAddress") or {}),
                    }
                    for a in value
                ]
            event[name] = value
        if "recurrence" in body:
            event["type"] = "seriesMaster" if body["recurrence"] else "singleInstance"
        store.touch(event)
        if event["isOrganizer"]:
            _update_attendees(store, box, event)
            if any(event[name] != before[name] for name in _SHARED_CHANGES):
                changed = meeting_messages.times(event) != previous
                meeting_messages.send_requests(
                    state, store, box, event, invited, previous if changed else None
                )
        return entity(events_context(user_ref, owner, "events/$entity"), store.render(event, zone, zone_name))


_SHARED_CHANGES = (
    "subject",
    "body",
    "bodyPreview",
    "location",
    "locations",
    "recurrence",
    "type",
    "isAllDay",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "onlineMeeting",
    "attendees",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "_start",
    "_end",
)


def _update_attendees(store: CalendarStore, box: UserCalendars, event: dict[str, Any]) -> None:
    """The organizer changed a meeting: attendees' copies follow; new in-tenant attendees are invited."""
    holders = set()
    for owner_box, copy in store.copies(event):
        holders.add(owner_box.user["id"])
        if copy is event:
            continue
        for name in _SHARED_CHANGES:
            copy[name] = deepcopy(event[name])
        copy["_series_zone"] = event.get("_series_zone", event["originalStartTimeZone"])
        store.touch(copy)
    for attendee in event["attendees"]:
        user = store.find_user(str(attendee["emailAddress"].get("address", "")))
        if user is not None and user["id"] not in holders:
            store.copy_to(store.users[user["id"]], event)


def delete_event(user_ref: str | None, event_ref: str) -> Response:
    state, _owner, store, box = open_calendars(user_ref, write=True)
    with state.lock:
        event = find_event(store, box, event_ref)
        if event["isOrganizer"]:
            cancel_copies(state, store, box, event)
        store.remove(box, event["id"])
    return no_content()


def cancel_copies(
    state: SandboxState, store: CalendarStore, box: UserCalendars, event: dict[str, Any]
) -> None:
    for owner_box, copy in store.copies(event):
        if owner_box is not box and not copy["isCancelled"]:
            copy["isCancelled"] = True
            copy["subject"] = "Canceled: " + copy["subject"]
            store.touch(copy)
    meeting_messages.send_cancellations(state, store, box, event)


_ROUTES = (
    ("/events", "GET", list_events),
    ("/events", "POST", create_event),
    ("/calendar/events", "GET", list_default_calendar_events),
    ("/calendar/events", "POST", create_default_calendar_event),
    ("/calendars/<calendar_ref>/events", "GET", list_calendar_events),
    ("/calendars/<calendar_ref>/events", "POST", create_calendar_event),
    ("/calendarView", "GET", calendar_view),
    ("/calendar/calendarView", "GET", default_calendar_view),
    ("/calendars/<calendar_ref>/calendarView", "GET", calendar_view_of),
    ("/events/<event_ref>", "GET", get_event),
    ("/events/<event_ref>", "PATCH", update_event),
    ("/events/<event_ref>", "DELETE", delete_event),
    ("/events/<event_ref>/instances", "GET", list_instances),
)


def _load_for_extensions(user_ref: str | None, event_ref: str, write: bool) -> tuple[Any, Any, Any]:
    state, owner, store, box = open_calendars(user_ref, write=write)
    with state.lock:
        return state, owner, find_event(store, box, event_ref)


def _save_extensions(user_ref: str | None, event: dict[str, Any], extensions: list[dict[str, Any]]) -> None:
    _state, _owner, store, box = open_calendars(user_ref, write=True)
    stored = box.events.get(event["id"])
    if stored is None:
        raise GraphError(
            400, "ErrorInvalidRequest", "Extensions of a single occurrence are not supported by the sandbox."
        )
    stored[extended.OPEN] = extensions
    store.touch(stored)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
    access = graph_extensions.ItemAccess("events", _load_for_extensions, _save_extensions)
    graph_extensions.register(bp, access)
