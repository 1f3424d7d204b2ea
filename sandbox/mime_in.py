"""MIME request bodies: sendMail, POST messages, reply/replyAll/forward and their create* variants take a
base64-encoded RFC 822 message with ``Content-Type: text/plain`` instead of JSON.

The MIME message is turned into the JSON body Graph would have taken for it (subject, body, recipients,
``x-`` headers, Message-ID, attachments), so the JSON paths validate and store it.
"""

from __future__ import annotations

import base64
import binascii
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from flask import request

from sandbox.errors import GraphError


def is_mime_request() -> bool:
    """True when the body is MIME (Graph takes it as ``text/plain``)."""
    return request.mimetype == "text/plain"


def _invalid_base64() -> GraphError:
    return GraphError(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")


def read_mime() -> EmailMessage:
    """The request's MIME message; 400 as Graph answers for bad base64 or empty content."""
    raw = b"".join(request.get_data(cache=True).split())
    if not raw:
        raise GraphError(400, "ErrorMimeContentInvalid", "The MIME content is empty.")
    try:
        decoded = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid_base64() from None
    parsed = BytesParser(policy=policy.default).parsebytes(decoded)
    assert isinstance(parsed, EmailMessage)
    if not parsed.keys():
        raise GraphError(400, "ErrorMimeContentInvalid", "The MIME content is invalid: it has no headers.")
    return parsed


def _recipients(mime: EmailMessage, header: str) -> list[dict[str, Any]]:
    values = [str(v) for v in mime.get_all(header) or []]
    return [
        {"emailAddress": {"name": name or address, "address": address}}
        for name, address in getaddresses(values)
        if address
    ]


def _body(mime: EmailMessage) -> dict[str, str]:
    part = mime.get_body(preferencelist=("html", "plain"))
    if part is None:
        return {"contentType": "text", "content": ""}
    assert isinstance(part, EmailMessage)
    text = part.get_content()
    kind = "html" if part.get_content_subtype() == "html" else "text"
    content = text if isinstance(text, str) else text.decode("utf-8", "replace")
    return {"contentType": kind, "content": content}


def _attachments(mime: EmailMessage) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in mime.iter_attachments():
        assert isinstance(part, EmailMessage)
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            data = part.as_bytes()
        content_id = part.get("Content-ID")
        out.append(
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": part.get_filename() or "attachment",
                "contentType": part.get_content_type(),
                "contentBytes": base64.b64encode(data).decode("ascii"),
                "isInline": part.get_content_disposition() == "inline",
                **({"contentId": str(content_id).strip("<>")} if content_id else {}),
            }
        )
    return out


def message_payload(mime: EmailMessage) -> dict[str, Any]:
    """The JSON message body this MIME message stands for (only what it states)."""
    payload: dict[str, Any] = {"body": _body(mime)}
    if mime.get("Subject") is not None:
        payload["subject"] = str(mime["Subject"])
    for header, field in (("To", "toRecipients"), ("Cc", "ccRecipients"), ("Bcc", "bccRecipients")):
        found = _recipients(mime, header)
        if found:
            payload[field] = found
    sender = _recipients(mime, "From")
    if sender:
        payload["from"] = payload["sender"] = sender[0]
    reply_to = _recipients(mime, "Reply-To")
    if reply_to:
        payload["replyTo"] = reply_to
    if mime.get("Message-ID"):
        payload["internetMessageId"] = " ".join(str(mime["Message-ID"]).split())
    custom = [{"name": k, "value": str(v)} for k, v in mime.items() if k.lower().startswith("x-")]
    if custom:
        payload["internetMessageHeaders"] = custom
    attachments = _attachments(mime)
    if attachments:
        payload["attachments"] = attachments
    return payload


def read_message_payload() -> dict[str, Any]:
    return message_payload(read_mime())
