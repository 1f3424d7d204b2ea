"""findMeetingTimes and getSchedule: free/busy from the seeded and created events."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify

from sandbox.calendar_store import (
    CalendarStore,
    fmt,
    parse_date_time_time_zone,
)
from sandbox.errors import bad_request
from sandbox.graph import (
    add_mailbox_routes,
    context_url,
    entity,
    json_body,
)
from sandbox.graph_calendars import open_calendars, preferred_zone

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


def register(bp: Blueprint) -> None:
    add_mailbox_routes(
        bp,
        (("/calendar/getSchedule", "POST", get_schedule), ("/findMeetingTimes", "POST", find_meeting_times)),
    )
