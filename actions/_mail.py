"""Message-building inputs shared by send, reply, forward and draft actions."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from actions._files import FileData, KeyValueAttachment, attachment_dicts
from actions._inputs import ActionInput
from connector.validation import check_address, split_addresses

INLINE_ATTACHMENT_LIMIT = 3 * 1024 * 1024
"""Graph takes attachments under 3 MB inline; larger ones need an upload session."""
REQUEST_LIMIT = 4 * 1024 * 1024
"""Graph refuses a sendMail/create request body over 4 MB."""
UPLOAD_ATTACHMENT_LIMIT = 150 * 1024 * 1024
"""The largest file attachment an upload session takes (150 MB)."""


_looks_like_address = check_address


Address = Annotated[
    str,
    AfterValidator(_looks_like_address),
    Field(json_schema_extra={"format": "email"}, examples=["alex@contoso.com"]),
]


class RecipientInput(ActionInput):
    address: Address = Field(title="Email address")
    name: str | None = Field(default=None, title="Display name")


def _recipient_list(value: Any) -> Any:
    """A pydantic before-validator: recipients given as one string (addresses separated by ``,`` or
    ``;``, ``Name <address>`` allowed), or a list whose strings may each hold several, become a list
    of addresses and ``{address, name}`` objects."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if isinstance(item, str):
            for name, address in split_addresses(item):
                out.append({"address": address, "name": name} if name else address)
        else:
            out.append(item)
    return out


RecipientText = Annotated[
    str,
    Field(
        title="Addresses",
        description="An email address, `Name <address>`, or several separated by commas or semicolons.",
        json_schema_extra={"format": "email-list"},
        examples=["alex@contoso.com, Megan Bowen <megan@contoso.com>"],
    ),
]
Recipients = Annotated[
    list[Address | RecipientInput],
    BeforeValidator(
        _recipient_list, json_schema_input_type=RecipientText | list[RecipientText | RecipientInput]
    ),
]
"""A list of addresses and ``{address, name}`` objects, or one comma/semicolon-separated string."""


def recipients_json(recipients: Recipients) -> list[dict[str, Any]]:
    """Input recipients -> Graph's ``[{"emailAddress": {"address", "name"}}]``."""
    out: list[dict[str, Any]] = []
    for recipient in recipients:
        if isinstance(recipient, str):
            out.append({"emailAddress": {"address": recipient}})
        else:
            email: dict[str, str] = {"address": recipient.address}
            if recipient.name:
                email["name"] = recipient.name
            out.append({"emailAddress": email})
    return out


def addresses(recipients: Recipients) -> list[str]:
    return [r if isinstance(r, str) else r.address for r in recipients]


