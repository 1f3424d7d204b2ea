"""Scheduled messages: the ones waiting in the Outbox for their deferred-send time; list and cancel."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from actions._deferred import deferred_time, expand_param
from actions._inputs import MailboxInput
from actions.messages import MessageIdInput
from connector.context import ActionContext, quote_segment
from connector.errors import FieldError, GraphError, InputValidationError
from connector.schemas import returns

_FIELDS = "id,subject,toRecipients,ccRecipients,bccRecipients,createdDateTime,parentFolderId"


class ListScheduledMessagesInput(MailboxInput):
    """Every message of the mailbox's Outbox that waits for its send time."""


class ScheduledMessage(BaseModel):
    id: str = Field(description="Graph id of the message (in the Outbox).")
    subject: str | None
    to: list[str]
    cc: list[str]
    bcc: list[str]
    scheduled_for: str = Field(description="When Exchange sends it (UTC).")
    created_at: str | None = Field(description="When it was scheduled.")


class ListScheduledMessagesOutput(BaseModel):
    messages: list[ScheduledMessage] = Field(description="Soonest first.")
    count: int


def _addresses(message: dict[str, Any], name: str) -> list[str]:
    found = message.get(name) or []
    return [str((r.get("emailAddress") or {}).get("address") or "") for r in found if isinstance(r, dict)]


def _scheduled(message: dict[str, Any], when: str) -> dict[str, Any]:
    return {
        "id": str(message["id"]),
        "subject": message.get("subject"),
        "to": _addresses(message, "toRecipients"),
        "cc": _addresses(message, "ccRecipients"),
        "bcc": _addresses(message, "bccRecipients"),
        "scheduled_for": when,
        "created_at": message.get("createdDateTime"),
    }


@returns(ListScheduledMessagesOutput)
def list_scheduled_messages(ctx: ActionContext, params: ListScheduledMessagesInput) -> dict[str, Any]:
    path = f"{ctx.mailbox(params.user_id)}/mailFolders/outbox/messages"
    query = {"$select": _FIELDS, "$top": "100", **expand_param()}
    found: list[dict[str, Any]] = []
    for message in ctx.graph.iter_items(path, params=query):
        when = deferred_time(message)
        if when is not None and message.get("id"):
            found.append(_scheduled(message, when))
    found.sort(key=lambda m: (m["scheduled_for"], m["id"]))
    return {"messages": found, "count": len(found)}


class CancelScheduledMessageInput(MessageIdInput):
    """Cancels a scheduled message: it leaves the Outbox for Deleted Items and is never sent. Only a
    message waiting in the Outbox with a send time is touched."""


class CancelledOutput(BaseModel):
    cancelled: bool
    id: str
    subject: str | None
    scheduled_for: str = Field(description="When it would have been sent (UTC).")


@returns(CancelledOutput)
def cancel_scheduled_message(ctx: ActionContext, params: CancelScheduledMessageInput) -> dict[str, Any]:
    base = ctx.mailbox(params.user_id)
    path = f"{base}/messages/{quote_segment(params.message_id)}"
    not_scheduled = "is not a scheduled message (none waits in the Outbox with a send time under this id)"
    try:
        message = ctx.graph.get_json(path, params={"$select": _FIELDS, **expand_param()})
    except GraphError as exc:
        if exc.status == 404:
            raise InputValidationError([FieldError("message_id", not_scheduled)]) from None
        raise
    outbox = ctx.graph.get_json(f"{base}/mailFolders/outbox", params={"$select": "id"})
    when = deferred_time(message)
    if when is None or message.get("parentFolderId") != outbox.get("id"):
        raise InputValidationError([FieldError("message_id", not_scheduled)])
    try:
        ctx.graph.delete(path)
    except GraphError as exc:
        if exc.status == 404:
            raise GraphError(
                "the scheduled message left the Outbox before it could be cancelled (it was sent or"
                " deleted meanwhile)",
                status=404,
                code=exc.code,
                request_id=exc.request_id,
            ) from None
        raise
    return {
        "cancelled": True,
        "id": params.message_id,
        "subject": message.get("subject"),
        "scheduled_for": when,
    }
