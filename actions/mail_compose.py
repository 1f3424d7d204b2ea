"""Composing and filing mail: reply, reply all, forward, drafts, update, move/copy, permanent delete,
MIME download and the delta of a folder."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import datetime
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from actions._deferred import SendAtInput, deferred_properties, deferred_until
from actions._graph import delta_output, odata_params
from actions._inputs import GraphId, Link, MailboxInput
from actions._mail import (
    ATTACHMENT_FORMS,
    REQUEST_LIMIT,
    MessageContentInput,
    Recipients,
    UploadableAttachmentInput,
    UploadableAttachments,
    addresses,
    recipients_json,
)
from actions._upload import fill_draft, send_draft_with_uploads
from actions.messages import MessageIdInput
from actions.models import DeletedOutput, FlagStatus, Message
from connector.context import ActionContext, quote_segment
from connector.errors import FieldError, InputValidationError
from connector.http import prefer_header
from connector.schemas import returns

Respond = Literal["reply", "replyAll", "forward"]


def _message_path(ctx: ActionContext, params: MessageIdInput) -> str:
    return f"{ctx.mailbox(params.user_id)}/messages/{quote_segment(params.message_id)}"


# -- reply, reply all, forward (sent at once, or as drafts) --------------------------------------------
class RespondInput(MessageIdInput):
    comment: str = Field(
        default="",
        title="Comment",
        description="Your text, placed above the quoted original message (HTML or plain text).",
        examples=["Thanks, I'll look at it today."],
    )
    cc: Recipients = Field(
        default_factory=list, title="Cc", description="Replace the Cc line (empty: Outlook's default)."
    )
    attachments: UploadableAttachments = Field(
        default_factory=list,
        title="Attachments",
        description="Files up to 150 MB each. Under 3 MB they go with the request; a larger one makes the"
        " action create the response as a draft, upload the file in chunks and then send the draft."
        + ATTACHMENT_FORMS,
    )

    @field_validator("attachments")
    @classmethod
    def _request_under_limit(cls, value: list[UploadableAttachmentInput]) -> list[UploadableAttachmentInput]:
        total = sum(len(a.content_base64) for a in value if a.fits_inline)
        if total >= REQUEST_LIMIT:
            raise ValueError(
                f"the files under 3 MB add up to {total:,} base64 bytes; Graph refuses a request over 4 MB"
            )
        return value

    def large_attachments(self) -> list[UploadableAttachmentInput]:
        """The files of 3 MB or more, which go through upload sessions."""
        return [a for a in self.attachments if not a.fits_inline]


class ReplyInput(RespondInput):
    to: Recipients = Field(
        default_factory=list,
        title="To",
        description="Reply to these recipients instead of the sender (empty: the sender, or the original"
        " message's reply-to addresses).",
    )


class ReplyAllInput(RespondInput):
    """Replies to the sender and every To and Cc recipient of the original message."""


class ForwardInput(RespondInput):
    to: Recipients = Field(
        title="To", description="Who to forward the message to.", examples=[["alex@contoso.com"]]
    )

    @model_validator(mode="after")
    def _has_recipient(self) -> ForwardInput:
        if not (self.to or self.cc):
            raise ValueError("to: at least one recipient is required to forward a message")
        return self


class ForwardDraftInput(RespondInput):
    to: Recipients = Field(
        default_factory=list,
        title="To",
        description="Who to forward the message to (may be left empty and set on the draft later).",
    )


class SendReplyInput(ReplyInput, SendAtInput):
    """Reply, now or at `send_at`."""


class SendReplyAllInput(ReplyAllInput, SendAtInput):
    """Reply to all, now or at `send_at`."""


class SendForwardInput(ForwardInput, SendAtInput):
    """Forward, now or at `send_at`."""


def respond_body(params: RespondInput, kind: Respond, until: str | None = None) -> dict[str, Any] | None:
    """The body of reply/replyAll/forward (and their create* drafts); None when there is nothing to say.

    Forward takes its recipients as ``toRecipients`` beside the comment; reply takes them in ``message``.
    Files of 3 MB or more are not in it: they are uploaded into the draft afterwards. ``until``: the
    deferred-send time, set on the response's ``message``.
    """
    body: dict[str, Any] = {}
    message: dict[str, Any] = deferred_properties(until)
    if params.comment:
        body["comment"] = params.comment
    to = getattr(params, "to", None) or []
    if to:
        if kind == "forward":
            body["toRecipients"] = recipients_json(to)
        else:
            message["toRecipients"] = recipients_json(to)
    if params.cc:
        message["ccRecipients"] = recipients_json(params.cc)
    inline = [a.to_graph() for a in params.attachments if a.fits_inline]
    if inline:
        message["attachments"] = inline
    if message:
        body["message"] = message
    return body or None


class RespondedOutput(BaseModel):
    sent: bool = Field(description="True once Graph accepted the message for delivery.")
    message_id: str = Field(description="The message replied to or forwarded.")
    to: list[str] = Field(description="Recipients named in the input (Outlook adds its defaults).")
    scheduled_for: str | None = Field(
        default=None, description="With `send_at` in the future: when Exchange sends it (UTC); else null."
    )


_CREATE = {"reply": "createReply", "replyAll": "createReplyAll", "forward": "createForward"}


def _respond(
    ctx: ActionContext, params: RespondInput, kind: Respond, send_at: datetime | None
) -> dict[str, Any]:
    """reply/replyAll/forward in one request; with a file of 3 MB or more: createReply (...) with the
    comment, recipients and small files -> upload the large files into that draft -> send it."""
    until = deferred_until(send_at)
    body = respond_body(params, kind, until)
    large = params.large_attachments()
    if large:
        draft = ctx.graph.post_json(f"{_message_path(ctx, params)}/{_CREATE[kind]}", json=body)
        send_draft_with_uploads(ctx, ctx.mailbox(params.user_id), draft, large)
    else:
        ctx.graph.request("POST", f"{_message_path(ctx, params)}/{kind}", json=body)
    return {
        "sent": True,
        "message_id": params.message_id,
        "to": addresses(getattr(params, "to", [])),
        "scheduled_for": until,
    }


@returns(RespondedOutput)
def reply_to_message(ctx: ActionContext, params: SendReplyInput) -> dict[str, Any]:
    return _respond(ctx, params, "reply", params.send_at)


@returns(RespondedOutput)
def reply_all_to_message(ctx: ActionContext, params: SendReplyAllInput) -> dict[str, Any]:
    return _respond(ctx, params, "replyAll", params.send_at)


@returns(RespondedOutput)
def forward_message(ctx: ActionContext, params: SendForwardInput) -> dict[str, Any]:
    return _respond(ctx, params, "forward", params.send_at)


def _create_response_draft(
    ctx: ActionContext, params: RespondInput, action: str, kind: Respond
) -> dict[str, Any]:
    draft: dict[str, Any] = ctx.graph.post_json(
        f"{_message_path(ctx, params)}/{action}", json=respond_body(params, kind)
    )
    large = params.large_attachments()
    if large:  # uploaded into the draft, which is then read again to show them
        draft_path = fill_draft(ctx, ctx.mailbox(params.user_id), draft, large)
        draft = ctx.graph.get_json(draft_path)
    return draft


@returns(Message)
def create_reply_draft(ctx: ActionContext, params: ReplyInput) -> dict[str, Any]:
    return _create_response_draft(ctx, params, "createReply", "reply")


@returns(Message)
def create_reply_all_draft(ctx: ActionContext, params: ReplyAllInput) -> dict[str, Any]:
    return _create_response_draft(ctx, params, "createReplyAll", "replyAll")


@returns(Message)
def create_forward_draft(ctx: ActionContext, params: ForwardDraftInput) -> dict[str, Any]:
    return _create_response_draft(ctx, params, "createForward", "forward")


# -- drafts ------------------------------------------------------------------------------------------
class CreateDraftInput(MessageContentInput, MailboxInput):
    folder_id: GraphId | None = Field(
        default=None,
        title="Folder",
        description="Folder id or well-known name to save the draft in. Empty: Drafts.",
        examples=["drafts"],
    )


@returns(Message)
def create_draft(ctx: ActionContext, params: CreateDraftInput) -> dict[str, Any]:
    base = ctx.mailbox(params.user_id)
    path = (
        f"{base}/mailFolders/{quote_segment(params.folder_id)}/messages"
        if params.folder_id
        else f"{base}/messages"
    )
    draft: dict[str, Any] = ctx.graph.post_json(path, json=params.message_json())
    return draft


class SendDraftInput(MessageIdInput, SendAtInput):
    """Sends a draft (it then moves to Sent Items), now or at `send_at`."""


class SentDraftOutput(BaseModel):
    sent: bool = Field(description="True once Graph accepted the draft for delivery.")
    id: str = Field(description="The draft's id (the sent copy in Sent Items gets a new one).")
    scheduled_for: str | None = Field(
        default=None, description="With `send_at` in the future: when Exchange sends it (UTC); else null."
    )


@returns(SentDraftOutput)
def send_draft(ctx: ActionContext, params: SendDraftInput) -> dict[str, Any]:
    """With a future ``send_at`` the draft first gets the deferred-send time (a PATCH), then is sent."""
    path = _message_path(ctx, params)
    until = deferred_until(params.send_at)
    if until is not None:
        ctx.graph.patch_json(path, json=deferred_properties(until))
    ctx.graph.request("POST", f"{path}/send")
    return {"sent": True, "id": params.message_id, "scheduled_for": until}


# -- update ------------------------------------------------------------------------------------------
_DRAFT_ONLY = ("subject", "body", "to", "cc", "bcc", "reply_to")


class UpdateMessageInput(MessageIdInput):
    is_read: bool | None = Field(
        default=None, title="Read", description="Mark read (true) or unread (false)."
    )
    categories: list[str] | None = Field(
        default=None,
        title="Categories",
        description="The message's categories (replaces them; [] clears them).",
        examples=[["Red category"]],
    )
    flag: FlagStatus | None = Field(default=None, title="Follow-up flag")
    importance: Literal["low", "normal", "high"] | None = Field(default=None, title="Importance")
    subject: str | None = Field(default=None, title="Subject (drafts only)", max_length=255)
    body: str | None = Field(default=None, title="Body (drafts only)")
    body_type: Literal["html", "text"] = Field(default="html", title="Body type")
    to: Recipients | None = Field(default=None, title="To (drafts only)")
    cc: Recipients | None = Field(default=None, title="Cc (drafts only)")
    bcc: Recipients | None = Field(default=None, title="Bcc (drafts only)")
    reply_to: Recipients | None = Field(default=None, title="Reply to (drafts only)")

    @model_validator(mode="after")
    def _changes_something(self) -> UpdateMessageInput:
        if not self.patch_json():
            raise ValueError("name at least one property to change")
        return self

    def draft_only_fields(self) -> list[str]:
        return [name for name in _DRAFT_ONLY if getattr(self, name) is not None]

    def patch_json(self) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        if self.is_read is not None:
            patch["isRead"] = self.is_read
        if self.categories is not None:
            patch["categories"] = self.categories
        if self.flag is not None:
            patch["flag"] = {"flagStatus": self.flag}
        if self.importance is not None:
            patch["importance"] = self.importance
        if self.subject is not None:
            patch["subject"] = self.subject
        if self.body is not None:
            patch["body"] = {
                "contentType": "HTML" if self.body_type == "html" else "Text",
                "content": self.body,
            }
        for name, graph_name in (
            ("to", "toRecipients"),
            ("cc", "ccRecipients"),
            ("bcc", "bccRecipients"),
            ("reply_to", "replyTo"),
        ):
            value = getattr(self, name)
            if value is not None:
                patch[graph_name] = recipients_json(value)
        return patch


@returns(Message)
def update_message(ctx: ActionContext, params: UpdateMessageInput) -> dict[str, Any]:
    """Subject, body and recipients change only on drafts: for them the message is read first, and a
    sent message is refused before anything is changed (Graph would refuse the whole update)."""
    path = _message_path(ctx, params)
    draft_only = params.draft_only_fields()
    if draft_only:
        current = ctx.graph.get_json(path, params={"$select": "isDraft"})
        if current.get("isDraft") is False:
            raise InputValidationError(
                [
                    FieldError(name, "can only be changed on a draft; this message has been sent or received")
                    for name in draft_only
                ]
            )
    updated: dict[str, Any] = ctx.graph.patch_json(path, json=params.patch_json())
    return updated


# -- move, copy, permanent delete ------------------------------------------------------------------------
class DestinationInput(MessageIdInput):
    destination_id: GraphId = Field(
        min_length=1,
        title="Destination folder",
        description="Folder id or well-known name (inbox, archive, deleteditems, junkemail...).",
        examples=["archive"],
        json_schema_extra={"data_source": "select_mail_folder"},
    )


@returns(Message)
def move_message(ctx: ActionContext, params: DestinationInput) -> dict[str, Any]:
    """The moved message comes back with its new id (Outlook ids change when a message moves)."""
    moved: dict[str, Any] = ctx.graph.post_json(
        f"{_message_path(ctx, params)}/move", json={"destinationId": params.destination_id}
    )
    return moved


@returns(Message)
def copy_message(ctx: ActionContext, params: DestinationInput) -> dict[str, Any]:
    copy: dict[str, Any] = ctx.graph.post_json(
        f"{_message_path(ctx, params)}/copy", json={"destinationId": params.destination_id}
    )
    return copy


class PermanentDeleteInput(MessageIdInput):
    """Deletes the message for good: it does not go to Deleted Items and cannot be recovered there."""


@returns(DeletedOutput)
def permanent_delete_message(ctx: ActionContext, params: PermanentDeleteInput) -> dict[str, Any]:
    ctx.graph.request("POST", f"{_message_path(ctx, params)}/permanentDelete")
    return {"deleted": True, "id": params.message_id}


# -- MIME ------------------------------------------------------------------------------------------------
class GetMessageMimeInput(MessageIdInput):
    include_attachment_content: bool = Field(
        default=False,
        title="Include attachment content",
        description="Return each attachment's bytes (base64) besides its name, type and size.",
    )


class MimeHeader(BaseModel):
    name: str
    value: str


class MimeAttachment(BaseModel):
    name: str | None = Field(description="The file name, if the part has one.")
    content_type: str
    size: int = Field(description="Decoded size in bytes.")
    content_id: str | None = None
    content_base64: str | None = Field(default=None, description="With `include_attachment_content`.")


class MessageMimeOutput(BaseModel):
    mime: str = Field(description="The message as RFC 822 text (Graph's /$value).")
    headers: list[MimeHeader]
    subject: str | None
    from_: str | None = Field(alias="from")
    to: list[str]
    cc: list[str]
    date: str | None
    message_id: str | None
    text: str | None = Field(description="The text/plain body, if there is one.")
    html: str | None = Field(description="The text/html body, if there is one.")
    attachments: list[MimeAttachment]


def parse_mime(raw: bytes, include_content: bool = False) -> dict[str, Any]:
    """RFC 822 bytes -> headers, addresses, text and HTML bodies and attachments (standard library)."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)

    def header(name: str) -> str | None:
        value = parsed.get(name)
        return None if value is None else str(value).strip()

    def address_list(name: str) -> list[str]:
        value = parsed.get(name)
        found = getattr(value, "addresses", ()) if value is not None else ()
        return [a.addr_spec for a in found]

    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    attachments: list[dict[str, Any]] = []
    for part in parsed.iter_attachments():
        data = part.get_payload(decode=True) or b""
        assert isinstance(data, bytes)
        item: dict[str, Any] = {
            "name": part.get_filename(),
            "content_type": part.get_content_type(),
            "size": len(data),
            "content_id": str(part["Content-ID"]).strip("<>") if part["Content-ID"] else None,
        }
        if include_content:
            item["content_base64"] = base64.b64encode(data).decode("ascii")
        attachments.append(item)
    return {
        "mime": raw.decode("utf-8", errors="replace"),
        "headers": [{"name": k, "value": str(v).strip()} for k, v in parsed.items()],
        "subject": header("Subject"),
        "from": next(iter(address_list("From")), None),
        "to": address_list("To"),
        "cc": address_list("Cc"),
        "date": header("Date"),
        "message_id": header("Message-ID"),
        "text": text_part.get_content() if isinstance(text_part, EmailMessage) else None,
        "html": html_part.get_content() if isinstance(html_part, EmailMessage) else None,
        "attachments": attachments,
    }


