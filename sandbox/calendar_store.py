"""Calendars and events of every seeded mailbox: the data behind graph_calendars and graph_events.

One ``CalendarStore`` per sandbox state, rebuilt from the seed whenever the state reloads its
mailboxes (``SandboxState.reset``). Times are kept in UTC; each event remembers the zones it was
created in (recurrences expand in the start's zone) and is rendered in the zone the caller prefers.
"""

from __future__ import annotations

import base64
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sandbox import event_values, extended, seed
from sandbox.changes import Change, ChangeObserver, ChangeType
from sandbox.errors import GraphError
from sandbox.recurrence import occurrences, zone
from sandbox.state import SandboxState

_SHOW_AS_CODE = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}


def fmt(moment: datetime, where: tzinfo = UTC) -> str:
    """Graph's dateTime text: wall clock with seven decimals, no offset."""
    return moment.astimezone(where).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone_or_400(name: str) -> tzinfo:
    found = zone(name)
    if found is None:
        raise GraphError(
            400, "TimeZoneNotSupportedException", f"A valid TimeZone value must be specified. '{name}'"
        )
    return found


def parse_date_time_time_zone(value: Any, what: str) -> tuple[datetime, str]:
    """A dateTimeTimeZone body value -> (aware UTC datetime, zone name)."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise GraphError(400, "ErrorInvalidRequest", f"The {what} property is missing or invalid.")
    name = str(value.get("timeZone") or "UTC")
    where = zone_or_400(name)
    text = str(value["dateTime"])
    try:
        moment = datetime.fromisoformat(text[:19])
    except ValueError:
        raise GraphError(400, "ErrorInvalidRequest", f"Cannot convert '{text}' to a date and time.") from None
    return moment.replace(tzinfo=where).astimezone(UTC), name


def parse_instant(text: str, name: str) -> datetime:
    """A query's startDateTime/endDateTime (ISO 8601; no offset means UTC)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GraphError(
            400, "ErrorInvalidParameter", f"The value '{text}' of parameter '{name}' is invalid."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class UserCalendars:
    user: dict[str, Any]
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    """id -> stored event: Graph properties plus private ``_`` keys (calendar, UTC times, zones)."""
    removed: dict[str, datetime] = field(default_factory=dict)
    """Deleted event ids and when (for delta @removed)."""

    @property
    def default_calendar(self) -> dict[str, Any]:
        return next(c for c in self.calendars.values() if c["isDefaultCalendar"])


