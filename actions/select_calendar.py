"""Data sources of calendars: the mailbox's calendars and its upcoming events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from actions._calendar import TimeZoneInput
from actions._inputs import GraphId
from actions._options import DataSourceInput, MailboxDataSourceInput, OptionsOutput, link_page_output
from actions.calendars import calendar_path
from connector.context import ActionContext
from connector.schemas import returns

_GRAPH_TIME = "%Y-%m-%dT%H:%M:%SZ"


# -- calendars --------------------------------------------------------------------------------------------
class SelectCalendarInput(MailboxDataSourceInput):
    """The mailbox's calendars; `search` filters the page fetched by name."""


@returns(OptionsOutput)
def select_calendar(ctx: ActionContext, params: SelectCalendarInput) -> dict[str, Any]:
    path = f"{ctx.mailbox(params.user_id)}/calendars"
    query = {"$select": "id,name,isDefaultCalendar,owner"}
    return link_page_output(ctx, params, path, query, _calendar_option, filter_locally=True)


def _calendar_option(calendar: dict[str, Any]) -> dict[str, Any]:
    owner = (calendar.get("owner") or {}).get("address")
    description = "Default calendar" if calendar.get("isDefaultCalendar") else owner
    return {"key": calendar["id"], "label": calendar.get("name") or "(no name)", "description": description}


# -- upcoming events --------------------------------------------------------------------------------------
class SelectEventInput(DataSourceInput, TimeZoneInput):
    """Events from now on, soonest first, recurring series expanded into their occurrences."""

    calendar_id: GraphId | None = Field(
        default=None,
        min_length=1,
        title="Calendar",
        description="Only events of this calendar (Graph id). Empty: the default calendar.",
    )
    days: int = Field(
        default=30, ge=1, le=365, title="Days ahead", description="How far ahead to look (1-365 days)."
    )


@returns(OptionsOutput)
def select_event(ctx: ActionContext, params: SelectEventInput) -> dict[str, Any]:
    """The calendar view from now to ``days`` ahead. The window is fixed by the first page: the next
    pages (Graph's nextLink, in the cursor) keep it. Graph cannot filter a calendar view by text, so
    ``search`` filters the page fetched."""
    now = datetime.now(UTC).replace(microsecond=0)
    query = {
        "startDateTime": now.strftime(_GRAPH_TIME),
        "endDateTime": (now + timedelta(days=params.days)).strftime(_GRAPH_TIME),
        "$select": "id,subject,start,end,isAllDay",
        "$orderby": "start/dateTime",
    }
    path = calendar_path(ctx, params.user_id, params.calendar_id) + "/calendarView"
    return link_page_output(
        ctx, params, path, query, _event_option, headers=params.prefer(), filter_locally=True
    )


def _event_option(event: dict[str, Any]) -> dict[str, Any]:
    return {"key": event["id"], "label": event.get("subject") or "(no subject)", "description": _when(event)}


def _when(event: dict[str, Any]) -> str | None:
    """``2026-12-01 09:00 - 09:30 (UTC)``; all-day events: ``2026-12-01 (all day)``."""
    start, end = event.get("start") or {}, event.get("end") or {}
    begin, finish = str(start.get("dateTime") or ""), str(end.get("dateTime") or "")
    if not begin:
        return None
    if event.get("isAllDay"):
        return f"{begin[:10]} (all day)"
    until = finish[11:16] if finish[:10] == begin[:10] else finish[:16].replace("T", " ")
    zone = start.get("timeZone")
    return f"{begin[:16].replace('T', ' ')} - {until}" + (f" ({zone})" if zone else "")
