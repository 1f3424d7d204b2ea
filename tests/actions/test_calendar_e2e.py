"""Calendar and event actions end to end on the sandbox, with both connection types: state really changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connections.base import Connection
from connector.errors import GraphError, InputValidationError
from connector.runtime import Runtime
from sandbox import seed

OTHER_USER = next(u["userPrincipalName"] for u in seed.USERS if u["userPrincipalName"] != seed.DEFAULT_USER)


def _next_monday() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=7 - today.weekday())


def _wall(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _events_of(runtime: Runtime, admin: Connection, user: str, subject: str) -> list[dict[str, Any]]:
    out = runtime.run_action("list_events", {"fetch_all": True, "top": 100}, admin, user_id=user)
    return [e for e in out["events"] if e["subject"] == subject]


# -- calendars ---------------------------------------------------------------------------------------------
def test_calendar_lifecycle_keeps_unchanged_fields(runtime: Runtime, connection: Connection) -> None:
    created = runtime.run_action(
        "create_calendar", {"name": "Fleet maintenance", "color": "lightPink"}, connection
    )
    assert (created["name"], created["color"], created["isDefaultCalendar"]) == (
        "Fleet maintenance",
        "lightPink",
        False,
    )

    renamed = runtime.run_action(
        "update_calendar", {"calendar_id": created["id"], "name": "Fleet & depot maintenance"}, connection
    )
    assert renamed["color"] == "lightPink"  # only the name was given: the colour stays
    recoloured = runtime.run_action(
        "update_calendar", {"calendar_id": created["id"], "color": "lightTeal"}, connection
    )
    assert recoloured["name"] == "Fleet & depot maintenance"  # only the colour was given: the name stays

    fetched = runtime.run_action("get_calendar", {"calendar_id": created["id"]}, connection)
    assert (fetched["name"], fetched["color"]) == ("Fleet & depot maintenance", "lightTeal")
    listed = runtime.run_action("list_calendars", {}, connection)
    assert listed["calendars"][0]["isDefaultCalendar"] is True
    assert created["id"] in {c["id"] for c in listed["calendars"]}

    assert runtime.run_action("delete_calendar", {"calendar_id": created["id"]}, connection) == {
        "deleted": True,
        "id": created["id"],
    }
    with pytest.raises(GraphError) as error:
        runtime.run_action("get_calendar", {"calendar_id": created["id"]}, connection)
    assert error.value.status == 404


def test_update_calendar_needs_a_change_and_default_calendar_is_kept(
    runtime: Runtime, connection: Connection
) -> None:
    with pytest.raises(InputValidationError):
        runtime.run_action("update_calendar", {"calendar_id": "AAMkAGSomeCalendarId="}, connection)
    default = runtime.run_action("get_calendar", {}, connection)
    assert default["isDefaultCalendar"] is True
    with pytest.raises(GraphError) as error:
        runtime.run_action("delete_calendar", {"calendar_id": default["id"]}, connection)
    assert error.value.status == 400


# -- events ------------------------------------------------------------------------------------------------
def test_meeting_invites_attendee_and_acceptance_reaches_organizer(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    start = _next_monday() + timedelta(days=1, hours=14)
    meeting = runtime.run_action(
        "create_event",
        {
            "subject": "Route planning review",
            "body": "<p>Winter routes.</p>",
            "start": _wall(start),
            "end": _wall(start + timedelta(minutes=45)),
            "required_attendees": [OTHER_USER],
            "optional_attendees": [seed.USERS[2]["mail"]],
            "location": "Building 2 / Atlas room",
            "is_online_meeting": True,
            "reminder_minutes_before_start": 10,
        },
        connection,
    )
    assert meeting["isOrganizer"] is True and meeting["isOnlineMeeting"] is True
    assert meeting["onlineMeetingProvider"] == "teamsForBusiness"
    assert [a["type"] for a in meeting["attendees"]] == ["required", "optional"]

    invitations = _events_of(runtime, admin, OTHER_USER, "Route planning review")
    assert len(invitations) == 1 and invitations[0]["isOrganizer"] is False
    assert runtime.run_action(
        "accept_event",
        {"event_id": invitations[0]["id"], "comment": "Works for me."},
        admin,
        user_id=OTHER_USER,
    ) == {"id": invitations[0]["id"], "done": True, "action": "accepted"}

    organizer_copy = runtime.run_action("get_event", {"event_id": meeting["id"]}, connection)
    statuses = {
        a["emailAddress"]["address"].lower(): a["status"]["response"] for a in organizer_copy["attendees"]
    }
    assert statuses[OTHER_USER.lower()] == "accepted"
    assert statuses[seed.USERS[2]["mail"].lower()] == "none"
    attendee_copy = runtime.run_action(
        "get_event", {"event_id": invitations[0]["id"]}, admin, user_id=OTHER_USER
    )
    assert attendee_copy["responseStatus"]["response"] == "accepted"


def test_decline_and_tentative_on_seeded_invitations(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    events = runtime.run_action("list_events", {"fetch_all": True, "top": 50}, connection)["events"]
    invitation = next(e for e in events if e["subject"] == "1:1 Hannah / Avery")
    out = runtime.run_action("tentatively_accept_event", {"event_id": invitation["id"]}, connection)
    assert out["action"] == "tentativelyAccepted"
    assert (
        runtime.run_action("get_event", {"event_id": invitation["id"]}, connection)["responseStatus"][
            "response"
        ]
        == "tentativelyAccepted"
    )
    day = _next_monday() + timedelta(days=3)
    runtime.run_action(
        "decline_event",
        {
            "event_id": invitation["id"],
            "comment": "On leave.",
            "proposed_start": _wall(day + timedelta(hours=14)),
            "proposed_end": _wall(day + timedelta(hours=14, minutes=30)),
        },
        connection,
    )
    with pytest.raises(GraphError) as error:  # a declined meeting leaves the attendee's calendar
        runtime.run_action("get_event", {"event_id": invitation["id"]}, connection)
    assert error.value.status == 404
    hannah = seed.USERS[4]["mail"]  # the organizer sees the answer on her copy
    (series,) = _events_of(runtime, admin, hannah, "1:1 Hannah / Avery")
    statuses = {a["emailAddress"]["address"].lower(): a["status"]["response"] for a in series["attendees"]}
    assert statuses[seed.DEFAULT_USER.lower()] == "declined"
    (me,) = [
        a for a in series["attendees"] if a["emailAddress"]["address"].lower() == seed.DEFAULT_USER.lower()
    ]
    assert me["proposedNewTime"]["start"]["dateTime"].startswith(_wall(day + timedelta(hours=14)))


def test_recurring_event_expands_in_calendar_view(runtime: Runtime, connection: Connection) -> None:
    monday = _next_monday()
    series = runtime.run_action(
        "create_event",
        {
            "subject": "Dock safety walk",
            "start": _wall(monday + timedelta(hours=7)),
            "end": _wall(monday + timedelta(hours=7, minutes=30)),
            "start_time_zone": "UTC",
            "recurrence": {
                "type": "weekly",
                "days_of_week": ["monday", "wednesday"],
                "range_type": "numbered",
                "occurrences": 4,
                "start_date": monday.date().isoformat(),
            },
        },
        connection,
    )
    assert series["type"] == "seriesMaster"
    assert series["recurrence"]["pattern"]["daysOfWeek"] == ["monday", "wednesday"]
    view = runtime.run_action(
        "list_calendar_view",
        {
            "start_date_time": monday.isoformat(),
            "end_date_time": (monday + timedelta(days=21)).isoformat(),
            "fetch_all": True,
        },
        connection,
    )
    walks = [e for e in view["events"] if e["subject"] == "Dock safety walk"]
    assert [w["start"]["dateTime"][:16] for w in walks] == [
        _wall(monday + timedelta(days=d, hours=7))[:16] for d in (0, 2, 7, 9)
    ]
    assert {w["type"] for w in walks} == {"occurrence"} and {w["seriesMasterId"] for w in walks} == {
        series["id"]
    }
    # list_events shows the series once, as its master
    assert len(_events_of(runtime, connection, seed.DEFAULT_USER, "Dock safety walk")) == 1


def test_all_day_event_and_separate_time_zones(runtime: Runtime, connection: Connection) -> None:
    day = _next_monday() + timedelta(days=3)
    all_day = runtime.run_action(
        "create_event",
        {
            "subject": "Stocktake",
            "start": day.date().isoformat(),
            "end": (day + timedelta(days=1)).date().isoformat(),
            "is_all_day": True,
            "show_as": "oof",
        },
        connection,
    )
    assert all_day["isAllDay"] is True and all_day["showAs"] == "oof"
    flight = runtime.run_action(
        "create_event",
        {
            "subject": "Flight to Hamburg",
            "start": _wall(day + timedelta(hours=9)),
            "start_time_zone": "Eastern Standard Time",
            "end": _wall(day + timedelta(hours=22)),
            "end_time_zone": "W. Europe Standard Time",
            "time_zone": "UTC",
        },
        connection,
    )
    assert (flight["originalStartTimeZone"], flight["originalEndTimeZone"]) == (
        "Eastern Standard Time",
        "W. Europe Standard Time",
    )
    seen = runtime.run_action(
        "get_event", {"event_id": flight["id"], "time_zone": "Pacific Standard Time"}, connection
    )
    assert seen["start"]["timeZone"] == "Pacific Standard Time"
    assert seen["start"]["dateTime"].startswith(
        _wall(day + timedelta(hours=6))[:13]
    )  # 09:00 New York = 06:00 LA
    with pytest.raises(InputValidationError):
        runtime.run_action(
            "create_event", {"subject": "x", "start": day.date().isoformat(), "end": _wall(day)}, connection
        )


def test_update_event_changes_only_given_fields(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    events = runtime.run_action("list_events", {"fetch_all": True, "top": 50}, connection)["events"]
    call = next(e for e in events if e["subject"] == "Supplier call: Nordhavn Freight")
    updated = runtime.run_action(
        "update_event",
        {"event_id": call["id"], "location": "Harbour room", "reminder_minutes_before_start": 5},
        connection,
    )
    assert updated["location"]["displayName"] == "Harbour room"
    assert updated["reminderMinutesBeforeStart"] == 5
    assert updated["subject"] == call["subject"] and updated["start"] == call["start"]
    assert [a["emailAddress"]["address"] for a in updated["attendees"]] == [
        a["emailAddress"]["address"] for a in call["attendees"]
    ]

    # the organizer moves the meeting and invites one more person: attendees' copies follow
    attendee, newcomer = seed.USERS[2]["mail"], seed.USERS[3]["mail"]
    moved = runtime.run_action(
        "update_event",
        {
            "event_id": call["id"],
            "subject": "Supplier call: renewal",
            "required_attendees": [attendee, newcomer],
        },
        connection,
    )
    assert [a["emailAddress"]["address"] for a in moved["attendees"]] == [attendee, newcomer]
    for person in (attendee, newcomer):
        (copy,) = _events_of(runtime, admin, person, "Supplier call: renewal")
        assert copy["isOrganizer"] is False and copy["start"] == call["start"]


def test_cancel_and_delete(runtime: Runtime, connection: Connection, admin: Connection) -> None:
    events = runtime.run_action("list_events", {"fetch_all": True, "top": 50}, connection)["events"]
    call = next(e for e in events if e["subject"] == "Supplier call: Nordhavn Freight")
    attendee = seed.USERS[2]["mail"]
    assert runtime.run_action("cancel_event", {"event_id": call["id"], "comment": "Postponed."}, connection)[
        "done"
    ]
    with pytest.raises(GraphError):
        runtime.run_action("get_event", {"event_id": call["id"]}, connection)
    copies = _events_of(runtime, admin, attendee, "Canceled: Supplier call: Nordhavn Freight")
    assert len(copies) == 1 and copies[0]["isCancelled"] is True

    mine = runtime.run_action(
        "create_event",
        {
            "subject": "Desk booking",
            "start": _wall(_next_monday()),
            "end": _wall(_next_monday() + timedelta(hours=1)),
        },
        connection,
    )
    runtime.run_action("delete_event", {"event_id": mine["id"]}, connection)
    assert _events_of(runtime, connection, seed.DEFAULT_USER, "Desk booking") == []


def test_list_events_pages_and_prefers_time_zone(runtime: Runtime, connection: Connection) -> None:
    first = runtime.run_action("list_events", {"top": 2, "time_zone": "Tokyo Standard Time"}, connection)
    assert first["count"] == 2 and first["next_link"]
    assert {e["start"]["timeZone"] for e in first["events"]} == {"Tokyo Standard Time"}
    second = runtime.run_action("list_events", {"page_link": first["next_link"]}, connection)
    assert not {e["id"] for e in second["events"]} & {e["id"] for e in first["events"]}
    everything = runtime.run_action("list_events", {"fetch_all": True, "top": 2, "limit": 3}, connection)
    assert everything["count"] == 3


def test_schedule_availability_reflects_busy_times(runtime: Runtime, connection: Connection) -> None:
    day = _next_monday() + timedelta(days=1)
    runtime.run_action(
        "create_event",
        {
            "subject": "Budget hold",
            "start": _wall(day + timedelta(hours=9)),
            "end": _wall(day + timedelta(hours=10)),
        },
        connection,
    )
    out = runtime.run_action(
        "get_schedule_availability",
        {
            "schedules": [seed.DEFAULT_USER, "nobody@example.com"],
            "start": _wall(day + timedelta(hours=8)),
            "end": _wall(day + timedelta(hours=12)),
        },
        connection,
    )
    mine, unknown = out["schedules"]
    assert mine["availabilityView"][:4] == "0022"  # 30-minute slots: 08:00, 08:30 free; 09:00, 09:30 busy
    assert len(mine["availabilityView"]) == 8
    assert "Budget hold" in {i["subject"] for i in mine["scheduleItems"]}
    assert unknown["error"]["responseCode"] == "ErrorMailRecipientNotFound"


def test_instances_and_deleting_one_occurrence(runtime: Runtime, connection: Connection) -> None:
    monday = _next_monday()
    series = runtime.run_action(
        "create_event",
        {
            "subject": "Forklift inspection",
            "start": _wall(monday + timedelta(hours=6)),
            "end": _wall(monday + timedelta(hours=6, minutes=20)),
            "recurrence": {
                "type": "daily",
                "interval": 2,
                "start_date": monday.date().isoformat(),
                "range_type": "endDate",
                "end_date": (monday + timedelta(days=6)).date().isoformat(),
            },
        },
        connection,
    )
    window = {
        "start_date_time": monday.isoformat(),
        "end_date_time": (monday + timedelta(days=14)).isoformat(),
    }
    instances = runtime.run_action("list_event_instances", {"event_id": series["id"], **window}, connection)
    assert [i["start"]["dateTime"][:10] for i in instances["events"]] == [
        (monday + timedelta(days=d)).date().isoformat() for d in (0, 2, 4, 6)
    ]
    runtime.run_action("delete_event", {"event_id": instances["events"][1]["id"]}, connection)
    left = runtime.run_action("list_event_instances", {"event_id": series["id"], **window}, connection)
    assert [i["id"] for i in left["events"]] == [instances["events"][i]["id"] for i in (0, 2, 3)]


def test_forward_puts_the_meeting_in_the_recipients_calendar(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    events = runtime.run_action("list_events", {"fetch_all": True, "top": 50}, connection)["events"]
    call = next(e for e in events if e["subject"] == "Supplier call: Nordhavn Freight")
    newcomer = seed.USERS[3]["mail"]
    assert _events_of(runtime, admin, newcomer, call["subject"]) == []
    out = runtime.run_action(
        "forward_event", {"event_id": call["id"], "to": [newcomer], "comment": "Please join."}, connection
    )
    assert out == {"id": call["id"], "forwarded": True, "to": [newcomer]}
    (copy,) = _events_of(runtime, admin, newcomer, call["subject"])
    assert copy["isOrganizer"] is False and copy["start"] == call["start"]


def test_event_delta_returns_changes_since_the_cursor(runtime: Runtime, connection: Connection) -> None:
    monday = _next_monday() - timedelta(days=7)  # this week: the seeded supplier call is on Tuesday
    window = {
        "start_date_time": monday.isoformat(),
        "end_date_time": (monday + timedelta(days=5)).isoformat(),
    }
    temporary = runtime.run_action(
        "create_event",
        {
            "subject": "Temporary hold",
            "start": _wall(monday + timedelta(days=3, hours=7)),
            "end": _wall(monday + timedelta(days=3, hours=8)),
        },
        connection,
    )
    first = runtime.run_action("list_event_delta", {**window, "page_size": 2}, connection)
    view = runtime.run_action("list_calendar_view", {**window, "fetch_all": True, "top": 50}, connection)
    assert {e["id"] for e in first["changes"]} == {e["id"] for e in view["events"]}  # every page followed
    assert first["delta_link"] and first["next_link"] is None and first["removed_ids"] == []

    quiet = runtime.run_action("list_event_delta", {"cursor": first["delta_link"]}, connection)
    assert quiet["changes"] == []

    call = next(e for e in view["events"] if e["subject"] == "Supplier call: Nordhavn Freight")
    runtime.run_action(
        "update_event", {"event_id": call["id"], "subject": "Supplier call (moved room)"}, connection
    )
    added = runtime.run_action(
        "create_event",
        {
            "subject": "Pallet count",
            "start": _wall(monday + timedelta(days=2, hours=15)),
            "end": _wall(monday + timedelta(days=2, hours=16)),
        },
        connection,
    )
    outside = runtime.run_action(
        "create_event",
        {
            "subject": "Far away",
            "start": _wall(monday + timedelta(days=30)),
            "end": _wall(monday + timedelta(days=30, hours=1)),
        },
        connection,
    )
    runtime.run_action("delete_event", {"event_id": temporary["id"]}, connection)

    changes = runtime.run_action("list_event_delta", {"cursor": quiet["delta_link"]}, connection)
    changed = {c["id"]: c for c in changes["changes"] if "@removed" not in c}
    assert set(changed) == {call["id"], added["id"]} and outside["id"] not in changed
    assert changed[call["id"]]["subject"] == "Supplier call (moved room)"
    assert changes["removed_ids"] == [temporary["id"]]
    with pytest.raises(InputValidationError):
        runtime.run_action("list_event_delta", {}, connection)


def test_find_meeting_times_avoids_busy_attendees(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    tuesday = _next_monday() + timedelta(days=1)
    runtime.run_action(
        "create_event",
        {
            "subject": "Vendor audit",
            "start": _wall(tuesday + timedelta(hours=10)),
            "end": _wall(tuesday + timedelta(hours=12)),
        },
        admin,
        user_id=OTHER_USER,
    )
    out = runtime.run_action(
        "find_meeting_times",
        {
            "required_attendees": [OTHER_USER],
            "start": _wall(tuesday + timedelta(hours=9)),
            "end": _wall(tuesday + timedelta(hours=13)),
            "duration_minutes": 60,
            "time_zone": "UTC",
        },
        connection,
    )
    starts = [s["meetingTimeSlot"]["start"]["dateTime"][11:16] for s in out["suggestions"]]
    assert starts == ["09:00", "12:00"]
    assert {a["availability"] for s in out["suggestions"] for a in s["attendeeAvailability"]} == {"free"}
    none = runtime.run_action(
        "find_meeting_times",
        {
            "required_attendees": [OTHER_USER],
            "start": _wall(tuesday + timedelta(hours=10)),
            "end": _wall(tuesday + timedelta(hours=12)),
            "duration_minutes": 60,
        },
        connection,
    )
    assert none["count"] == 0 and none["empty_suggestions_reason"] == "attendeesUnavailable"


def test_events_of_a_second_calendar(runtime: Runtime, connection: Connection) -> None:
    harbor = next(
        c
        for c in runtime.run_action("list_calendars", {}, connection)["calendars"]
        if c["name"] == "Project Harbor"
    )
    start = _next_monday() + timedelta(days=4, hours=11)
    made = runtime.run_action(
        "create_event",
        {
            "calendar_id": harbor["id"],
            "subject": "Berth schedule",
            "start": _wall(start),
            "end": _wall(start + timedelta(hours=1)),
        },
        connection,
    )
    in_harbor = runtime.run_action("list_events", {"calendar_id": harbor["id"], "top": 50}, connection)
    assert [e["id"] for e in in_harbor["events"]] == [made["id"]]
    assert (
        _events_of(runtime, connection, seed.DEFAULT_USER, "Berth schedule") == []
    )  # not the default calendar
    window = {"start_date_time": start.isoformat(), "end_date_time": (start + timedelta(hours=2)).isoformat()}
    view = runtime.run_action("list_calendar_view", {**window, "calendar_id": harbor["id"]}, connection)
    assert [e["id"] for e in view["events"]] == [made["id"]]
    runtime.run_action("delete_calendar", {"calendar_id": harbor["id"]}, connection)
    with pytest.raises(GraphError):
        runtime.run_action("get_event", {"event_id": made["id"]}, connection)