class CalendarStore:
    def __init__(self, anchor: datetime, seed_value: int) -> None:
        self.rng = random.Random(f"calendars:{seed_value}")
        self.anchor = anchor
        self.users: dict[str, UserCalendars] = {}
        self.seeding = True
        """True while ``calendar_seed`` fills it: no change is reported."""
        self.observer: ChangeObserver | None = None
        """Told of every event change (the sandbox's subscriptions)."""
        for user in seed.DIRECTORY:
            box = UserCalendars(user)
            self.users[user["id"]] = box
            self.add_calendar(box, "Calendar", "auto", default=True)

    # -- ids and clock ----------------------------------------------------------------------------------
    def new_id(self, user: dict[str, Any], kind: int) -> str:
        raw = uuid.UUID(user["id"]).bytes + bytes([0, 0x46, kind]) + self.rng.randbytes(27)
        return "AAMkA" + base64.urlsafe_b64encode(raw).decode("ascii")

    def change_key(self) -> str:
        return "DwAAABYAAA" + base64.urlsafe_b64encode(self.rng.randbytes(18)).decode("ascii")

    def now(self) -> datetime:
        """The clock: the seed's anchor while seeding (stable recordings), the real time after."""
        return self.anchor if self.seeding else datetime.now(UTC)

    # -- calendars --------------------------------------------------------------------------------------
    def add_calendar(
        self, box: UserCalendars, name: str, color: str = "auto", default: bool = False
    ) -> dict[str, Any]:
        calendar_id = self.new_id(box.user, 0x06)
        calendar = {
            "id": calendar_id,
            "name": name,
            "color": color,
            "hexColor": "",
            "isDefaultCalendar": default,
            "changeKey": self.change_key(),
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": not default,
            "owner": {"name": box.user["displayName"], "address": box.user["mail"]},
        }
        box.calendars[calendar_id] = calendar
        return calendar

    # -- events -----------------------------------------------------------------------------------------
    def add_event(
        self, box: UserCalendars, calendar_id: str, props: dict[str, Any], *, organizer: bool = True
    ) -> dict[str, Any]:
        """Store an event from a create body (already validated); copies go to in-tenant attendees."""
        start, start_zone = parse_date_time_time_zone(props.get("start"), "Start")
        end, end_zone = parse_date_time_time_zone(props.get("end"), "End")
        if end < start:
            raise GraphError(
                400, "ErrorInvalidRequest", "The end time of the event must be later than its start time."
            )
        now = self.now()
        event_id = self.new_id(box.user, 0x07)
        body = props.get("body") or {"contentType": "html", "content": ""}
        attendees = [
            {
                "type": a.get("type", "required"),
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                "emailAddress": dict(a.get("emailAddress") or {}),
            }
            for a in props.get("attendees") or []
        ]
        owner_address = {"name": box.user["displayName"], "address": box.user["mail"]}
        online = bool(props.get("isOnlineMeeting"))
        event: dict[str, Any] = {
            "id": event_id,
            "createdDateTime": stamp(now),
            "lastModifiedDateTime": stamp(now),
            "changeKey": self.change_key(),
            "categories": list(props.get("categories") or []),
            "transactionId": props.get("transactionId"),
            "originalStartTimeZone": start_zone,
            "originalEndTimeZone": end_zone,
            "iCalUId": "040000008200E00074C5B7101A82E00800000000" + self.rng.randbytes(24).hex().upper(),
            "reminderMinutesBeforeStart": props.get("reminderMinutesBeforeStart", 15),
            "isReminderOn": props.get("isReminderOn", True),
            "hasAttachments": False,
            "subject": props.get("subject", ""),
            "bodyPreview": _preview(str(body.get("content") or "")),
            "importance": props.get("importance", "normal"),
            "sensitivity": props.get("sensitivity", "normal"),
            "isAllDay": bool(props.get("isAllDay", False)),
            "isCancelled": False,
            "isOrganizer": organizer,
            "responseRequested": True,
            "seriesMasterId": None,
            "showAs": props.get("showAs", "busy"),
            "type": "seriesMaster" if props.get("recurrence") else "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None,
            "isOnlineMeeting": online,
            "onlineMeetingProvider": props.get("onlineMeetingProvider", "teamsForBusiness")
            if online
            else "unknown",
            "allowNewTimeProposals": props.get("allowNewTimeProposals", True),
            "isDraft": False,
            "hideAttendees": bool(props.get("hideAttendees", False)),
            "recurrence": event_values.recurrence(props.get("recurrence"), start_zone),
            "responseStatus": {
                "response": "organizer" if organizer else "notResponded",
                "time": "0001-01-01T00:00:00Z",
            },
            "body": {
                "contentType": str(body.get("contentType", "html")).lower(),
                "content": body.get("content", ""),
            },
            "location": _location(props.get("location")),
            "locations": [_location(props.get("location"))] if props.get("location") else [],
            "attendees": attendees,
            "organizer": {"emailAddress": dict(props.get("_organizer") or owner_address)},
            "onlineMeeting": (
                {
                    "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{event_id[-20:]}%40thread.v2/0"
                }
                if online
                else None
            ),
            "_calendar": calendar_id,
            "_start": start,
            "_end": end,
            "_modified": now,
        }
        if event["isAllDay"] and (start.astimezone(zone_or_400(start_zone)).time() != datetime.min.time()):
            raise GraphError(
                400,
                "ErrorPropertyValidationFailure",
                "An all-day event must start and end at midnight.",
            )
        box.events[event_id] = event
        self._report(box, event, "created")
        if organizer:
            self._invite(box, event)
        return event

    def _invite(self, box: UserCalendars, event: dict[str, Any]) -> None:
        """Put a copy of a meeting in each in-tenant attendee's default calendar."""
        for attendee in event["attendees"]:
            user = self.find_user(attendee["emailAddress"].get("address", ""))
            if user is None or user["id"] == box.user["id"]:
                continue
            if not attendee["emailAddress"].get("name"):
                attendee["emailAddress"]["name"] = user["displayName"]
            self.copy_to(self.users[user["id"]], event)

    def copy_to(self, target: UserCalendars, event: dict[str, Any]) -> dict[str, Any]:
        public = {k: v for k, v in event.items() if not k.startswith("_")}
        copy = self.add_event(
            target,
            target.default_calendar["id"],
            {
                **public,
                "start": {"dateTime": fmt(event["_start"]), "timeZone": "UTC"},
                "end": {"dateTime": fmt(event["_end"]), "timeZone": "UTC"},
                "_organizer": event["organizer"]["emailAddress"],
            },
            organizer=False,
        )
        copy["iCalUId"] = event["iCalUId"]
        copy["originalStartTimeZone"] = event["originalStartTimeZone"]
        copy["originalEndTimeZone"] = event["originalEndTimeZone"]
        copy["_series_zone"] = event.get("_series_zone", event["originalStartTimeZone"])
        return copy

    @staticmethod
    def find_user(address: str) -> dict[str, Any] | None:
        return SandboxState.find_user(address) if address else None

    def copies(self, event: dict[str, Any]) -> list[tuple[UserCalendars, dict[str, Any]]]:
        """Every mailbox's copy of a meeting (same iCalUId), the given one included."""
        found = []
        for box in self.users.values():
            for other in box.events.values():
                if other["iCalUId"] == event["iCalUId"]:
                    found.append((box, other))
        return found

    def touch(self, event: dict[str, Any]) -> None:
        now = self.now()
        event["lastModifiedDateTime"] = stamp(now)
        event["changeKey"] = self.change_key()
        event["_modified"] = now
        if self.observer is not None:  # the mailbox holding this very dict (not an occurrence's copy)
            owner = next((b for b in self.users.values() if b.events.get(event["id"]) is event), None)
            if owner is not None:
                self._report(owner, event, "updated")

    def remove(self, box: UserCalendars, event_id: str) -> None:
        """Delete an event, or one occurrence of a series (the series skips it from then on)."""
        master_id, _, _when = event_id.rpartition("_")
        if event_id not in box.events and master_id in box.events:
            master = box.events[master_id]
            master.setdefault("_deleted_occurrences", set()).add(event_id)
            self.touch(master)
        else:
            removed = box.events.pop(event_id, None)
            if removed is not None:
                self._report(box, removed, "deleted")
        box.removed[event_id] = self.now()

    def _report(self, box: UserCalendars, event: dict[str, Any], change_type: ChangeType) -> None:
        if self.observer is not None:
            self.observer(
                Change(
                    box.user["id"],
                    "event",
                    event["id"],
                    event["_calendar"],
                    change_type,
                    event["changeKey"],
                    render=lambda: self.render(event),
                )
            )

    # -- reading ----------------------------------------------------------------------------------------
    def render(
        self, event: dict[str, Any], where: tzinfo = UTC, where_name: str = "UTC", keep_extended: bool = False
    ) -> dict[str, Any]:
        """The event as Graph shows it; extended properties and extensions stay only with
        ``keep_extended`` (for $filter; the caller hides or expands them)."""
        out = {k: v for k, v in event.items() if not k.startswith("_")}
        if not keep_extended:
            extended.hide(out)
        out["@odata.etag"] = f'W/"{event["changeKey"]}"'
        out["start"] = {"dateTime": fmt(event["_start"], where), "timeZone": where_name}
        out["end"] = {"dateTime": fmt(event["_end"], where), "timeZone": where_name}
        return out

    def expand(
        self, box: UserCalendars, calendar_id: str | None, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """Stored events overlapping the window, series expanded into occurrences (private keys kept)."""
        found: list[dict[str, Any]] = []
        for event in box.events.values():
            if calendar_id is not None and event["_calendar"] != calendar_id:
                continue
            if not event.get("recurrence"):
                if event["_end"] > start and event["_start"] < end:
                    found.append(event)
                continue
            series_zone = zone(event.get("_series_zone", event["originalStartTimeZone"])) or UTC
            local_start = event["_start"].astimezone(series_zone)
            duration = event["_end"] - event["_start"]
            deleted = event.get("_deleted_occurrences", set())
            for occ_start, occ_end in occurrences(event["recurrence"], local_start, duration, start, end):
                occurrence = self.occurrence(event, occ_start, occ_end)
                if occurrence["id"] not in deleted:
                    found.append(occurrence)
        found.sort(key=lambda e: (e["_start"], e["id"]))
        return found

    @staticmethod
    def occurrence(master: dict[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
        occurrence = dict(master)
        occurrence.update(
            {
                "id": f"{master['id']}_{start.strftime('%Y%m%dT%H%M')}",
                "type": "occurrence",
                "seriesMasterId": master["id"],
                "recurrence": None,
                "_start": start,
                "_end": end,
            }
        )
        changes = master.get("_exceptions", {}).get(occurrence["id"])
        if changes:  # answered (or changed) on its own: an exception of the series
            occurrence.update(changes, type="exception")
        return occurrence

    def find_event(self, box: UserCalendars, event_id: str) -> dict[str, Any] | None:
        """A stored event, or an occurrence of a series (``{master}_{YYYYMMDDTHHMM}``)."""
        if event_id in box.events:
            return box.events[event_id]
        master_id, _, when = event_id.rpartition("_")
        master = box.events.get(master_id)
        if master is None or not master.get("recurrence") or len(when) != 13:
            return None
        try:
            start = datetime.strptime(when, "%Y%m%dT%H%M").replace(tzinfo=UTC)
        except ValueError:
            return None
        for occ in self.expand(box, master["_calendar"], start, start + timedelta(minutes=1)):
            if occ["id"] == event_id:
                return occ
        return None

    def schedule(
        self, address: str, start: datetime, end: datetime, interval: int, where: tzinfo, where_name: str
    ) -> dict[str, Any]:
        """One scheduleInformation: free/busy from the person's default calendar."""
        user = self.find_user(address)
        if user is None:
            return {
                "scheduleId": address,
                "availabilityView": "",
                "scheduleItems": [],
                "error": {"message": "The user wasn't found.", "responseCode": "ErrorMailRecipientNotFound"},
            }
        box = self.users[user["id"]]
        items = [
            e
            for e in self.expand(box, box.default_calendar["id"], start, end)
            if not e["isCancelled"] and e["showAs"] != "free"
        ]
        view = []
        slot = start
        step = timedelta(minutes=interval)
        while slot < end:
            codes = [
                _SHOW_AS_CODE.get(e["showAs"], "2")
                for e in items
                if e["_start"] < slot + step and e["_end"] > slot
            ]
            view.append(max(codes) if codes else "0")
            slot += step
        return {
            "scheduleId": address,
            "availabilityView": "".join(view),
            "scheduleItems": [
                {
                    "isPrivate": e["sensitivity"] == "private",
                    "status": e["showAs"],
                    "subject": e["subject"],
                    "location": e["location"].get("displayName", ""),
                    "start": {"dateTime": fmt(e["_start"], where), "timeZone": where_name},
                    "end": {"dateTime": fmt(e["_end"], where), "timeZone": where_name},
                }
                for e in items
            ],
            "workingHours": {
                "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                "startTime": "08:00:00.0000000",
                "endTime": "17:00:00.0000000",
                "timeZone": {"name": "UTC"},
            },
        }


def _location(value: Any) -> dict[str, Any]:
    return event_values.location(value if isinstance(value, dict) else {})


def _preview(content: str) -> str:
    import re

    text = re.sub(r"<[^>]+>", " ", content)
    return " ".join(text.split())[:255]


def record_response(
    store: CalendarStore,
    box: UserCalendars,
    event: dict[str, Any],
    response: str,
    proposal: dict[str, Any] | None = None,
) -> None:
    """An attendee answers: their copy, and the organizer's attendee list, show it (with the time
    they propose instead, if any)."""
    when = stamp(store.now())
    if event.get("seriesMasterId") and event["id"] not in box.events:
        _answer_occurrence(store, box, event, {"response": response, "time": when}, proposal)
        return
    event["responseStatus"] = {"response": response, "time": when}
    if response == "tentativelyAccepted":
        event["showAs"] = "tentative"
    store.touch(event)
    mail = box.user["mail"].lower()
    for _owner, copy in store.copies(event):
        for attendee in copy["attendees"]:
            if str(attendee["emailAddress"].get("address", "")).lower() == mail:
                attendee["status"] = {"response": response, "time": when}
                if proposal is not None:
                    attendee["proposedNewTime"] = proposal
        if copy is not event:
            store.touch(copy)


def _answer_occurrence(
    store: CalendarStore,
    box: UserCalendars,
    occurrence: dict[str, Any],
    status: dict[str, str],
    proposal: dict[str, Any] | None,
) -> None:
    """One occurrence answered: it alone becomes an exception of its series, in the attendee's
    calendar and in every copy's attendee list; the other occurrences keep their answers."""
    suffix = occurrence["id"].rpartition("_")[2]
    mail = box.user["mail"].lower()
    for owner, master in store.copies(occurrence):
        if not master.get("recurrence"):
            continue
        changes = master.setdefault("_exceptions", {}).setdefault(f"{master['id']}_{suffix}", {})
        attendees = [dict(a) for a in changes.get("attendees", master["attendees"])]
        for attendee in attendees:
            if str(attendee["emailAddress"].get("address", "")).lower() == mail:
                attendee["status"] = dict(status)
                if proposal is not None:
                    attendee["proposedNewTime"] = proposal
        changes["attendees"] = attendees
        if owner is box:
            changes["responseStatus"] = dict(status)
            if status["response"] == "tentativelyAccepted":
                changes["showAs"] = "tentative"
        store.touch(master)
