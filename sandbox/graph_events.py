"""Events: list, calendar view (series expanded), instances, get, create, update, delete, respond,
cancel, forward, calendarView delta and getSchedule (free/busy from the seeded and created events)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from sandbox import event_values, extended, graph_extensions, meeting_messages
from sandbox.calendar_store import (
    CalendarStore,
    UserCalendars,
    fmt,
    parse_date_time_time_zone,
    parse_instant,
    record_response,
)
from sandbox.errors import GraphError, bad_request, id_malformed, invalid_request_body, item_not_found
from sandbox.graph import (
    add_mailbox_routes,
    apply_page_size_preference,
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
_RESPONSES = {"accept": "accepted", "decline": "declined", "tentativelyAccept": "tentativelyAccepted"}


def parse_event_select() -> list[str] | None:
    """$select; ``location`` brings ``locations`` along, as Graph answers (event-get.md)."""
    select = parse_select(option(request.args, "select"), EVENT_SCHEMA)
    if select is not None and "location" in select and "locations" not in select:
        select.append("locations")
    return select


def event_expansion() -> extended.Expansion:
    return extended.parse_expand(option(request.args, "expand"), "event")


def _context(user_ref: str | None, owner: dict[str, Any], where: str) -> str:
    return context_url(f"{user_segment(user_ref, owner)}/{where}")


def _find(store: CalendarStore, box: UserCalendars, ref: str) -> dict[str, Any]:
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
    context = _context(user_ref, owner, f"{where}{select_suffix(query.select)}")
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


def _window() -> tuple[datetime, datetime]:
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
    begin, finish = _window()
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
    begin, finish = _window()
    with state.lock:
        master = _find(store, box, event_ref)
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
        event = _find(store, box, event_ref)
        items = context_url(f"{user_segment(user_ref, owner)}/events")
        body = expansion.apply(apply_select(store.render(event, zone, zone_name), select), event, items)
    return entity(_context(user_ref, owner, f"events{select_suffix(select)}/$entity"), body)


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
                        _context(user_ref, owner, "events/$entity"),
                        store.render(existing, zone, zone_name),
                        201,
                    )
        extras = extended.take(body)
        event = store.add_event(box, calendar["id"], body)
        event.update(extras)
        meeting_messages.send_requests(state, store, box, event)
        return entity(_context(user_ref, owner, "events/$entity"), store.render(event, zone, zone_name), 201)


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
        event = box.events.get(event_ref) or _find(store, box, event_ref)
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
        return entity(_context(user_ref, owner, "events/$entity"), store.render(event, zone, zone_name))


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
        event = _find(store, box, event_ref)
        if event["isOrganizer"]:
            _cancel_copies(state, store, box, event)
        store.remove(box, event["id"])
    return no_content()


def _cancel_copies(
    state: SandboxState, store: CalendarStore, box: UserCalendars, event: dict[str, Any]
) -> None:
    for owner_box, copy in store.copies(event):
        if owner_box is not box and not copy["isCancelled"]:
            copy["isCancelled"] = True
            copy["subject"] = "Canceled: " + copy["subject"]
            store.touch(copy)
    meeting_messages.send_cancellations(state, store, box, event)


def cancel_event(user_ref: str | None, event_ref: str) -> Response:
    state, _owner, store, box = open_calendars(user_ref, write=True)
    body = json_body(required=False) or {}
    if not isinstance(body, dict) or set(body) - {"comment", "Comment"}:
        raise bad_request("Invalid request.")
    with state.lock:
        event = _find(store, box, event_ref)
        if not event["isOrganizer"]:
            raise GraphError(
                400,
                "ErrorAccessDenied",
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
            )
        _cancel_copies(state, store, box, event)
        store.remove(box, event["id"])
    return no_content(202)


def _respond(user_ref: str | None, event_ref: str, verb: str) -> Response:
    state, _owner, store, box = open_calendars(user_ref, write=True)
    body = json_body(required=False) or {}
    if not isinstance(body, dict) or set(body) - {"comment", "sendResponse", "proposedNewTime"}:
        raise bad_request("Invalid request.")
    proposal = body.get("proposedNewTime")
    if proposal is not None:
        if verb == "accept":
            raise invalid_request_body("proposedNewTime", "accept")
        start, _zone = parse_date_time_time_zone(
            proposal.get("start") if isinstance(proposal, dict) else None, "Start"
        )
        end, _zone = parse_date_time_time_zone(proposal.get("end"), "End")
        if end <= start:
            raise GraphError(
                400, "ErrorInvalidRequest", "The proposed end time must be later than its start time."
            )
        proposal = {
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
        }
    with state.lock:
        event = _find(store, box, event_ref)
        if event["isOrganizer"]:
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. You can't respond to a meeting you organized.",
            )
        record_response(store, box, event, _RESPONSES[verb], proposal)
        if body.get("sendResponse", True) is not False:
            comment = str(body.get("comment") or "")
            meeting_messages.send_response(state, store, box, event, _RESPONSES[verb], comment, proposal)
        if verb == "decline":
            store.remove(box, event["id"])  # Outlook removes a declined meeting from the calendar
    return no_content(202)


def accept_event(user_ref: str | None, event_ref: str) -> Response:
    return _respond(user_ref, event_ref, "accept")


def decline_event(user_ref: str | None, event_ref: str) -> Response:
    return _respond(user_ref, event_ref, "decline")


def tentatively_accept_event(user_ref: str | None, event_ref: str) -> Response:
    return _respond(user_ref, event_ref, "tentativelyAccept")


def forward_event(user_ref: str | None, event_ref: str) -> Response:
    """The invitation goes to the recipients: in-tenant ones find the meeting in their calendar."""
    state, _owner, store, box = open_calendars(user_ref)  # Calendars.Read is enough (event-forward.md)
    body = json_body()
    names = {k.lower(): k for k in body} if isinstance(body, dict) else {}
    if not names or set(names) - {"torecipients", "comment"} or "torecipients" not in names:
        raise bad_request("The toRecipients property is required.", "ErrorInvalidRequest")
    recipients = body[names["torecipients"]]
    if not isinstance(recipients, list) or not recipients:
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
    with state.lock:
        event = _find(store, box, event_ref)
        holders = {id(copy) for _b, copy in store.copies(event)}
        invited: set[str] = set()
        for recipient in recipients:
            address = str((recipient.get("emailAddress") or {}).get("address") or "")
            if "@" not in address:
                raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
            user = store.find_user(address)
            if user is None:
                continue  # outside the tenant: delivered by mail
            target = store.users[user["id"]]
            if not any(id(c) in holders for c in target.events.values()):
                store.copy_to(target, box.events.get(event.get("seriesMasterId") or event["id"], event))
                invited.add(user["id"])
        if invited:
            meeting_messages.send_requests(state, store, box, event, only=invited)
    return no_content(202)


# -- calendarView delta ------------------------------------------------------------------------------------
_DELTA_PAGE = 10


def _token(state: dict[str, Any]) -> str:
    return str(
        base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
    )


def _untoken(text: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        assert isinstance(state, dict) and {"s", "e", "t", "o", "n"} <= set(state)
    except (ValueError, AssertionError, binascii.Error):
        raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.") from None
    return state


def calendar_view_delta(user_ref: str | None) -> Response:
    """Every event of the window (series expanded) at first, then only changes and @removed; the window
    and the time of the last sync travel in the opaque $skiptoken / $deltatoken."""
    state, owner, store, box = open_calendars(user_ref)
    prefs = preferences()
    page_size = prefs.max_page_size or _DELTA_PAGE
    apply_page_size_preference(prefs)
    zone, zone_name = preferred_zone()
    raw = request.args.get("$skiptoken") or request.args.get("$deltatoken")
    if raw:
        sync = _untoken(raw)
        if request.args.get("$deltatoken"):  # a new round: changes since that round's end
            sync = {**sync, "t": sync["n"], "o": 0, "n": stamp_precise(store.now())}
    else:
        begin, finish = _window()
        sync = {
            "s": begin.isoformat(),
            "e": finish.isoformat(),
            "t": None,
            "o": 0,
            "n": stamp_precise(store.now()),
        }
    begin, finish = datetime.fromisoformat(sync["s"]), datetime.fromisoformat(sync["e"])
    since = datetime.fromisoformat(sync["t"]) if sync["t"] else None
    until = datetime.fromisoformat(sync["n"])
    with state.lock:
        changed: list[dict[str, Any]] = []
        for event in store.expand(box, box.default_calendar["id"], begin, finish):
            master = box.events.get(event.get("seriesMasterId") or event["id"], event)
            if master["_modified"] <= until and (since is None or master["_modified"] > since):
                changed.append(store.render(event, zone, zone_name))
        if since is not None:
            changed += [
                {"@odata.type": "#microsoft.graph.event", "id": event_id, "@removed": {"reason": "deleted"}}
                for event_id, when in sorted(box.removed.items(), key=lambda item: item[1])
                if since < when <= until
            ]
    offset = int(sync["o"])
    page = changed[offset : offset + page_size]
    # the window rides along in the links too (OpenAPI requires it on every call; the token decides)
    window = urlencode({"startDateTime": sync["s"], "endDateTime": sync["e"]})
    base = f"{request.base_url}?{window}&"
    body: dict[str, Any] = {"@odata.context": _context(user_ref, owner, "events"), "value": page}
    if offset + page_size < len(changed):
        body["@odata.nextLink"] = f"{base}$skiptoken={_token({**sync, 'o': offset + page_size})}"
    else:
        body["@odata.deltaLink"] = f"{base}$deltatoken={_token({**sync, 'o': 0})}"
    return jsonify(body)


def stamp_precise(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# -- findMeetingTimes -------------------------------------------------------------------------------------
_DURATION = re.compile(r"^PT(?:(\d+)H)?(?:(\d+)M)?$", re.IGNORECASE)
_STATUS_RANK = {"free": 0, "workingElsewhere": 1, "tentative": 2, "busy": 3, "oof": 4}
_WORK_START, _WORK_END = 8, 17  # the seeded users' working hours: Monday to Friday, 08:00-17:00 UTC


def _availability(store: CalendarStore, address: str, start: datetime, end: datetime) -> str:
    user = store.find_user(address)
    if user is None:
        return "unknown"
    box = store.users[user["id"]]
    statuses = [
        e["showAs"]
        for e in store.expand(box, box.default_calendar["id"], start, end)
        if not e["isCancelled"] and e["showAs"] != "free"
    ]
    return max(statuses, key=lambda s: _STATUS_RANK.get(s, 3)) if statuses else "free"


def _candidates(slots: list[tuple[datetime, datetime]], duration: timedelta, work: bool) -> list[datetime]:
    step = timedelta(minutes=30)
    found: list[datetime] = []
    for begin, finish in slots:
        moment = begin.replace(second=0, microsecond=0)
        if moment.minute % 30:
            moment += timedelta(minutes=30 - moment.minute % 30)
        while moment + duration <= finish and len(found) < 2000:
            end = moment + duration
            in_hours = (
                moment.weekday() < 5
                and moment.hour >= _WORK_START
                and (end.hour < _WORK_END or (end.hour == _WORK_END and end.minute == 0))
                and end.date() == moment.date()
            )
            if in_hours or not work:
                found.append(moment)
            moment += step
    return found


def _reason(confidence: float) -> str:
    if confidence == 100.0:
        return "Everyone invited is free then, and it is among the earliest such times."
    return f"{confidence:.0f}% of the people invited are free then, and it is among the earliest such times."


def find_meeting_times(user_ref: str | None) -> Response:
    """Slots in the time constraint where the organizer and enough attendees are free (seeded and
    created events), the most attended and earliest first."""
    state, owner, store, _box = open_calendars(user_ref)
    body = json_body()
    if not isinstance(body, dict):
        raise bad_request("Invalid request.")
    match = _DURATION.match(str(body.get("meetingDuration") or "PT30M"))
    if match is None or not (match.group(1) or match.group(2)):
        raise bad_request(
            "The meetingDuration value is not a valid ISO 8601 duration.", "ErrorInvalidRequest"
        )
    duration = timedelta(hours=int(match.group(1) or 0), minutes=int(match.group(2) or 0))
    constraint = body.get("timeConstraint") or {}
    slots = [
        (
            parse_date_time_time_zone(slot.get("start"), "Start")[0],
            parse_date_time_time_zone(slot.get("end"), "End")[0],
        )
        for slot in constraint.get("timeSlots") or []
    ]
    if not slots:  # Graph's default window: the next two working days
        now = store.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        slots = [(now, now + timedelta(days=2))]
    attendees = [a for a in body.get("attendees") or [] if isinstance(a, dict)]
    minimum = float(body.get("minimumAttendeePercentage") or 50)
    organizer_optional = str(body.get("isOrganizerOptional", False)).lower() == "true"
    most = int(body.get("maxCandidates") or 5)
    locations = [
        {"displayName": loc.get("displayName", "")}
        for loc in (body.get("locationConstraint") or {}).get("locations") or []
    ]
    zone, zone_name = preferred_zone()
    suggestions: list[dict[str, Any]] = []
    organizer_busy = False
    with state.lock:
        for start in _candidates(slots, duration, constraint.get("activityDomain", "work") == "work"):
            end = start + duration
            mine = _availability(store, owner["mail"], start, end)
            if mine != "free" and not organizer_optional:
                organizer_busy = True
                continue
            answers = [
                {
                    "attendee": {
                        "type": a.get("type", "required"),
                        "emailAddress": dict(a.get("emailAddress") or {}),
                    },
                    "availability": _availability(
                        store, str((a.get("emailAddress") or {}).get("address", "")), start, end
                    ),
                }
                for a in attendees
            ]
            free = sum(1 for a in answers if a["availability"] == "free")
            confidence = 100.0 * free / len(answers) if answers else 100.0
            if confidence < minimum:
                continue
            suggestions.append(
                {
                    "confidence": confidence,
                    "organizerAvailability": mine,
                    "suggestionReason": _reason(confidence),
                    "attendeeAvailability": answers,
                    "locations": locations,
                    "meetingTimeSlot": {
                        "start": {"dateTime": fmt(start, zone), "timeZone": zone_name},
                        "end": {"dateTime": fmt(end, zone), "timeZone": zone_name},
                    },
                }
            )
    suggestions.sort(key=lambda s: -float(s["confidence"]))  # stable: earliest first within a confidence
    suggestions = suggestions[:most]
    for order, suggestion in enumerate(suggestions, start=1):
        suggestion["order"] = order
    reason = "" if suggestions else ("organizerUnavailable" if organizer_busy else "attendeesUnavailable")
    return jsonify(
        {
            "@odata.context": context_url("microsoft.graph.meetingTimeSuggestionsResult"),
            "emptySuggestionsReason": reason,
            "meetingTimeSuggestions": suggestions,
        }
    )


# -- free/busy ----------------------------------------------------------------------------------------------
def get_schedule(user_ref: str | None) -> Response:
    state, _owner, store, _box = open_calendars(user_ref)
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("schedules"), list) or not body["schedules"]:
        raise bad_request("The schedules property is required.", "ErrorInvalidRequest")
    begin, _ = parse_date_time_time_zone(body.get("startTime"), "StartTime")
    finish, _ = parse_date_time_time_zone(body.get("endTime"), "EndTime")
    interval = int(body.get("availabilityViewInterval") or 30)
    if not 5 <= interval <= 1440 or finish <= begin:
        raise bad_request(
            "The availability view interval or the time window is invalid.", "ErrorInvalidParameter"
        )
    if (finish - begin).days > 62:
        raise bad_request("The time window can't be longer than 62 days.", "ErrorInvalidParameter")
    zone, zone_name = preferred_zone()
    with state.lock:
        values = [store.schedule(str(a), begin, finish, interval, zone, zone_name) for a in body["schedules"]]
    return entity(context_url("Collection(microsoft.graph.scheduleInformation)"), {"value": values})


_ROUTES = (
    ("/events", "GET", list_events),
    ("/events", "POST", create_event),
    ("/calendar/events", "GET", list_default_calendar_events),
    ("/calendar/events", "POST", create_default_calendar_event),
    ("/calendars/<calendar_ref>/events", "GET", list_calendar_events),
    ("/calendars/<calendar_ref>/events", "POST", create_calendar_event),
    ("/calendarView", "GET", calendar_view),
    ("/calendarView/delta", "GET", calendar_view_delta),
    ("/calendar/calendarView", "GET", default_calendar_view),
    ("/calendars/<calendar_ref>/calendarView", "GET", calendar_view_of),
    ("/events/<event_ref>", "GET", get_event),
    ("/events/<event_ref>", "PATCH", update_event),
    ("/events/<event_ref>", "DELETE", delete_event),
    ("/events/<event_ref>/instances", "GET", list_instances),
    ("/events/<event_ref>/accept", "POST", accept_event),
    ("/events/<event_ref>/decline", "POST", decline_event),
    ("/events/<event_ref>/tentativelyAccept", "POST", tentatively_accept_event),
    ("/events/<event_ref>/cancel", "POST", cancel_event),
    ("/events/<event_ref>/forward", "POST", forward_event),
    ("/calendar/getSchedule", "POST", get_schedule),
    ("/findMeetingTimes", "POST", find_meeting_times),
)


def _load_for_extensions(user_ref: str | None, event_ref: str, write: bool) -> tuple[Any, Any, Any]:
    state, owner, store, box = open_calendars(user_ref, write=write)
    with state.lock:
        return state, owner, _find(store, box, event_ref)


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
