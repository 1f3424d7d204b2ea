"""Sending a MIME message as it is, or saving it as a draft (S/MIME included): Graph takes the
message base64-encoded with ``Content-Type: text/plain`` on ``sendMail`` and ``POST messages``."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
from email.message import EmailMessage
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, model_validator

from actions._inputs import MailboxInput
from actions._mail import REQUEST_LIMIT
from actions.models import Message
from connector.context import ActionContext
from connector.errors import GraphError
from connector.schemas import returns

_MIME_HEADERS = {"Content-Type": "text/plain"}


class MimeMessageInput(MailboxInput):
    mime_base64: str | None = Field(
        default=None,
        title="MIME (base64)",
        description="The whole RFC 822 / MIME message, base64-encoded (as Graph takes it). Give this or"
        " `mime`.",
        json_schema_extra={"contentEncoding": "base64"},
    )
    mime: str | None = Field(
        default=None,
        title="MIME (text)",
        description="The whole RFC 822 / MIME message as text; the action base64-encodes it. Give this"
        " or `mime_base64`.",
        examples=["From: alex@contoso.com\r\nTo: megan@contoso.com\r\nSubject: Hi\r\n\r\nHello\r\n"],
    )
    _raw: bytes = PrivateAttr(default=b"")
    _parsed: EmailMessage | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_readable_message(self) -> MimeMessageInput:
        if (self.mime_base64 is None) == (self.mime is None):
            raise ValueError("mime_base64: give exactly one of `mime_base64` and `mime`")
        if self.mime_base64 is not None:
            try:
                raw = base64.b64decode("".join(self.mime_base64.split()), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("mime_base64: is not valid base64") from None
            name = "mime_base64"
        else:
            raw = str(self.mime).encode("utf-8")
            name = "mime"
        if len(base64.b64encode(raw)) >= REQUEST_LIMIT:
            raise ValueError(
                f"{name}: is {len(raw):,} bytes; Graph takes a MIME message under 4 MB base64-encoded"
            )
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        if not isinstance(parsed, EmailMessage) or not parsed.keys() or parsed.defects:
            raise ValueError(f"{name}: is not a MIME message (it needs a header block, then a blank line)")
        self._raw, self._parsed = raw, parsed
        return self

    def encoded(self) -> str:
        return base64.b64encode(self._raw).decode("ascii")

    def addresses(self, header: str) -> list[str]:
        value = self._parsed.get(header) if self._parsed is not None else None
        return [a.addr_spec for a in getattr(value, "addresses", ())] if value is not None else []

    def subject(self) -> str | None:
        value = self._parsed.get("Subject") if self._parsed is not None else None
        return None if value is None else str(value)


class SendMimeMessageInput(MimeMessageInput):
    @model_validator(mode="after")
    def _has_recipient(self) -> SendMimeMessageInput:
        if not any(self.addresses(h) for h in ("To", "Cc", "Bcc")):
            name = "mime_base64" if self.mime_base64 is not None else "mime"
            raise ValueError(f"{name}: the message names no recipient (To, Cc or Bcc header)")
        return self


class SentMimeOutput(BaseModel):
    sent: bool = Field(description="True once Graph accepted the message for delivery.")
    subject: str | None
    to: list[str]
    cc: list[str]
    bcc: list[str]
    size: int = Field(description="The MIME message's size in bytes.")


@returns(SentMimeOutput)
def send_mime_message(ctx: ActionContext, params: SendMimeMessageInput) -> dict[str, Any]:
    """One ``sendMail`` with the MIME body; never sent twice (a POST Graph may have run is not retried)."""
    ctx.graph.request(
        "POST", f"{ctx.mailbox(params.user_id)}/sendMail", content=params.encoded(), headers=_MIME_HEADERS
    )
    return {
        "sent": True,
        "subject": params.subject(),
        "to": params.addresses("To"),
        "cc": params.addresses("Cc"),
        "bcc": params.addresses("Bcc"),
        "size": len(params._raw),
    }


class CreateDraftMimeInput(MimeMessageInput):
    """Saves the MIME message as a draft in Drafts."""


@returns(Message)
def create_draft_mime(ctx: ActionContext, params: CreateDraftMimeInput) -> dict[str, Any]:
    response = ctx.graph.request(
        "POST", f"{ctx.mailbox(params.user_id)}/messages", content=params.encoded(), headers=_MIME_HEADERS
    )
    try:
        draft = response.json()
    except ValueError:
        draft = None
    if not isinstance(draft, dict) or not isinstance(draft.get("id"), str):
        raise GraphError(
            "Graph created the draft but answered without it",
            status=response.status_code,
            code="InvalidResponse",
        )
    return draft
