"""Docs-contract rows for calendars and events."""

from __future__ import annotations

import re
from typing import Any

from tests.support.docs_contract import (
    MAILBOX,
    DocCall,
    DocCase,
    DocsFault,
    Endpoint,
    NotExpressible,
    recipients_input,
    select_input,
)

_CALENDAR = r"(?:/calendars/[^/]+)?"

ACTION_ENDPOINTS: dict[str, list[Endpoint]] = {
    "list_calendars": [("GET", MAILBOX + r"/calendars")],
    "get_calendar": [("GET", MAILBOX + r"/calendar(?:s/[^/]+)?")],
    "create_calendar": [("POST", MAILBOX + r"/calendars")],
    "update_calendar": [("PATCH", MAILBOX + r"/calendar(?:s/[^/]+)?")],
    "delete_calendar": [("DELETE", MAILBOX + r"/calendars/[^/]+")],
    "list_events": [("GET", MAILBOX + _CALENDAR + r"/events")],
    "list_calendar_view": [("GET", MAILBOX + _CALENDAR + r"/calendarView")],
    "get_event": [("GET", MAILBOX + r"/events/[^/]+")],
    "create_event": [("POST", MAILBOX + _CALENDAR + r"/events")],
    "update_event": [("PATCH", MAILBOX + r"/events/[^/]+")],
    "delete_event": [("DELETE", MAILBOX + r"/events/[^/]+")],
    "cancel_event": [("POST", MAILBOX + r"/events/[^/]+/cancel")],
    "accept_event": [("POST", MAILBOX + r"/events/[^/]+/accept")],
    "decline_event": [("POST", MAILBOX + r"/events/[^/]+/decline")],
    "tentatively_accept_event": [("POST", MAILBOX + r"/events/[^/]+/tentativelyAccept")],
    "list_event_instances": [("GET", MAILBOX + r"/events/[^/]+/instances")],
    "forward_event": [("POST", MAILBOX + r"/events/[^/]+/forward")],
    "list_event_delta": [("GET", MAILBOX + r"/calendarView/delta")],
    "find_meeting_times": [("POST", MAILBOX + r"/findMeetingTimes")],
    "get_schedule_availability": [("POST", MAILBOX + r"/calendar/getSchedule")],
}


# -- docs faults and connector defaults, each with its reason ------------------------------------------------
def _add_top(call: DocCall) -> None:
    call.query.setdefault("$top", "10")


PAGE_SIZE = DocsFault(
    "list actions always send their page size; 10 is Graph's default page size for calendars and events",
    _add_top,
)


def _lower_enums(call: DocCall) -> None:
    body = call.body
    if isinstance(body.get("body"), dict) and "contentType" in body["body"]:
        body["body"]["contentType"] = body["body"]["contentType"].lower()
    for attendee in body.get("attendees") or []:
        attendee["type"] = attendee["type"].lower()
    pattern = (body.get("recurrence") or {}).get("pattern") or {}
    if "daysOfWeek" in pattern:
        pattern["daysOfWeek"] = [d.lower() for d in pattern["daysOfWeek"]]


LOWER_ENUMS = DocsFault(
    "Graph's enums are camelCase (bodyType html, attendeeType required, dayOfWeek monday); the docs"
    " capitalise some values and Graph accepts either spelling",
    _lower_enums,
)


def _lower_comment(call: DocCall) -> None:
    call.body = {"comment": call.body["Comment"]}


COMMENT_CASE = DocsFault(
    "the cancel action's parameter is `comment` (OpenAPI, and the page's own parameter table); the"
    " example writes `Comment`",
    _lower_comment,
)


def _give_ids(call: DocCall) -> None:
    for number, item in enumerate(call.response_body["value"], start=1):
        item.setdefault("id", f"AAMkAGDocsEvent{number}=")


RESPONSE_WITHOUT_IDS = DocsFault(
    "the example's response is shortened: its events have no id, which Graph always returns (the"
    " event resource's key)",
    _give_ids,
)


def _camel_forward(call: DocCall) -> None:
    call.body = {"toRecipients": call.body["ToRecipients"], "comment": call.body["Comment"]}


FORWARD_CASE = DocsFault(
    "forward's parameters are `toRecipients` and `comment` (OpenAPI, and the page's own parameter"
    " table); the example writes `ToRecipients` and `Comment`",
    _camel_forward,
)


# -- expectations ------------------------------------------------------------------------------------------
def same_items(items_name: str) -> Any:
    def expect(call: DocCall, output: dict[str, Any]) -> None:
        documented = call.response_body["value"]
        assert [i.get("id") for i in output[items_name]] == [i.get("id") for i in documented]
        assert output["next_link"] == call.response_body.get("@odata.nextLink")

    return expect


def same_object(call: DocCall, output: dict[str, Any]) -> None:
    for key, value in call.response_body.items():
        assert output.get(key) == value, key


