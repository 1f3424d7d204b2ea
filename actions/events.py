"""Calendar events: list, calendar view, get, create, update, delete, cancel, respond, forward, delta
(availability and meeting times are in actions/availability.py)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from actions._calendar import (
    DEFAULT_TIME_ZONE,
    Event,
    RecurrenceInput,
    TimeZoneInput,
    attendees_json,
    date_time_time_zone,
)
from actions._graph import delta_output, list_output, odata_params
from actions._inputs import ActionInput, GraphId, Link, MailboxInput, PagingInput, TimeZone
from actions._mail import Recipients, addresses, recipients_json
from actions.models import page_output
from connector.context import ActionContext, quote_segment
from connector.http import prefer_header
from connector.schemas import returns

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
ShowAs = Literal["free", "tentative", "busy", "oof", "workingElsewhere"]
Importance = Literal["low", "normal", "high"]
MeetingProvider = Literal["teamsForBusiness", "skypeForBusiness", "skypeForConsumer"]
Sensitivity = Literal["normal", "personal", "private", "confidential"]


def _events_base(ctx: ActionContext, user_id: str | None, calendar_id: str | None) -> str:
    base = ctx.mailbox(user_id)
    return f"{base}/calendars/{quote_segment(calendar_id)}" if calendar_id else base


def event_path(ctx: ActionContext, user_id: str | None, event_id: str) -> str:
    return f"{ctx.mailbox(user_id)}/events/{quote_segment(event_id)}"


EventPage = page_output("events", Event, "The events.")


# -- reading ---------------------------------------------------------------------------------------------
class ListEventsInput(TimeZoneInput, PagingInput):
    calendar_id: GraphId | None = Field(
        default=None,
        min_length=1,
        title="Calendar",
        description="Graph id of a calendar. Empty: the mailbox's events (the default calendar's)."
        " Recurring events appear once, as their series master: use the calendar view to expand them.",
    )
    filter: str | None = Field(
        default=None,
        title="Filter",
        description="An OData $filter, e.g. `start/dateTime ge '2026-12-01T00:00:00'`.",
        examples=["isOrganizer eq true"],
    )
    select: list[str] | None = Field(
        default=None, title="Properties", examples=[["subject", "start", "end", "organizer"]]
    )
    order_by: str | None = Field(default=None, title="Order by", examples=["start/dateTime"])


@returns(EventPage)
def list_events(ctx: ActionContext, params: ListEventsInput) -> dict[str, Any]:
    path = _events_base(ctx, params.user_id, params.calendar_id) + "/events"
    query = odata_params(filter=params.filter, select=params.select, orderby=params.order_by)
    return list_output(ctx, path, params, "events", params=query, headers=params.prefer())


class CalendarViewInput(TimeZoneInput, PagingInput):
    start_date_time: str = Field(
        title="From",
        description="Start of the window (ISO 8601; without an offset, UTC).",
        examples=["2026-12-01T00:00:00Z"],
    )
    end_date_time: str = Field(
        title="To", description="End of the window (ISO 8601).", examples=["2026-12-08T00:00:00Z"]
    )
    calendar_id: GraphId | None = Field(
        default=None, min_length=1, title="Calendar", description="Empty: the default calendar."
    )
    select: list[str] | None = Field(default=None, title="Properties")


@returns(EventPage)
def list_calendar_view(ctx: ActionContext, params: CalendarViewInput) -> dict[str, Any]:
    """Occurrences, exceptions and single events in the window; recurring series expanded."""
    path = _events_base(ctx, params.user_id, params.calendar_id) + "/calendarView"
    query = {
        "startDateTime": params.start_date_time,
        "endDateTime": params.end_date_time,
        **odata_params(select=params.select),
    }
    return list_output(ctx, path, params, "events", params=query, headers=params.prefer())


class EventIdInput(MailboxInput):
    event_id: GraphId = Field(min_length=1, title="Event id", description="Graph id of the event.")


class EventInstancesInput(EventIdInput, TimeZoneInput, PagingInput):
    start_date_time: str = Field(
        title="From", description="Start of the window (ISO 8601).", examples=["2026-12-01T00:00:00Z"]
    )
    end_date_time: str = Field(
        title="To", description="End of the window (ISO 8601).", examples=["2027-01-01T00:00:00Z"]
    )
    select: list[str] | None = Field(default=None, title="Properties")


@returns(EventPage)
def list_event_instances(ctx: ActionContext, params: EventInstancesInput) -> dict[str, Any]:
    """The occurrences (and exceptions) of a recurring series in a window."""
    query = {
        "startDateTime": params.start_date_time,
        "endDateTime": params.end_date_time,
        **odata_params(select=params.select),
    }
    path = event_path(ctx, params.user_id, params.event_id) + "/instances"
    return list_output(ctx, path, params, "events", params=query, headers=params.prefer())


class GetEventInput(EventIdInput, TimeZoneInput):
    select: list[str] | None = Field(default=None, title="Properties")


@returns(Event)
def get_event(ctx: ActionContext, params: GetEventInput) -> dict[str, Any]:
    event: dict[str, Any] = ctx.graph.get_json(
        event_path(ctx, params.user_id, params.event_id),
        params=odata_params(select=params.select) or None,
        headers=params.prefer(),
    )
    return event


# -- writing ---------------------------------------------------------------------------------------------
class EventFieldsInput(ActionInput):
    """The event properties create and update share; on update, only those given change."""

    subject: str | None = Field(default=None, title="Subject", examples=["Project sync"])
    body: str | None = Field(default=None, title="Description", examples=["<p>Agenda: numbers, hiring.</p>"])
    body_type: Literal["html", "text"] = Field(default="html", title="Description format")
    start: str | None = Field(
        default=None,
        title="Start",
        description="Wall-clock start in `start_time_zone` (YYYY-MM-DDTHH:MM:SS); a date if all day.",
        examples=["2026-12-03T15:00:00"],
    )
    end: str | None = Field(
        default=None,
        title="End",
        description="Wall-clock end in `end_time_zone`, or the day after the last day of an all-day event.",
        examples=["2026-12-03T15:30:00"],
    )
    start_time_zone: TimeZone | None = Field(
        default=None, title="Start time zone", description='Time zone of `start`. Empty: "UTC".'
    )
    end_time_zone: TimeZone | None = Field(
        default=None, title="End time zone", description="Time zone of `end`. Empty: the start's."
    )
    is_all_day: bool | None = Field(
        default=None,
        title="All day",
        description="An all-day event: start and end are dates (midnight), end exclusive.",
    )
    location: str | None = Field(default=None, title="Location", examples=["Room 4.12"])
    required_attendees: Recipients | None = Field(default=None, title="Required attendees")
    optional_attendees: Recipients | None = Field(default=None, title="Optional attendees")
    resource_attendees: Recipients | None = Field(
        default=None, title="Resources", description="Rooms or equipment mailboxes."
    )
    recurrence: RecurrenceInput | None = Field(default=None, title="Recurrence")
    is_reminder_on: bool | None = Field(default=None, title="Reminder on")
    reminder_minutes_before_start: int | None = Field(
        default=None, ge=0, title="Reminder (minutes before)", examples=[15]
    )
    is_online_meeting: bool | None = Field(
        default=None, title="Online meeting", description="Create a Teams meeting link for the event."
    )
    online_meeting_provider: MeetingProvider | None = Field(
        default=None,
        title="Online meeting provider",
        description="With `is_online_meeting`. Empty: teamsForBusiness.",
    )
    show_as: ShowAs | None = Field(default=None, title="Show as")
    importance: Importance | None = Field(default=None, title="Importance")
    sensitivity: Sensitivity | None = Field(default=None, title="Sensitivity")
    categories: list[str] | None = Field(default=None, title="Categories")
    allow_new_time_proposals: bool | None = Field(default=None, title="Allow new time proposals")

    @model_validator(mode="after")
    def _times(self) -> EventFieldsInput:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is None:
                continue
            if _DATE_ONLY.match(value):
                if not self.is_all_day:
                    raise ValueError(f"{name}: a date without a time is only valid with is_all_day")
                setattr(self, name, value + "T00:00:00")
            elif not _DATE_TIME.match(value):
                raise ValueError(
                    f"{name}: expected YYYY-MM-DDTHH:MM:SS (no offset: see the time zone fields)"
                )
            elif self.is_all_day and not value.endswith(("T00:00", "T00:00:00")):
                raise ValueError(f"{name}: an all-day event starts and ends at midnight")
        if (
            self.start
            and self.end
            and self.start_time_zone in (self.end_time_zone, None)
            and (self.end_time_zone in (self.start_time_zone, None))
            and self.end <= self.start
        ):
            raise ValueError("end must be after start")
        return self

    def event_json(self) -> dict[str, Any]:
        """The Graph event properties given (nothing for fields left empty)."""
        out: dict[str, Any] = {}
        if self.subject is not None:
            out["subject"] = self.subject
        if self.body is not None:
            out["body"] = {"contentType": self.body_type, "content": self.body}
        start_zone = self.start_time_zone or DEFAULT_TIME_ZONE
        if self.start is not None:
            out["start"] = date_time_time_zone(self.start, start_zone)
        if self.end is not None:
            out["end"] = date_time_time_zone(self.end, self.end_time_zone or start_zone)
        if self.is_all_day is not None:
            out["isAllDay"] = self.is_all_day
        if self.location is not None:
            out["location"] = {"displayName": self.location}
        groups = (self.required_attendees, self.optional_attendees, self.resource_attendees)
        if any(group is not None for group in groups):
            out["attendees"] = attendees_json(*groups)
        if self.recurrence is not None:
            out["recurrence"] = self.recurrence.to_graph()
        for key, value in (
            ("isReminderOn", self.is_reminder_on),
            ("reminderMinutesBeforeStart", self.reminder_minutes_before_start),
            ("isOnlineMeeting", self.is_online_meeting),
            ("showAs", self.show_as),
            ("importance", self.importance),
            ("sensitivity", self.sensitivity),
            ("categories", self.categories),
            ("allowNewTimeProposals", self.allow_new_time_proposals),
        ):
            if value is not None:
                out[key] = value
        if self.is_online_meeting:
            out["onlineMeetingProvider"] = self.online_meeting_provider or "teamsForBusiness"
        return out


class CreateEventInput(EventFieldsInput, TimeZoneInput):
    calendar_id: GraphId | None = Field(
        default=None, min_length=1, title="Calendar", description="Empty: the default calendar."
    )
    transaction_id: str | None = Field(
        default=None,
        title="Transaction id",
        description="A client-chosen id: Graph ignores a second create with the same one (safe retries).",
    )

    @model_validator(mode="after")
    def _required(self) -> CreateEventInput:
        missing = [name for name in ("subject", "start", "end") if getattr(self, name) is None]
        if missing:
            raise ValueError(f"{', '.join(missing)}: required to create an event")
        return self


@returns(Event)
def create_event(ctx: ActionContext, params: CreateEventInput) -> dict[str, Any]:
    body = params.event_json()
    if params.transaction_id:
        body["transactionId"] = params.transaction_id
    path = _events_base(ctx, params.user_id, params.calendar_id) + "/events"
    created: dict[str, Any] = ctx.graph.post_json(path, json=body, headers=params.prefer())
    return created


class UpdateEventInput(EventFieldsInput, EventIdInput, TimeZoneInput):
    """Only the fields given change; attendees, when given, replace the whole list."""

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateEventInput:
        if not self.event_json():
            raise ValueError("give at least one event field to change")
        return self


@returns(Event)
def update_event(ctx: ActionContext, params: UpdateEventInput) -> dict[str, Any]:
    updated: dict[str, Any] = ctx.graph.patch_json(
        event_path(ctx, params.user_id, params.event_id), json=params.event_json(), headers=params.prefer()
    )
    return updated


class EventDoneOutput(BaseModel):
    id: str = Field(description="The event id.")
    done: bool = Field(description="True once Graph accepted the request.")
    action: str = Field(
        description="What was done: deleted, cancelled, accepted, declined, tentativelyAccepted."
    )


@returns(EventDoneOutput)
def delete_event(ctx: ActionContext, params: EventIdInput) -> dict[str, Any]:
    ctx.graph.request("DELETE", event_path(ctx, params.user_id, params.event_id))
    return {"id": params.event_id, "done": True, "action": "deleted"}


class CancelEventInput(EventIdInput):
    """Only the organizer can cancel; attendees get a cancellation with the comment."""

    comment: str | None = Field(default=None, title="Comment", examples=["Moved to next week."])


@returns(EventDoneOutput)
def cancel_event(ctx: ActionContext, params: CancelEventInput) -> dict[str, Any]:
    body = {"comment": params.comment} if params.comment else {}
    ctx.graph.request("POST", event_path(ctx, params.user_id, params.event_id) + "/cancel", json=body)
    return {"id": params.event_id, "done": True, "action": "cancelled"}


class RespondEventInput(EventIdInput):
    comment: str | None = Field(default=None, title="Comment", examples=["See you there."])
    send_response: bool = Field(
        default=True, title="Send response", description="Tell the organizer (false: answer silently)."
    )


def _respond(ctx: ActionContext, params: RespondEventInput, verb: str) -> dict[str, Any]:
    """POST accept / decline / tentativelyAccept with the comment and, when given, a proposed time."""
    body: dict[str, Any] = {"sendResponse": params.send_response}
    if params.comment:
        body = {"comment": params.comment, **body}
    if isinstance(params, ProposeEventInput) and params.proposed_start and params.proposed_end:
        body["proposedNewTime"] = {
            "start": date_time_time_zone(params.proposed_start, params.proposed_time_zone),
            "end": date_time_time_zone(params.proposed_end, params.proposed_time_zone),
        }
    ctx.graph.request("POST", event_path(ctx, params.user_id, params.event_id) + "/" + verb, json=body)
    return {"id": params.event_id, "done": True, "action": "declined" if verb == "decline" else verb + "ed"}


@returns(EventDoneOutput)
def accept_event(ctx: ActionContext, params: RespondEventInput) -> dict[str, Any]:
    return _respond(ctx, params, "accept")


class ProposeEventInput(RespondEventInput):
    """Declining or tentatively accepting may propose another time (when the organizer allows it)."""

    proposed_start: str | None = Field(
        default=None,
        title="Proposed start",
        description="Wall-clock start of the time you propose instead, in `proposed_time_zone`.",
        examples=["2026-12-04T15:00:00"],
    )
    proposed_end: str | None = Field(default=None, title="Proposed end", examples=["2026-12-04T16:00:00"])
    proposed_time_zone: TimeZone = Field(default=DEFAULT_TIME_ZONE, title="Proposed time zone")

    @model_validator(mode="after")
    def _both_or_neither(self) -> ProposeEventInput:
        if (self.proposed_start is None) != (self.proposed_end is None):
            raise ValueError("proposed_start and proposed_end go together")
        if self.proposed_start and not self.send_response:
            raise ValueError("send_response must be true to propose a new time")
        return self


@returns(EventDoneOutput)
def decline_event(ctx: ActionContext, params: ProposeEventInput) -> dict[str, Any]:
    return _respond(ctx, params, "decline")


@returns(EventDoneOutput)
def tentatively_accept_event(ctx: ActionContext, params: ProposeEventInput) -> dict[str, Any]:
    return _respond(ctx, params, "tentativelyAccept")


class ForwardEventInput(EventIdInput):
    to: Recipients = Field(min_length=1, title="To", description="Who receives the meeting invitation.")
    comment: str | None = Field(default=None, title="Comment", examples=["Could you join this one?"])


class ForwardedEventOutput(BaseModel):
    id: str
    forwarded: bool
    to: list[str]


@returns(ForwardedEventOutput)
def forward_event(ctx: ActionContext, params: ForwardEventInput) -> dict[str, Any]:
    body: dict[str, Any] = {"toRecipients": recipients_json(params.to)}
    if params.comment:
        body["comment"] = params.comment
    ctx.graph.request("POST", event_path(ctx, params.user_id, params.event_id) + "/forward", json=body)
    return {"id": params.event_id, "forwarded": True, "to": addresses(params.to)}


# -- delta ---------------------------------------------------------------------------------------------------
class EventDeltaInput(TimeZoneInput):
    start_date_time: str | None = Field(
        default=None,
        title="From",
        description="Start of the calendar window to track (ISO 8601). Required without `cursor`.",
        examples=["2026-12-01T00:00:00Z"],
    )
    end_date_time: str | None = Field(
        default=None,
        title="To",
        description="End of the window (ISO 8601). Required without `cursor`.",
        examples=["2027-01-01T00:00:00Z"],
    )
    cursor: Link | None = Field(
        default=None,
        title="Cursor",
        description="The `delta_link` (or `next_link`) of an earlier output: only changes since then (the"
        " window comes with it). Empty: every event in the window now, and a first cursor.",
    )
    page_size: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        title="Page size",
        description="Events per page (Prefer odata.maxpagesize).",
    )
    fetch_all: bool = Field(
        default=True,
        title="Fetch all pages",
        description="Follow every page up to the delta link (else one page and its `next_link`).",
    )

    @model_validator(mode="after")
    def _window_or_cursor(self) -> EventDeltaInput:
        if not self.cursor and not (self.start_date_time and self.end_date_time):
            raise ValueError("start_date_time and end_date_time are required without a cursor")
        return self


class EventDeltaOutput(BaseModel):
    changes: list[Event] = Field(
        description="New or changed events and occurrences in the window, and removed ones as"
        " {id, @removed: {reason}}."
    )
    count: int
    removed_ids: list[str] = Field(description="Ids of the events deleted or moved out of the window.")
    next_link: str | None = Field(description="More changes remain: pass this as `cursor`.")
    delta_link: str | None = Field(
        description="Caught up: store this and pass it as `cursor` next time to get only newer changes."
    )


@returns(EventDeltaOutput)
def list_event_delta(ctx: ActionContext, params: EventDeltaInput) -> dict[str, Any]:
    """Changes to the calendar view of a window (recurring series expanded) since a cursor."""
    headers = prefer_header(timezone=params.time_zone, max_page_size=params.page_size) or None
    if params.cursor:
        target, query = params.cursor, None
    else:
        target = f"{ctx.mailbox(params.user_id)}/calendarView/delta"
        query = {"startDateTime": str(params.start_date_time), "endDateTime": str(params.end_date_time)}
    return delta_output(ctx, target, query, headers, fetch_all=params.fetch_all)
