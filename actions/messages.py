"""Mail messages: list, get, send, delete."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from actions._deferred import SendAtInput, deferred_properties, deferred_until
from actions._graph import list_output, odata_params
from actions._inputs import GraphId, MailboxInput, PagingInput
from actions._mail import (
    ATTACHMENT_FORMS,
    MessageContentInput,
    UploadableAttachmentInput,
    UploadableAttachments,
    addresses,
)
from actions._upload import send_draft_with_uploads
from actions.models import DeletedOutput, Message, page_output
from connector.context import ActionContext, quote_segment
from connector.http import prefer_header
from connector.schemas import returns

BodyContentType = Literal["html", "text"]


class MessageIdInput(MailboxInput):
    message_id: GraphId = Field(min_length=1, title="Message id", description="Graph id of the message.")


def _body_prefer(body_content_type: BodyContentType | None) -> dict[str, str] | None:
    return prefer_header(body_content_type=body_content_type) if body_content_type else None


def _search_term(text: str) -> str:
    """Graph wants the $search value in double quotes; inner quotes are escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ListMessagesInput(MailboxInput, PagingInput):
    folder_id: GraphId | None = Field(
        default=None,
        title="Folder",
        description="Folder id or well-known name (inbox, sentitems, drafts, deleteditems, archive,"
        " junkemail). Empty: every folder.",
        examples=["inbox"],
    )
    search: str | None = Field(
        default=None,
        title="Search",
        description="Words to look for in subject, body and sender (Outlook search). Cannot be combined with"
        " `filter` or `order_by`: results come newest first.",
        examples=["invoice"],
    )
    filter: str | None = Field(
        default=None,
        title="Filter",
        description="An OData $filter, e.g. `isRead eq false` or `receivedDateTime ge 2026-01-01T00:00:00Z`.",
        examples=["isRead eq false"],
    )
    select: list[str] | None = Field(
        default=None,
        title="Properties",
        description="Only these message properties (id is always included).",
        examples=[["subject", "from", "receivedDateTime"]],
    )
    order_by: str | None = Field(
        default=None, title="Order by", description="An OData $orderby.", examples=["receivedDateTime desc"]
    )
    body_content_type: BodyContentType | None = Field(
        default=None, title="Body format", description="Return bodies as html or text. Empty: as stored."
    )

    @field_validator("filter", "order_by")
    @classmethod
    def _not_with_search(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("search"):
            raise ValueError(
                "cannot be combined with `search` (Graph refuses $search with $filter or $orderby)"
            )
        return value


MessagePage = page_output("messages", Message, "The messages, newest first unless `order_by` says otherwise.")


@returns(MessagePage)
def list_messages(ctx: ActionContext, params: ListMessagesInput) -> dict[str, Any]:
    base = ctx.mailbox(params.user_id)
    path = (
        f"{base}/mailFolders/{quote_segment(params.folder_id)}/messages"
        if params.folder_id
        else f"{base}/messages"
    )
    query = odata_params(
        search=_search_term(params.search) if params.search else None,
        filter=params.filter,
        select=params.select,
        orderby=params.order_by,
    )
    return list_output(
        ctx, path, params, "messages", params=query, headers=_body_prefer(params.body_content_type)
    )


class GetMessageInput(MessageIdInput):
    select: list[str] | None = Field(default=None, title="Properties", description="Only these properties.")
    body_content_type: BodyContentType | None = Field(default=None, title="Body format")


@returns(Message)
def get_message(ctx: ActionContext, params: GetMessageInput) -> dict[str, Any]:
    path = f"{ctx.mailbox(params.user_id)}/messages/{quote_segment(params.message_id)}"
    message: dict[str, Any] = ctx.graph.get_json(
        path,
        params=odata_params(select=params.select) or None,
        headers=_body_prefer(params.body_content_type),
    )
    return message


class SendMessageInput(MessageContentInput, SendAtInput, MailboxInput):
    attachments: UploadableAttachments = Field(  # type: ignore[assignment]
        default_factory=list,
        title="Attachments",
        description="Files up to 150 MB each. Under 3 MB they go with the message; a larger one makes the"
        " action create a draft, upload the file in chunks and send the draft (which Graph always keeps"
        " in Sent Items)." + ATTACHMENT_FORMS,
    )
    save_to_sent_items: bool = Field(
        default=True, title="Save to Sent Items", description="Keep a copy in the sender's Sent Items."
    )

    @model_validator(mode="after")
    def _has_recipient(self) -> SendMessageInput:
        if not (self.to or self.cc or self.bcc):
            raise ValueError("to: at least one recipient is required (in to, cc or bcc)")
        if not self.save_to_sent_items and any(not a.fits_inline for a in self.attachments):
            raise ValueError(
                "save_to_sent_items: must stay true with an attachment of 3 MB or more: such a message is"
                " sent as a draft, and Graph always keeps a sent draft in Sent Items"
            )
        return self


class SendMessageOutput(BaseModel):
    sent: bool = Field(description="True once Graph accepted the message for delivery.")
    subject: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    attachments: int = Field(description="How many files were attached.")
    saved_to_sent_items: bool
    scheduled_for: str | None = Field(
        default=None, description="With `send_at` in the future: when Exchange sends it (UTC); else null."
    )


@returns(SendMessageOutput)
def send_message(ctx: ActionContext, params: SendMessageInput) -> dict[str, Any]:
    mailbox = ctx.mailbox(params.user_id)
    until = deferred_until(params.send_at)
    message = {**params.message_json(), **deferred_properties(until)}
    large = [a for a in params.attachments if not a.fits_inline]
    if large:
        _send_with_uploads(ctx, mailbox, message, large)
    else:
        body = {"message": message, "saveToSentItems": params.save_to_sent_items}
        ctx.graph.request("POST", f"{mailbox}/sendMail", json=body)
    return {
        "sent": True,
        "subject": params.subject,
        "to": addresses(params.to),
        "cc": addresses(params.cc),
        "bcc": addresses(params.bcc),
        "attachments": len(params.attachments),
        "saved_to_sent_items": params.save_to_sent_items,
        "scheduled_for": until,
    }


def _send_with_uploads(
    ctx: ActionContext, mailbox: str, message: dict[str, Any], large: list[UploadableAttachmentInput]
) -> None:
    """Attachments of 3 MB or more: create a draft, upload them into it, send the draft (once).

    If creating or uploading fails, the draft is deleted (best effort) and nothing is sent. The send
    itself is a POST that is never repeated when Graph may have applied it.
    """
    draft = ctx.graph.post_json(f"{mailbox}/messages", json=message)
    send_draft_with_uploads(ctx, mailbox, draft, large)


class DeleteMessageInput(MessageIdInput):
    """Moves the message to Deleted Items, as Outlook does."""


@returns(DeletedOutput)
def delete_message(ctx: ActionContext, params: DeleteMessageInput) -> dict[str, Any]:
    ctx.graph.request("DELETE", f"{ctx.mailbox(params.user_id)}/messages/{quote_segment(params.message_id)}")
    return {"deleted": True, "id": params.message_id}
