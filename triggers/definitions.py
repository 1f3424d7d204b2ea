"""The triggers of the manifest: their inputs and what an instance of each watches (its plan).

Each handler is pure (validated input -> ``TriggerPlan``, no request). Mailbox paths come from
``ctx.mailbox(user_id)``, so app-only connections name their mailbox. Calendar triggers catch up
through a calendar view delta over a window from ``days_back`` before to ``days_ahead`` after the
start of the current UTC day; a cursor keeps the window it was taken with, and polling moves on to
the day's window (``triggers.delta.reanchor``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from actions._inputs import GraphId, MailboxInput
from connector.context import ActionContext, quote_segment
from triggers.plan import CHANGE_TYPES, TriggerPlan, Watch

ChangeType = Literal["created", "updated", "deleted"]

_CHANGE_TYPES_DESCRIPTION = (
    "Which changes start a flow: created (new or moved in), updated, deleted (deleted or moved out)."
)


def _change_types_field(default: list[str]) -> Any:
    return Field(
        default=default,
        min_length=1,
        title="Changes",
        description=_CHANGE_TYPES_DESCRIPTION,
        examples=[default],
    )


def _ordered(change_types: Sequence[str]) -> tuple[str, ...]:
    return tuple(c for c in CHANGE_TYPES if c in change_types)


class _ChangeTypes(MailboxInput):
    change_types: list[ChangeType]

    @field_validator("change_types")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a change type more than once")
        return value


class _FolderInput(MailboxInput):
    folder_id: GraphId = Field(
        default="inbox",
        min_length=1,
        title="Folder",
        description="Folder id or well-known name (inbox, sentitems, ...) to watch.",
        examples=["inbox"],
        json_schema_extra={"data_source": "select_mail_folder"},
    )


class _WindowInput(MailboxInput):
    days_back: int = Field(
        default=1,
        ge=0,
        le=3650,
        title="Days back",
        description="Catch-up reads (delta) cover events starting from this many days before today.",
    )
    days_ahead: int = Field(
        default=365,
        ge=1,
        le=3650,
        title="Days ahead",
        description="Catch-up reads (delta) cover events starting up to this many days after today.",
    )


class _RichInput(MailboxInput):
    include_resource_data: bool = Field(
        default=False,
        title="Include item in notification",
        description="Ask Graph to send the item itself, encrypted, in each notification (rich"
        " notifications; subscriptions then last 1 day instead of about 3)."
        " Else the connector reads the item when the notification arrives.",
    )


class MailMessageWebhookInput(_RichInput, _ChangeTypes, _FolderInput):
    change_types: list[ChangeType] = _change_types_field(["created"])


class CalendarEventWebhookInput(_RichInput, _ChangeTypes, _WindowInput):
    change_types: list[ChangeType] = _change_types_field(["created", "updated", "deleted"])


class NewAttachmentWebhookInput(_FolderInput):
    pass


class WebhookInput(_RichInput, _ChangeTypes, _WindowInput, _FolderInput):
    resource: Literal["messages", "events"] = Field(
        default="messages",
        title="Watch",
        description="messages: the messages of a folder (`folder_id`); events: the events of the"
        " default calendar (catch-up window `days_back`/`days_ahead`).",
    )
    change_types: list[ChangeType] = _change_types_field(["created", "updated", "deleted"])


class PollChangesInput(_ChangeTypes, _WindowInput, _FolderInput):
    resource: Literal["messages", "events"] = Field(
        default="messages",
        title="Watch",
        description="messages: the messages of a folder (`folder_id`); events: the events of the"
        " default calendar from `days_back` before to `days_ahead` after today.",
    )
    change_types: list[ChangeType] = _change_types_field(["created"])


# -- plans --------------------------------------------------------------------------------------------
def folder_watch(
    ctx: ActionContext, params: _FolderInput, change_types: tuple[str, ...], rich: bool
) -> Watch:
    """The messages of one folder: subscription ``mailFolders('{id}')/messages``, delta of the folder."""
    base = ctx.mailbox(params.user_id)
    folder = quote_segment(params.folder_id)
    return Watch(
        resource=f"{base.lstrip('/')}/mailFolders('{folder}')/messages",
        change_types=change_types,
        item_kind="message",
        delta_path=f"{base}/mailFolders/{folder}/messages/delta",
        delta_params={},
        include_resource_data=rich,
    )


def calendar_window(days_back: int, days_ahead: int, today: datetime | None = None) -> dict[str, str]:
    """``startDateTime``/``endDateTime`` around the start of the current UTC day."""
    day = (today or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = day - timedelta(days=days_back), day + timedelta(days=days_ahead)
    return {"startDateTime": _iso(start), "endDateTime": _iso(end)}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def events_watch(
    ctx: ActionContext, params: _WindowInput, change_types: tuple[str, ...], rich: bool
) -> Watch:
    """The events of the default calendar: subscription ``events``, calendar view delta of the window."""
    base = ctx.mailbox(params.user_id)
    return Watch(
        resource=f"{base.lstrip('/')}/events",
        change_types=change_types,
        item_kind="event",
        delta_path=f"{base}/calendarView/delta",
        delta_params=calendar_window(params.days_back, params.days_ahead),
        include_resource_data=rich,
    )


def plan_webhook(ctx: ActionContext, params: WebhookInput) -> TriggerPlan:
    changes = _ordered(params.change_types)
    if params.resource == "events":
        return TriggerPlan((events_watch(ctx, params, changes, params.include_resource_data),))
    return TriggerPlan((folder_watch(ctx, params, changes, params.include_resource_data),))


def plan_mail_message_webhook(ctx: ActionContext, params: MailMessageWebhookInput) -> TriggerPlan:
    watch = folder_watch(ctx, params, _ordered(params.change_types), params.include_resource_data)
    return TriggerPlan((watch,))


def plan_calendar_event_webhook(ctx: ActionContext, params: CalendarEventWebhookInput) -> TriggerPlan:
    watch = events_watch(ctx, params, _ordered(params.change_types), params.include_resource_data)
    return TriggerPlan((watch,))


def plan_new_attachment_webhook(ctx: ActionContext, params: NewAttachmentWebhookInput) -> TriggerPlan:
    watch = folder_watch(ctx, params, ("created",), False)
    return TriggerPlan((watch,), only_with_attachments=True, expand_attachments=True)


def plan_poll_changes(ctx: ActionContext, params: PollChangesInput) -> TriggerPlan:
    changes = _ordered(params.change_types)
    if params.resource == "events":
        return TriggerPlan((events_watch(ctx, params, changes, False),))
    return TriggerPlan((folder_watch(ctx, params, changes, False),))


# -- what the host receives ---------------------------------------------------------------------------
class TriggerEventModel(BaseModel):
    """One change of one item (``triggers.delivery.TriggerEvent.to_json()``)."""

    model_config = ConfigDict(extra="forbid", title="Trigger event")

    instance_id: str = Field(description="The trigger instance that saw the change.")
    trigger_key: str = Field(description="The manifest trigger key.")
    dedupe_key: str = Field(description="Stable key of this version of this item: the host may dedupe on it.")
    change_type: ChangeType = Field(description="created, updated or deleted.")
    resource_id: str = Field(description="Graph id of the item.")
    resource: dict[str, Any] | None = Field(
        description="The item (a message or an event as Graph returns it); null for a deletion."
    )
    source: Literal["webhook", "delta"] = Field(
        description="webhook: a change notification; delta: a delta read."
    )
    occurred_at: float = Field(description="When the connector handed the event on (epoch seconds).")
    received_at: float = Field(description="When the connector learned of the change (epoch seconds).")
    item_kind: str = Field(default="", description="message, event or contact.")
    subscription_id: str | None = Field(default=None, description="The Graph subscription (webhook source).")