def done(action: str) -> Any:
    def expect(call: DocCall, output: dict[str, Any]) -> None:
        assert output == {"id": call.after("events"), "done": True, "action": action}

    return expect


# -- input derivations -------------------------------------------------------------------------------------
def time_zone_input(call: DocCall) -> dict[str, Any]:
    prefer = next((v for k, v in call.headers.items() if k.lower() == "prefer"), "")
    found = re.search(r'outlook\.timezone="([^"]+)"', prefer)
    return {"time_zone": found[1]} if found else {}


def calendar_input(call: DocCall) -> dict[str, Any]:
    lowered = [s.lower() for s in call.segments]
    return {"calendar_id": call.after("calendars")} if "calendars" in lowered else {}


_SIMPLE = {
    "subject": "subject",
    "isAllDay": "is_all_day",
    "isReminderOn": "is_reminder_on",
    "reminderMinutesBeforeStart": "reminder_minutes_before_start",
    "isOnlineMeeting": "is_online_meeting",
    "onlineMeetingProvider": "online_meeting_provider",
    "showAs": "show_as",
    "importance": "importance",
    "sensitivity": "sensitivity",
    "categories": "categories",
    "allowNewTimeProposals": "allow_new_time_proposals",
    "transactionId": "transaction_id",
}


def _recurrence_input(recurrence: dict[str, Any]) -> dict[str, Any]:
    pattern, rng = recurrence["pattern"], recurrence["range"]
    out: dict[str, Any] = {"type": pattern["type"], "interval": pattern.get("interval", 1)}
    for graph, name in (
        ("daysOfWeek", "days_of_week"),
        ("dayOfMonth", "day_of_month"),
        ("month", "month"),
        ("index", "index"),
        ("firstDayOfWeek", "first_day_of_week"),
    ):
        if graph in pattern:
            out[name] = pattern[graph]
    out["range_type"], out["start_date"] = rng["type"], rng["startDate"]
    if "endDate" in rng:
        out["end_date"] = rng["endDate"]
    if "numberOfOccurrences" in rng:
        out["occurrences"] = rng["numberOfOccurrences"]
    if "recurrenceTimeZone" in rng:
        out["recurrence_time_zone"] = rng["recurrenceTimeZone"]
    return out


def event_input(body: dict[str, Any]) -> dict[str, Any]:
    """A documented Graph event body -> the event fields of create/update."""
    params: dict[str, Any] = {}
    for key, value in body.items():
        if key in _SIMPLE:
            params[_SIMPLE[key]] = value
        elif key == "body":
            params["body"], params["body_type"] = value["content"], value["contentType"]
        elif key in ("start", "end"):
            params[key] = value["dateTime"]
            params[f"{key}_time_zone"] = value["timeZone"]
        elif key == "location" and set(value) == {"displayName"}:
            params["location"] = value["displayName"]
        elif key == "attendees":
            for kind, name in (("required", "required"), ("optional", "optional"), ("resource", "resource")):
                chosen = [a for a in value if a["type"] == kind]
                if chosen:
                    params[f"{name}_attendees"] = recipients_input(chosen)
        elif key == "recurrence":
            params["recurrence"] = _recurrence_input(value)
        else:
            raise NotExpressible(key)
    if params.get("end_time_zone") == params.get("start_time_zone"):
        params.pop("end_time_zone", None)
    return params


def create_event_input(call: DocCall) -> dict[str, Any]:
    return {**call.mailbox_input(), **calendar_input(call), **time_zone_input(call), **event_input(call.body)}


def event_id(call: DocCall) -> dict[str, Any]:
    return {**call.mailbox_input(), "event_id": call.after("events")}


def respond_input(call: DocCall) -> dict[str, Any]:
    params = event_id(call)
    if "comment" in call.body:
        params["comment"] = call.body["comment"]
    if "sendResponse" in call.body:
        params["send_response"] = call.body["sendResponse"]
    proposal = call.body.get("proposedNewTime")
    if proposal:
        assert proposal["start"]["timeZone"] == proposal["end"]["timeZone"]
        params["proposed_start"] = proposal["start"]["dateTime"]
        params["proposed_end"] = proposal["end"]["dateTime"]
        params["proposed_time_zone"] = proposal["start"]["timeZone"]
    return params


def schedule_input(call: DocCall) -> dict[str, Any]:
    body = call.body
    assert body["startTime"]["timeZone"] == body["endTime"]["timeZone"]
    return {
        **call.mailbox_input(),
        "time_zone": body["startTime"]["timeZone"],
        "schedules": body["schedules"],
        "start": body["startTime"]["dateTime"],
        "end": body["endTime"]["dateTime"],
        "interval": body["availabilityViewInterval"],
    }


def same_schedules(call: DocCall, output: dict[str, Any]) -> None:
    assert output == {"schedules": call.response_body["value"]}


