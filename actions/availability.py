"""Availability: free/busy of people and rooms (getSchedule) and meeting time suggestions
(findMeetingTimes)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from actions._calendar import (
    DEFAULT_TIME_ZONE,
    TimeZoneInput,
    attendees_json,
    date_time_time_zone,
)
from actions._mail import Address, Recipients
from connector.context import ActionContext
from connector.schemas import returns

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")
ShowAs = Literal["free", "tentative", "busy", "oof", "workingElsewhere"]
Importance = Literal["low", "normal", "high"]
MeetingProvider = Literal["teamsForBusiness", "skypeForBusiness", "skypeForConsumer"]
Sensitivity = Literal["normal", "personal", "private", "confidential"]


class ScheduleInput(TimeZoneInput):
    schedules: list[Address] = Field(
        min_length=1, max_length=100, title="People", description="Mailboxes (users, rooms) to look up."
    )
    start: str = Field(
        title="From",
        description="Wall-clock start in `start_time_zone` (else `time_zone`, else UTC).",
        examples=["2026-12-03T09:00:00"],
    )
    end: str = Field(
        title="To",
        description="Wall-clock end in `end_time_zone` (else `time_zone`, else UTC).",
        examples=["2026-12-03T18:00:00"],
    )
    start_time_zone: str | None = Field(
        default=None,
        min_length=1,
        title="Start time zone",
        description="Time zone of `start` (Windows or IANA name). Empty: `time_zone`, else UTC.",
        examples=["Pacific Standard Time"],
    )
    end_time_zone: str | None = Field(
        default=None,
        min_length=1,
        title="End time zone",
        description="Time zone of `end`. Empty: `time_zone`, else UTC.",
        examples=["Eastern Standard Time"],
    )
    interval: int = Field(
        default=30,
        ge=5,
        le=1440,
        title="Slot length (minutes)",
        description="Length of each availability slot.",
    )


class ScheduleOutput(BaseModel):
    schedules: list[dict[str, Any]] = Field(
        description="One scheduleInformation per person: availabilityView (one digit per slot: 0 free,"
        " 1 tentative, 2 busy, 3 out of office, 4 working elsewhere), scheduleItems, workingHours."
    )


@returns(ScheduleOutput)
def get_schedule_availability(ctx: ActionContext, params: ScheduleInput) -> dict[str, Any]:
    zone = params.time_zone or DEFAULT_TIME_ZONE
    body = {
        "schedules": list(params.schedules),
        "startTime": date_time_time_zone(params.start, params.start_time_zone or zone),
        "endTime": date_time_time_zone(params.end, params.end_time_zone or zone),
        "availabilityViewInterval": params.interval,
    }
    answer = ctx.graph.post_json(
        f"{ctx.mailbox(params.user_id)}/calendar/getSchedule",
        json=body,
        headers=params.prefer(),
        idempotent=True,
    )
    return {"schedules": answer.get("value", [])}


class FindMeetingTimesInput(TimeZoneInput):
    required_attendees: Recipients = Field(default_factory=list, title="Required attendees")
    optional_attendees: Recipients = Field(default_factory=list, title="Optional attendees")
    start: str = Field(
        title="Earliest start",
        description="Wall-clock start of the search window in `time_zone` (UTC if empty).",
        examples=["2026-12-03T09:00:00"],
    )
    end: str = Field(title="Latest end", examples=["2026-12-04T17:00:00"])
    duration_minutes: int = Field(default=30, ge=5, le=1440, title="Duration (minutes)")
    activity_domain: Literal["work", "personal", "unrestricted"] = Field(
        default="work",
        title="Hours",
        description="work: within working hours; personal/unrestricted: any time of day.",
    )
    max_candidates: int | None = Field(default=None, ge=1, le=100, title="At most")
    minimum_attendee_percentage: int | None = Field(
        default=None, ge=0, le=100, title="Minimum attendance (%)", description="Empty: Graph's default (50)."
    )
    is_organizer_optional: bool = Field(default=False, title="Organizer optional")
    locations: list[str] = Field(default_factory=list, title="Candidate locations", examples=[["Room 4.12"]])

    @model_validator(mode="after")
    def _someone(self) -> FindMeetingTimesInput:
        if not (self.required_attendees or self.optional_attendees):
            raise ValueError("required_attendees or optional_attendees: name at least one attendee")
        return self


class MeetingTimesOutput(BaseModel):
    suggestions: list[dict[str, Any]] = Field(
        description="meetingTimeSuggestion objects: meetingTimeSlot, confidence, organizerAvailability,"
        " attendeeAvailability, locations, suggestionReason; best first."
    )
    count: int
    empty_suggestions_reason: str | None = Field(
        default=None, description="Why there is no suggestion (attendeesUnavailable, ...), when none."
    )


@returns(MeetingTimesOutput)
def find_meeting_times(ctx: ActionContext, params: FindMeetingTimesInput) -> dict[str, Any]:
    zone = params.time_zone or DEFAULT_TIME_ZONE
    body: dict[str, Any] = {
        "attendees": attendees_json(params.required_attendees, params.optional_attendees, None),
        "timeConstraint": {
            "activityDomain": params.activity_domain,
            "timeSlots": [
                {
                    "start": date_time_time_zone(params.start, zone),
                    "end": date_time_time_zone(params.end, zone),
                }
            ],
        },
        "meetingDuration": f"PT{params.duration_minutes}M",
        "isOrganizerOptional": params.is_organizer_optional,
        "returnSuggestionReasons": True,
    }
    if params.max_candidates is not None:
        body["maxCandidates"] = params.max_candidates
    if params.minimum_attendee_percentage is not None:
        body["minimumAttendeePercentage"] = params.minimum_attendee_percentage
    if params.locations:
        body["locationConstraint"] = {
            "isRequired": False,
            "suggestLocation": False,
            "locations": [{"displayName": name, "resolveAvailability": False} for name in params.locations],
        }
    answer = ctx.graph.post_json(
        f"{ctx.mailbox(params.user_id)}/findMeetingTimes", json=body, headers=params.prefer(), idempotent=True
    )
    suggestions = answer.get("meetingTimeSuggestions", [])
    return {
        "suggestions": suggestions,
        "count": len(suggestions),
        "empty_suggestions_reason": answer.get("emptySuggestionsReason") or None,
    }
