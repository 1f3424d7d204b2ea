"""Message attachments: list, get (content as base64; attached messages/events/contacts too), add (a
file inline or by upload session, or an existing item), delete."""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from actions._graph import odata_params
from actions._inputs import ActionInput, GraphId, MailboxInput
from actions._mail import UploadableAttachmentInput
from actions._upload import add_file_attachment
from actions.models import GraphObject
from connector.context import ActionContext, quote_segment
from connector.schemas import returns


class AttachmentMessageInput(MailboxInput):
    message_id: GraphId = Field(
        min_length=1,
        title="Message id",
        description="Graph id of the message (or draft) holding the attachments.",
    )


class AttachmentIdInput(AttachmentMessageInput):
    attachment_id: GraphId = Field(
        min_length=1, title="Attachment id", description="Graph id of the attachment."
    )


class Attachment(GraphObject):
    """An attachment's properties (microsoft.graph.attachment), without its content."""

    id: str | None = None
    name: str | None = None
    content_type: str | None = None
    size: int | None = None
    is_inline: bool | None = None
    last_modified_date_time: str | None = None


def _message_path(ctx: ActionContext, params: AttachmentMessageInput) -> str:
    return f"{ctx.mailbox(params.user_id)}/messages/{quote_segment(params.message_id)}"


def _attachment_path(ctx: ActionContext, params: AttachmentIdInput) -> str:
    return f"{_message_path(ctx, params)}/attachments/{quote_segment(params.attachment_id)}"


_LIST_PROPERTIES = ["id", "name", "contentType", "size", "isInline", "lastModifiedDateTime"]


class ListAttachmentsInput(AttachmentMessageInput):
    """Lists the attachments' properties; get one with Get Attachment for its content."""

    include_content: bool = Field(
        default=False,
        title="Include content",
        description="Also return every file's bytes (Graph's `contentBytes`, base64). Off: only the"
        " properties, which is much lighter for large files.",
    )


class AttachmentList(BaseModel):
    attachments: list[Attachment] = Field(
        description="The message's attachments (with `contentBytes` only when `include_content` is on)."
    )
    count: int


@returns(AttachmentList)
def list_attachments(ctx: ActionContext, params: ListAttachmentsInput) -> dict[str, Any]:
    select = None if params.include_content else _LIST_PROPERTIES
    pages = ctx.graph.iter_pages(
        f"{_message_path(ctx, params)}/attachments", params=odata_params(select=select) or None
    )
    items = [_without_annotations(a) for page in pages for a in page]
    return {"attachments": items, "count": len(items)}


class GetAttachmentInput(AttachmentIdInput):
    include_content: bool = Field(
        default=True,
        title="Include content",
        description="Return the content (base64): a file's bytes; an attached message as MIME, an event"
        " as iCalendar, a contact as vCard (one more request). Off: only the attachment's properties.",
    )
    include_item: bool = Field(
        default=True,
        title="Include attached item",
        description="For an attached message, event or contact: also return the item as Graph JSON (in"
        " the same request). Off: only the attachment's properties.",
    )


class AttachmentWithContent(Attachment):
    kind: Literal["file", "item", "reference"] = Field(
        description="file: a file; item: an attached message, event or contact; reference: a link."
    )
    content_base64: str | None = Field(
        default=None,
        description="The content, base64-encoded: the file, or the attached item as MIME (message) or"
        " iCalendar (event) / vCard (contact). Null for links or when `include_content` is off.",
    )
    item: dict[str, Any] | None = Field(
        default=None,
        description="For an item attachment (with `include_item`): the attached message/event/contact as"
        " Graph JSON, its `@odata.type` included.",
    )


_KINDS = {"#microsoft.graph.itemAttachment": "item", "#microsoft.graph.referenceAttachment": "reference"}
_EXPAND_ITEM = "microsoft.graph.itemattachment/item"


@returns(AttachmentWithContent)
def get_attachment(ctx: ActionContext, params: GetAttachmentInput) -> dict[str, Any]:
    path = _attachment_path(ctx, params)
    query = {"$expand": _EXPAND_ITEM} if params.include_item else None
    attachment = ctx.graph.get_json(path, params=query)
    out = _without_annotations(attachment)
    out["kind"] = kind = _KINDS.get(str(attachment.get("@odata.type")), "file")
    content = out.pop("contentBytes", None)
    item = out.pop("item", None)
    out["item"] = item if isinstance(item, dict) else None
    if kind == "item" and params.include_content:
        raw = ctx.graph.request("GET", path + "/$value").content
        content = base64.b64encode(raw).decode("ascii")
    out["content_base64"] = content if params.include_content and kind != "reference" else None
    return out


