"""Message attachments: list, get (content as base64), add (inline or by upload session), delete."""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel, Field

from actions._graph import odata_params
from actions._inputs import MailboxInput
from actions._mail import UploadableAttachmentInput
from actions._upload import add_file_attachment
from actions.models import GraphObject
from connector.context import ActionContext, quote_segment
from connector.schemas import returns


class AttachmentMessageInput(MailboxInput):
    message_id: str = Field(
        min_length=1,
        title="Message id",
        description="Graph id of the message (or draft) holding the attachments.",
    )


class AttachmentIdInput(AttachmentMessageInput):
    attachment_id: str = Field(min_length=1, title="Attachment id", description="Graph id of the attachment.")


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
        description="Return the file's bytes (base64). Off: only the attachment's properties.",
    )


class AttachmentWithContent(Attachment):
    kind: Literal["file", "item", "reference"] = Field(
        description="file: a file; item: an attached message, event or contact; reference: a link."
    )
    content_base64: str | None = Field(
        default=None,
        description="The bytes, base64-encoded: the file, or the attached item as MIME (message) or"
        " iCalendar/vCard. Null for links or when `include_content` is off.",
    )
    item: dict[str, Any] | None = Field(
        default=None, description="For an item attachment: the attached message/event/contact as Graph JSON."
    )


@returns(AttachmentWithContent)
def get_attachment(ctx: ActionContext, params: GetAttachmentInput) -> dict[str, Any]:
    path = _attachment_path(ctx, params)
    attachment = ctx.graph.get_json(path)
    kind = str(attachment.get("@odata.type", "")).rsplit(".", 1)[-1]
    out = _without_annotations(attachment)
    content = out.pop("contentBytes", None)
    out["item"] = None
    if kind == "itemAttachment":
        out["kind"] = "item"
        expanded = ctx.graph.get_json(path, params={"$expand": "microsoft.graph.itemattachment/item"})
        item = expanded.get("item")
        out["item"] = item if isinstance(item, dict) else None
        if params.include_content:
            raw = ctx.graph.request("GET", path + "/$value").content
            content = base64.b64encode(raw).decode("ascii")
    elif kind == "referenceAttachment":
        out["kind"] = "reference"
        content = None
    else:
        out["kind"] = "file"
    out["content_base64"] = content if params.include_content else None
    return out


class AddAttachmentInput(AttachmentMessageInput):
    """Attach a file to a draft (or a message): under 3 MB in one request, up to 150 MB uploaded in chunks."""

    attachment: UploadableAttachmentInput = Field(title="File")


@returns(Attachment)
def add_attachment(ctx: ActionContext, params: AddAttachmentInput) -> dict[str, Any]:
    created = add_file_attachment(ctx, _message_path(ctx, params), params.attachment)
    return _without_annotations(created)


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
    """Graph's JSON without OData annotations other than ``@odata.type``."""
    return {k: v for k, v in value.items() if not k.startswith("@") or k == "@odata.type"}