@returns(MessageMimeOutput)
def get_message_mime(ctx: ActionContext, params: GetMessageMimeInput) -> dict[str, Any]:
    response = ctx.graph.request("GET", f"{_message_path(ctx, params)}/$value")
    return parse_mime(response.content, params.include_attachment_content)


# -- delta -------------------------------------------------------------------------------------------
class ListMessageDeltaInput(MailboxInput):
    folder_id: GraphId = Field(
        default="inbox",
        min_length=1,
        title="Folder",
        description="Folder id or well-known name whose changes to track.",
        examples=["inbox"],
        json_schema_extra={"data_source": "select_mail_folder"},
    )
    select: list[str] | None = Field(
        default=None,
        title="Properties",
        description="Only these message properties (first call only: the cursor keeps them).",
        examples=[["subject", "isRead", "receivedDateTime"]],
    )
    cursor: Link | None = Field(
        default=None,
        title="Cursor",
        description="The `delta_link` (or `next_link`) of an earlier output: only changes since then."
        " Empty: every message in the folder now, and a first cursor.",
    )
    page_size: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        title="Page size",
        description="Messages per page (Prefer odata.maxpagesize).",
    )
    fetch_all: bool = Field(
        default=True,
        title="Fetch all pages",
        description="Follow every page up to the delta link (else one page and its `next_link`).",
    )


class MessageDeltaOutput(BaseModel):
    changes: list[Message] = Field(
        description="New or changed messages, and removed ones as {id, @removed: {reason}}."
    )
    count: int
    removed_ids: list[str] = Field(description="Ids of the messages deleted or moved out of the folder.")
    next_link: str | None = Field(description="More changes remain: pass this as `cursor`.")
    delta_link: str | None = Field(
        description="Caught up: store this and pass it as `cursor` next time to get only newer changes."
    )


@returns(MessageDeltaOutput)
def list_message_delta(ctx: ActionContext, params: ListMessageDeltaInput) -> dict[str, Any]:
    headers = prefer_header(max_page_size=params.page_size) or None
    if params.cursor:
        target, query = params.cursor, None
    else:
        target = f"{ctx.mailbox(params.user_id)}/mailFolders/{quote_segment(params.folder_id)}/messages/delta"
        query = odata_params(select=params.select) or None
    return delta_output(ctx, target, query, headers, fetch_all=params.fetch_all)
