"""Create Event Subscription and Create Mail Folder Subscription: renew an identical subscription
(same resource, change types and URL) when there is one, else create it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from actions import _subscriptions as subs
from actions._inputs import GraphId, MailboxInput
from actions.subscriptions import (
    ChangeType,
    NotificationFields,
    ReusableSubscriptionOutput,
    create_in,
    renew,
    target_of,
)
from connector.context import ActionContext
from connector.errors import GraphError
from connector.schemas import returns


class ReusableInput(MailboxInput, NotificationFields):
    change_types: list[ChangeType] = Field(
        default=["created", "updated", "deleted"],
        min_length=1,
        max_length=3,
        title="Change types",
        description="Which changes to be told about.",
        json_schema_extra={"uniqueItems": True},
    )
    expiration_date_time: str | None = Field(
        default=None,
        title="Expires at",
        description="An exact expiry (ISO 8601) instead of `expiration_minutes` (clamped to Graph's"
        " maximum).",
        examples=["2026-11-25T18:00:00Z"],
    )
    allow_duplicates: bool = Field(
        default=False,
        title="Allow duplicates",
        description="Always create a new subscription, even when an identical one (same resource,"
        " change types and URL) exists; off: that one is renewed instead.",
    )

    _types = field_validator("change_types")(subs.check_change_types)
    _expiry = field_validator("expiration_date_time")(subs.check_expiry_text)

    _one_expiry = model_validator(mode="after")(subs.check_one_expiry)


def _create_or_reuse(ctx: ActionContext, resource: str, params: ReusableInput) -> dict[str, Any]:
    """Renew the identical subscription if there is one (the seed connector compared only the URL,
    so a second folder or other change types silently reused the wrong one); else create it."""
    target = target_of(ctx, params)
    at = params.expiration_date_time
    existing = (
        None
        if params.allow_duplicates
        else subs.find_same(ctx, resource, params.change_types, target.notification_url)
    )
    if existing is not None:
        try:
            return renew(ctx, str(existing["id"]), existing, params.expiration_minutes, at, reused=True)
        except GraphError as exc:
            if exc.status != 404:  # expired between the list and the renewal: make a new one
                raise
    created = create_in(ctx, resource, list(params.change_types), params, at=at, target=target)
    return {**created, "reused": False}


class CreateEventSubscriptionInput(ReusableInput):
    calendar_id: GraphId | None = Field(
        default=None,
        min_length=1,
        title="Calendar",
        description="Graph id of the calendar to watch. Empty: the default calendar.",
    )


@returns(ReusableSubscriptionOutput)
def create_event_subscription(ctx: ActionContext, params: CreateEventSubscriptionInput) -> dict[str, Any]:
    mailbox = subs.mailbox_resource(ctx, "me", params.user_id)
    resource = (
        f"{mailbox}/calendars/{params.calendar_id}/events" if params.calendar_id else f"{mailbox}/events"
    )
    return _create_or_reuse(ctx, resource, params)


class CreateMailFolderSubscriptionInput(ReusableInput):
    folder_id: GraphId = Field(
        default="inbox",
        min_length=1,
        title="Folder",
        description="The folder to watch: a well-known name (inbox, sentitems, drafts, archive...)"
        " or a Graph id.",
    )


@returns(ReusableSubscriptionOutput)
def create_mail_folder_subscription(
    ctx: ActionContext, params: CreateMailFolderSubscriptionInput
) -> dict[str, Any]:
    mailbox = subs.mailbox_resource(ctx, "me", params.user_id)
    folder = params.folder_id.replace("'", "''")  # an OData string literal
    return _create_or_reuse(ctx, f"{mailbox}/mailFolders('{folder}')/messages", params)