class AttachmentInput(ActionInput):
    MAX_BYTES: ClassVar[int] = INLINE_ATTACHMENT_LIMIT - 1
    """The largest decoded size this input takes (subclasses that upload take more)."""

    name: str = Field(min_length=1, title="File name", examples=["report.pdf"])
    content_base64: str = Field(
        title="Content (base64)",
        description="The file's bytes, base64-encoded. Under 3 MB once decoded.",
        json_schema_extra={"contentEncoding": "base64"},
    )
    content_type: str = Field(
        default="application/octet-stream", title="MIME type", examples=["application/pdf"]
    )
    is_inline: bool = Field(
        default=False, title="Inline", description="Shown in the body (cid: image) rather than attached."
    )
    content_id: str | None = Field(
        default=None, title="Content id", description="For inline images: the cid the HTML body refers to."
    )

    @field_validator("content_base64")
    @classmethod
    def _decodes_under_limit(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("is not valid base64") from None
        if len(raw) > cls.MAX_BYTES:
            if cls.MAX_BYTES < INLINE_ATTACHMENT_LIMIT:
                raise ValueError(
                    f"decodes to {len(raw):,} bytes; attachments sent inline must be under 3 MB"
                    " (3,145,728 bytes)"
                )
            raise ValueError(
                f"decodes to {len(raw):,} bytes; Graph takes file attachments up to 150 MB"
                f" ({UPLOAD_ATTACHMENT_LIMIT:,} bytes)"
            )
        return value

    def decoded(self) -> bytes:
        return base64.b64decode(self.content_base64, validate=True)

    @property
    def size(self) -> int:
        """The decoded size in bytes (from the base64 length, without decoding)."""
        text = self.content_base64.rstrip()
        return len(text) * 3 // 4 - text[-2:].count("=")

    @property
    def fits_inline(self) -> bool:
        """Small enough to go in the request body (else it needs an upload session)."""
        return self.size < INLINE_ATTACHMENT_LIMIT

    def to_graph(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": self.name,
            "contentType": self.content_type,
            "contentBytes": self.content_base64,
            "isInline": self.is_inline,
        }
        if self.content_id:
            body["contentId"] = self.content_id
        return body


ATTACHMENT_FORMS = (
    " Also as a file name -> file data map, or as `{key, value}` pairs (key: the file name); file data"
    " is text (sent as UTF-8), `{data: base64, contentType}` or a Buffer as JSON."
)

Attachments = Annotated[
    list[AttachmentInput],
    BeforeValidator(
        attachment_dicts,
        json_schema_input_type=list[AttachmentInput | KeyValueAttachment] | dict[str, FileData],
    ),
]
"""Files under 3 MB: a list of attachment objects and/or ``{key, value}`` pairs, or a name -> data map."""


class MessageContentInput(ActionInput):
    """Recipients, subject, body, importance and attachments of a message to send or draft."""

    to: Recipients = Field(
        default_factory=list,
        title="To",
        description="Email addresses and {address, name} objects, or one string of addresses separated by"
        " commas or semicolons.",
    )
    cc: Recipients = Field(default_factory=list, title="Cc")
    bcc: Recipients = Field(default_factory=list, title="Bcc")
    reply_to: Recipients = Field(
        default_factory=list, title="Reply to", description="Where replies should go, if not to the sender."
    )
    subject: str = Field(default="", title="Subject", max_length=255)
    body: str = Field(
        default="", title="Body", description="The message body, HTML or plain text (see `body_type`)."
    )
    body_type: Literal["html", "text"] = Field(default="html", title="Body type")
    importance: Literal["low", "normal", "high"] = Field(default="normal", title="Importance")
    attachments: Attachments = Field(
        default_factory=list,
        title="Attachments",
        description="Files under 3 MB each, sent inline with the message." + ATTACHMENT_FORMS,
    )

    @field_validator("attachments")
    @classmethod
    def _request_under_limit(cls, value: list[AttachmentInput]) -> list[AttachmentInput]:
        total = sum(len(a.content_base64) for a in value if a.fits_inline)
        if total >= REQUEST_LIMIT:
            raise ValueError(
                f"add up to {total:,} base64 bytes; Graph refuses a message request over 4 MB in all"
            )
        return value

    def message_json(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "subject": self.subject,
            "body": {"contentType": "HTML" if self.body_type == "html" else "Text", "content": self.body},
            "importance": self.importance,
        }
        for field_name, graph_name in (
            ("to", "toRecipients"),
            ("cc", "ccRecipients"),
            ("bcc", "bccRecipients"),
            ("reply_to", "replyTo"),
        ):
            recipients = getattr(self, field_name)
            if recipients:
                message[graph_name] = recipients_json(recipients)
        inline = [a.to_graph() for a in self.attachments if a.fits_inline]
        if inline:
            message["attachments"] = inline
        return message


class UploadableAttachmentInput(AttachmentInput):
    """A file attachment up to 150 MB: under 3 MB it goes inline, larger through an upload session."""

    MAX_BYTES: ClassVar[int] = UPLOAD_ATTACHMENT_LIMIT

    content_base64: str = Field(
        title="Content (base64)",
        description="The file's bytes, base64-encoded. Up to 150 MB once decoded; from 3 MB on the file"
        " is uploaded in chunks through an upload session.",
        json_schema_extra={"contentEncoding": "base64"},
    )


UploadableAttachments = Annotated[
    list[UploadableAttachmentInput],
    BeforeValidator(
        attachment_dicts,
        json_schema_input_type=list[UploadableAttachmentInput | KeyValueAttachment] | dict[str, FileData],
    ),
]
"""Files up to 150 MB, in the same forms as ``Attachments``."""
