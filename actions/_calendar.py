"""Calendar pieces shared by the calendar and event actions: time zones, recurrence, attendees."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from actions._inputs import ActionInput, MailboxInput, TimeZone
from actions._mail import Recipients, recipients_json
from actions.models import GraphObject
from connector.http import prefer_header

DEFAULT_TIME_ZONE = "UTC"

DayOfWeek = Literal["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
PatternType = Literal[
    "daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"
]
RangeType = Literal["endDate", "numbered", "noEnd"]
WeekIndex = Literal["first", "second", "third", "fourth", "last"]
CalendarColor = Literal[
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
]


class TimeZoneInput(MailboxInput):
    time_zone: TimeZone | None = Field(
        default=None,
        title="Time zone",
        description="Return start and end times in this time zone (Windows or IANA name, sent as"
        " `Prefer: outlook.timezone`). Empty: as stored (usually UTC).",
        examples=["Pacific Standard Time"],
    )

    def prefer(self) -> dict[str, str] | None:
        return prefer_header(timezone=self.time_zone) if self.time_zone else None


def date_time_time_zone(value: str, time_zone: str) -> dict[str, str]:
    """Graph's ``dateTimeTimeZone``: a wall-clock time and the zone it is in."""
    return {"dateTime": value, "timeZone": time_zone}


class RecurrenceInput(ActionInput):
    """How an event repeats (Graph's patternedRecurrence, flattened)."""

    type: PatternType = Field(title="Repeats", description="The recurrence pattern.", examples=["weekly"])
    interval: int = Field(
        default=1,
        ge=1,
        le=99,
        title="Every",
        description="Units between occurrences (every N days, weeks...).",
    )
    days_of_week: list[DayOfWeek] | None = Field(
        default=None,
        title="Days of week",
        description="weekly: the days it happens; relativeMonthly/relativeYearly: the day named by `index`.",
        examples=[["monday", "wednesday"]],
    )
    day_of_month: int | None = Field(
        default=None, ge=1, le=31, title="Day of month", description="absoluteMonthly/absoluteYearly."
    )
    month: int | None = Field(
        default=None, ge=1, le=12, title="Month", description="absoluteYearly/relativeYearly."
    )
    index: WeekIndex | None = Field(
        default=None,
        title="Week of month",
        description="relativeMonthly/relativeYearly: which of the month's `days_of_week` (default first).",
    )
    first_day_of_week: DayOfWeek | None = Field(
        default=None, title="First day of week", description="weekly with interval > 1 (default sunday)."
    )
    range_type: RangeType = Field(
        default="noEnd",
        title="Ends",
        description="endDate: on `end_date`; numbered: after `occurrences`; noEnd: never.",
    )
    start_date: str = Field(
        title="First date",
        description="Date of the first occurrence (YYYY-MM-DD); usually the event's start date.",
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        examples=["2026-12-01"],
    )
    end_date: str | None = Field(
        default=None, title="End date", pattern=r"^\d{4}-\d{2}-\d{2}$", description="With range_type endDate."
    )
    occurrences: int | None = Field(
        default=None, ge=1, title="Occurrences", description="With range_type numbered."
    )
    recurrence_time_zone: TimeZone | None = Field(
        default=None, title="Recurrence time zone", description="Zone of the range dates. Empty: the start's."
    )

    @model_validator(mode="after")
    def _consistent(self) -> RecurrenceInput:
        needs_days = self.type in ("weekly", "relativeMonthly", "relativeYearly")
        if needs_days and not self.days_of_week:
            raise ValueError(f"days_of_week is required for a {self.type} recurrence")
        if self.type in ("absoluteMonthly", "absoluteYearly") and self.day_of_month is None:
            raise ValueError(f"day_of_month is required for a {self.type} recurrence")
        if self.type in ("absoluteYearly", "relativeYearly") and self.month is None:
            raise ValueError(f"month is required for a {self.type} recurrence")
        if self.range_type == "endDate" and not self.end_date:
            raise ValueError("end_date is required when range_type is endDate")
        if self.range_type == "numbered" and not self.occurrences:
            raise ValueError("occurrences is required when range_type is numbered")
        return self

    def to_graph(self) -> dict[str, Any]:
        pattern: dict[str, Any] = {"type": self.type, "interval": self.interval}
        if self.days_of_week:
            pattern["daysOfWeek"] = list(self.days_of_week)
        if self.day_of_month is not None:
            pattern["dayOfMonth"] = self.day_of_month
        if self.month is not None:
            pattern["month"] = self.month
        if self.index is not None:
            pattern["index"] = self.index
        if self.first_day_of_week is not None:
            pattern["firstDayOfWeek"] = self.first_day_of_week
        rng: dict[str, Any] = {"type": self.range_type, "startDate": self.start_date}
        if self.range_type == "endDate":
            rng["endDate"] = self.end_date
        if self.range_type == "numbered":
            rng["numberOfOccurrences"] = self.occurrences
        if self.recurrence_time_zone:
            rng["recurrenceTimeZone"] = self.recurrence_time_zone
        return {"pattern": pattern, "range": rng}


def attendees_json(
    required: Recipients | None, optional: Recipients | None, resources: Recipients | None
) -> list[dict[str, Any]]:
    """Graph's attendee list: required, then optional, then resources."""
    out: list[dict[str, Any]] = []
    for kind, group in (("required", required), ("optional", optional), ("resource", resources)):
        out.extend({**recipient, "type": kind} for recipient in recipients_json(group or []))
    return out


# -- outputs ---------------------------------------------------------------------------------------------
class DateTimeTimeZone(GraphObject):
    date_time: str | None = None
    time_zone: str | None = None


class Calendar(GraphObject):
    """A calendar (microsoft.graph.calendar)."""

    id: str
    name: str | None = None
    color: str | None = None
    hex_color: str | None = None
    is_default_calendar: bool | None = None
    change_key: str | None = None
    can_edit: bool | None = None
    can_share: bool | None = None
    owner: dict[str, Any] | None = None


class Event(GraphObject):
    """An event (microsoft.graph.event)."""

    id: str
    subject: str | None = None
    body_preview: str | None = None
    start: DateTimeTimeZone | None = None
    end: DateTimeTimeZone | None = None
    is_all_day: bool | None = None
    is_cancelled: bool | None = None
    is_organizer: bool | None = None
    is_online_meeting: bool | None = None
    online_meeting_provider: str | None = None
    show_as: str | None = None
    type: str | None = None
    series_master_id: str | None = None
    location: dict[str, Any] | None = None
    organizer: dict[str, Any] | None = None
    attendees: list[dict[str, Any]] | None = None
    recurrence: dict[str, Any] | None = None
    response_status: dict[str, Any] | None = None
    reminder_minutes_before_start: int | None = None
    is_reminder_on: bool | None = None
    web_link: str | None = None