class ItemToAttach(ActionInput):
    """An existing message, event or contact of the same mailbox, attached as a copy (an item
    attachment). The copy carries the item's properties and body, not the item's own attachments."""

    kind: Literal["message", "event", "contact"] = Field(title="Item type")
    id: GraphId = Field(
        min_length=1, title="Item id", description="Graph id of the message, event or contact."
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        title="Attachment name",
        description="Empty: the item's subject (a contact's display name).",
    )


_MESSAGE_COPY = (
    "subject", "body", "from", "sender", "toRecipients", "ccRecipients", "bccRecipients", "replyTo",
    "importance", "categories", "internetMessageId",
)  # fmt: skip
_EVENT_COPY = (
    "subject", "body", "start", "end", "location", "attendees", "isAllDay", "showAs", "sensitivity",
    "importance", "categories",
)  # fmt: skip
_CONTACT_COPY = (
    "givenName", "middleName", "surname", "nickName", "title", "displayName", "jobTitle", "companyName",
    "department", "officeLocation", "emailAddresses", "businessPhones", "homePhones", "mobilePhone",
    "businessAddress", "homeAddress", "personalNotes", "birthday", "categories",
)  # fmt: skip
_ITEMS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "message": ("messages", "#microsoft.graph.message", _MESSAGE_COPY),
    "event": ("events", "#microsoft.graph.event", _EVENT_COPY),
    "contact": ("contacts", "#microsoft.graph.contact", _CONTACT_COPY),
}
"""Item kind -> (collection, @odata.type, the writable properties its copy takes)."""


class AddAttachmentInput(AttachmentMessageInput):
    """Attach a file to a draft (or a message): under 3 MB in one request, up to 150 MB uploaded in
    chunks. Or attach an existing message, event or contact of the mailbox (an item attachment)."""

    attachment: UploadableAttachmentInput | None = Field(default=None, title="File")
    item: ItemToAttach | None = Field(
        default=None,
        title="Item",
        description="Attach this message, event or contact instead of a file (needs Calendars.Read or"
        " Contacts.Read for events and contacts).",
    )

    @model_validator(mode="after")
    def _one_thing_to_attach(self) -> AddAttachmentInput:
        if (self.attachment is None) == (self.item is None):
            raise ValueError("attachment or item: give exactly one thing to attach")
        return self


@returns(Attachment)
def add_attachment(ctx: ActionContext, params: AddAttachmentInput) -> dict[str, Any]:
    if params.item is not None:
        return _without_annotations(_attach_item(ctx, params, params.item))
    assert params.attachment is not None
    created = add_file_attachment(ctx, _message_path(ctx, params), params.attachment)
    return _without_annotations(created)


def _attach_item(ctx: ActionContext, params: AddAttachmentInput, item: ItemToAttach) -> dict[str, Any]:
    """Read the item's writable properties, then post them as an itemAttachment (Graph takes an
    attached item's content, not a reference to it)."""
    collection, odata_type, properties = _ITEMS[item.kind]
    source = ctx.graph.get_json(
        f"{ctx.mailbox(params.user_id)}/{collection}/{quote_segment(item.id)}",
        params=odata_params(select=list(properties)),
    )
    copy = {"@odata.type": odata_type, **{k: v for k, v in source.items() if k in properties}}
    name = item.name or source.get("subject") or source.get("displayName") or item.kind
    body = {"@odata.type": "#microsoft.graph.itemAttachment", "name": name, "item": copy}
    created: dict[str, Any] = ctx.graph.post_json(f"{_message_path(ctx, params)}/attachments", json=body)
    return created


class DeleteAttachmentInput(AttachmentIdInput):
    """Removes the attachment from the message."""


class DeletedAttachment(BaseModel):
    deleted: bool
    id: str
    message_id: str


@returns(DeletedAttachment)
def delete_attachment(ctx: ActionContext, params: DeleteAttachmentInput) -> dict[str, Any]:
    ctx.graph.delete(_attachment_path(ctx, params))
    return {"deleted": True, "id": params.attachment_id, "message_id": params.message_id}


def _without_annotations(value: dict[str, Any]) -> dict[str, Any]:
    """Graph's JSON without OData annotations (``@odata.context``, ``item@odata.context``...) other than
    ``@odata.type``, at every level."""
    return {
        key: _without_annotations(item) if isinstance(item, dict) else _clean_list(item)
        for key, item in value.items()
        if "@" not in key or key == "@odata.type"
    }


def _clean_list(value: Any) -> Any:
    if isinstance(value, list):
        return [_without_annotations(v) if isinstance(v, dict) else v for v in value]
    return value
