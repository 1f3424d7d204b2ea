"""Calendars: list, get, create, update, delete."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from actions._calendar import Calendar, CalendarColor
from actions._graph import list_output
from actions._inputs import GraphId, MailboxInput, PagingInput
from actions.models import DeletedOutput, page_output
from connector.context import ActionContext, quote_segment
from connector.schemas import returns


def calendar_path(ctx: ActionContext, user_id: str | None, calendar_id: str | None) -> str:
    """``{mailbox}/calendars/{id}``, or the default calendar ``{mailbox}/calendar``."""
    base = ctx.mailbox(user_id)
    return f"{base}/calendars/{quote_segment(calendar_id)}" if calendar_id else f"{base}/calendar"


class ListCalendarsInput(MailboxInput, PagingInput):
    pass


CalendarPage = page_output("calendars", Calendar, "The mailbox's calendars, the default one first.")


@returns(CalendarPage)
def list_calendars(ctx: ActionContext, params: ListCalendarsInput) -> dict[str, Any]:
    return list_output(ctx, f"{ctx.mailbox(params.user_id)}/calendars", params, "calendars")


class GetCalendarInput(MailboxInput):
    calendar_id: GraphId | None = Field(
        default=None,
        min_length=1,
        title="Calendar",
        description="Graph id of the calendar. Empty: the default calendar.",
    )


@returns(Calendar)
def get_calendar(ctx: ActionContext, params: GetCalendarInput) -> dict[str, Any]:
    calendar: dict[str, Any] = ctx.graph.get_json(calendar_path(ctx, params.user_id, params.calendar_id))
    return calendar


class CreateCalendarInput(MailboxInput):
    name: str = Field(min_length=1, title="Name", examples=["Team offsites"])
    color: CalendarColor = Field(
        default="auto",
        title="Colour",
        description="Outlook's colour theme for the calendar (auto: Outlook picks).",
    )


@returns(Calendar)
def create_calendar(ctx: ActionContext, params: CreateCalendarInput) -> dict[str, Any]:
    body: dict[str, Any] = {"name": params.name}
    if params.color != "auto":  # auto is what Graph gives a calendar created without one
        body["color"] = params.color
    created: dict[str, Any] = ctx.graph.post_json(f"{ctx.mailbox(params.user_id)}/calendars", json=body)
    return created


class UpdateCalendarInput(GetCalendarInput):
    """Only the fields given change: a missing name or colour keeps its current value."""

    name: str | None = Field(default=None, min_length=1, title="New name")
    color: CalendarColor | None = Field(
        default=None,
        title="New colour",
        description="auto lets Outlook pick. Empty: the colour stays as it is (only fields given change).",
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateCalendarInput:
        if self.name is None and self.color is None:
            raise ValueError("name or color: give at least one field to change")
        return self


@returns(Calendar)
def update_calendar(ctx: ActionContext, params: UpdateCalendarInput) -> dict[str, Any]:
    body = {"name": params.name, "color": params.color}
    changes = {key: value for key, value in body.items() if value is not None}
    updated: dict[str, Any] = ctx.graph.patch_json(
        calendar_path(ctx, params.user_id, params.calendar_id), json=changes
    )
    return updated


class DeleteCalendarInput(MailboxInput):
    calendar_id: GraphId = Field(
        min_length=1,
        title="Calendar",
        description="Graph id of the calendar to delete (with its events). The default calendar cannot be"
        " deleted.",
    )


@returns(DeletedOutput)
def delete_calendar(ctx: ActionContext, params: DeleteCalendarInput) -> dict[str, Any]:
    ctx.graph.request("DELETE", calendar_path(ctx, params.user_id, params.calendar_id))
    return {"deleted": True, "id": params.calendar_id}