def forwarded(call: DocCall, output: dict[str, Any]) -> None:
    to = [r["emailAddress"]["address"] for r in call.body["toRecipients"]]
    assert output == {"id": call.after("events"), "forwarded": True, "to": to}


def created(call: DocCall, output: dict[str, Any]) -> None:
    assert output["id"] == call.response_body["id"]


CASES: dict[str, DocCase] = {
    # calendars
    "user_get_calendars": DocCase(
        "list_calendars", lambda c: c.mailbox_input(), (PAGE_SIZE,), same_items("calendars")
    ),
    "get_calendar": DocCase("get_calendar", lambda c: c.mailbox_input(), expect=same_object),
    "create_calendar_from_user": DocCase(
        "create_calendar", lambda c: {**c.mailbox_input(), "name": c.body["name"]}, expect=created
    ),
    "update_calendar": DocCase(
        "update_calendar", lambda c: {**c.mailbox_input(), "name": c.body["name"]}, expect=same_object
    ),
    # events
    "get_events": DocCase(
        "list_events",
        lambda c: {**c.mailbox_input(), **select_input(c), **time_zone_input(c)},
        (PAGE_SIZE,),
        same_items("events"),
    ),
    "user_get_calendarview": DocCase(
        "list_calendar_view",
        lambda c: {
            **c.mailbox_input(),
            "start_date_time": c.query["startDateTime"],
            "end_date_time": c.query["endDateTime"],
        },
        (PAGE_SIZE, RESPONSE_WITHOUT_IDS),
        same_items("events"),
    ),
    "get_event": DocCase(
        "get_event", lambda c: {**event_id(c), **select_input(c), **time_zone_input(c)}, expect=same_object
    ),
    "get_event_multiple_locations": DocCase(
        "get_event", lambda c: {**event_id(c), **select_input(c)}, expect=same_object
    ),
    "create_event_from_user": DocCase("create_event", create_event_input, (LOWER_ENUMS,), created),
    "create_event_recurring": DocCase("create_event", create_event_input, (LOWER_ENUMS,), created),
    "create_event_from_user_with_online_meeting": DocCase(
        "create_event", create_event_input, (LOWER_ENUMS,), created
    ),
    "create_event_from_calendar": DocCase("create_event", create_event_input, (LOWER_ENUMS,), created),
    "create_event_from_calendar_with_online_meeting": DocCase(
        "create_event", create_event_input, (LOWER_ENUMS,), created
    ),
    "delete_event": DocCase("delete_event", event_id, expect=done("deleted")),
    "event_cancel": DocCase(
        "cancel_event",
        lambda c: {**event_id(c), "comment": c.body["comment"]},
        (COMMENT_CASE,),
        done("cancelled"),
    ),
    "event_accept": DocCase("accept_event", respond_input, expect=done("accepted")),
    "event_decline": DocCase("decline_event", respond_input, expect=done("declined")),
    "event_tentativelyaccept": DocCase(
        "tentatively_accept_event", respond_input, expect=done("tentativelyAccepted")
    ),
    "get_instances": DocCase(
        "list_event_instances",
        lambda c: {
            **event_id(c),
            **select_input(c),
            "start_date_time": c.query["startDateTime"],
            "end_date_time": c.query["endDateTime"],
        },
        (PAGE_SIZE,),
        same_items("events"),
    ),
    "event_forward": DocCase(
        "forward_event",
        lambda c: {
            **event_id(c),
            "to": recipients_input(c.body["toRecipients"]),
            "comment": c.body["comment"],
        },
        (FORWARD_CASE,),
        forwarded,
    ),
    "calendar_getSchedule": DocCase("get_schedule_availability", schedule_input, expect=same_schedules),
}

UNUSED: dict[str, str] = {
    "delete_calendar": "deletes the default calendar (/me/calendar), which Outlook refuses; delete_calendar"
    " takes a calendar id",
    "calendar_get_events": "list_events reads /events (the default calendar) or /calendars/{id}/events;"
    " /calendar/events is the same collection by another path",
    "get_calendarview": "list_calendar_view reads /calendarView or /calendars/{id}/calendarView;"
    " /calendar/calendarView is the same view by another path",
    "create_event_from_user_multiple_locations": "create_event takes one location (display name);"
    " several locations with addresses and coordinates are not an input",
    "update_event": "the example's body is placeholder values ('originalStartTimeZone-value', read-only"
    " properties such as iCalUId and responseStatus), not a request Graph accepts",
    "event_delta": "the example's query values are placeholders ('{start_datetime}') and its response"
    " is placeholder values ('originalStartTimeZone-value'), not an exchange Graph has",
    "user_findmeetingtimes": "the example sends booleans and numbers as strings (isOrganizerOptional"
    ' "false", minimumAttendeePercentage "100") and a location constraint that asks no'
    " availability; find_meeting_times sends JSON booleans and numbers",
    # other endpoints on the same reference pages
    "calendarthis.permanentdelete": "permanently deleting a calendar is not an action",
}
