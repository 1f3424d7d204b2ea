"""The message resource: its OData schema, JSON rendering, and building/patching from request bodies."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sandbox import attachment_model, content, extended
from sandbox.errors import GraphError, bad_request, invalid_request_body
from sandbox.mailbox import Attachment, Mailbox, Message
from sandbox.odata import Schema, apply_select
from sandbox.seed import DIRECTORY

MESSAGE_PROPERTIES: tuple[str, ...] = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "conversationIndex",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "isRead",
    "isDraft",
    "webLink",
    "inferenceClassification",
    "body",
    "uniqueBody",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
    "internetMessageHeaders",
)
MEETING_LINK = "_iCalUId"
"""A meeting message's link to its meeting (sandbox.meeting_messages); never shown."""
_HIDDEN_BY_DEFAULT = ("uniqueBody", "internetMessageHeaders", MEETING_LINK, *extended.KEYS)
_ALWAYS_WRITABLE = {
    "categories",
    "flag",
    "importance",
    "inferenceClassification",
    "isRead",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
}
_DRAFT_WRITABLE = {
    "bccRecipients",
    "body",
    "ccRecipients",
    "from",
    "internetMessageId",
    "replyTo",
    "sender",
    "subject",
    "toRecipients",
    "internetMessageHeaders",
}
_RECIPIENT_LISTS = ("toRecipients", "ccRecipients", "bccRecipients", "replyTo")
_IMPORTANCE = ("low", "normal", "high")
_FLAG_STATUS = ("notFlagged", "complete", "flagged")
_TAGS = re.compile(r"<[^>]+>")
EMAIL_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def _address_text(item: Any, key: str) -> str:
    address = (item.get(key) or {}).get("emailAddress") or {}
    return f"{address.get('name') or ''} {address.get('address') or ''}"


def _recipients_text(item: Any, key: str) -> str:
    return " ".join(
        f"{(r.get('emailAddress') or {}).get('name') or ''} {(r.get('emailAddress') or {}).get('address')}"
        for r in item.get(key) or []
    )


def _body_search_text(item: Any) -> str:
    body = item.get("body") or {}
    text = body.get("content") or ""
    return _TAGS.sub(" ", text) if body.get("contentType") == "html" else text


MESSAGE_SCHEMA = Schema(
    entity="message",
    selectable=MESSAGE_PROPERTIES,
    filterable={
        "isRead": "bool",
        "isDraft": "bool",
        "hasAttachments": "bool",
        "importance": "enum",
        "inferenceClassification": "enum",
        "receivedDateTime": "datetime",
        "sentDateTime": "datetime",
        "createdDateTime": "datetime",
        "lastModifiedDateTime": "datetime",
        "subject": "string",
        "conversationId": "string",
        "parentFolderId": "string",
        "internetMessageId": "string",
        "from/emailAddress/address": "string",
        "from/emailAddress/name": "string",
        "sender/emailAddress/address": "string",
        "sender/emailAddress/name": "string",
        "flag/flagStatus": "enum",
        "categories": "strings",
        "toRecipients": "recipients",
        "ccRecipients": "recipients",
        "bccRecipients": "recipients",
        "replyTo": "recipients",
        "isReadReceiptRequested": "bool",
        "isDeliveryReceiptRequested": "bool",
        **extended.FILTERABLE,
    },
    sortable=frozenset(
        {
            "receivedDateTime",
            "sentDateTime",
            "createdDateTime",
            "lastModifiedDateTime",
            "subject",
            "importance",
            "isRead",
            "hasAttachments",
            "from/emailAddress/name",
            "from/emailAddress/address",
            "sender/emailAddress/name",
            "sender/emailAddress/address",
            "flag/flagStatus",
            "conversationId",
            "inferenceClassification",
        }
    ),
    default_top=10,
    max_top=1000,
    default_orderby=(("receivedDateTime", True),),
    searchable={
        "from": lambda item: _address_text(item, "from"),
        "subject": lambda item: str(item.get("subject") or ""),
        "body": _body_search_text,
        "to": lambda item: _recipients_text(item, "toRecipients"),
        "cc": lambda item: _recipients_text(item, "ccRecipients"),
        "participants": lambda item: " ".join(
            (
                _address_text(item, "from"),
                _recipients_text(item, "toRecipients"),
                _recipients_text(item, "ccRecipients"),
            )
        ),
    },
    search_default=("from", "subject", "body"),
    known_paths=frozenset(
        {
            "body/content",
            "body/contentType",
            "uniqueBody/content",
            "flag/dueDateTime",
            "flag/startDateTime",
            "from/emailAddress",
            "sender/emailAddress",
        }
    ),
)


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def web_link(message_id: str) -> str:
    item = quote(message_id, safe="")
    return f"https://outlook.office365.com/owa/?ItemID={item}&exvsurl=1&viewmodel=ReadMessageItem"


def render_message(
    message: Message,
    select: list[str] | None = None,
    body_type: str | None = None,
    attachments: tuple[Attachment, ...] | None = None,
    expansion: extended.Expansion | None = None,
    context: str | None = None,
) -> dict[str, Any]:
    """A message as Graph returns it (``@odata.etag`` first, ``$select`` applied, body converted,
    extended properties and extensions only when expanded)."""
    out: dict[str, Any] = {"@odata.etag": f'W/"{message["changeKey"]}"'}
    out.update((key, value) for key, value in message.items() if key not in _HIDDEN_BY_DEFAULT)
    for key in ("sender", "from"):
        if out[key] is None:
            del out[key]  # unsent drafts have no sender yet
    out["webLink"] = web_link(message["id"])
    wanted = set(select or ())
    if "uniqueBody" in wanted:
        out["uniqueBody"] = message["body"]
    if "internetMessageHeaders" in wanted:
        out["internetMessageHeaders"] = _headers(message)
    if body_type is not None:
        for key in ("body", "uniqueBody"):
            if key in out:
                out[key] = content.convert_body(out[key], body_type)
    out = apply_select(out, select)
    if attachments is not None:
        out["attachments"] = [attachment_model.render(a) for a in attachments]
    if expansion is not None:
        expansion.apply(out, message, context)
    return out


def _headers(message: Message) -> list[dict[str, str]]:
    sender = (message.get("from") or {}).get("emailAddress") or {}
    to = ", ".join(
        f"{r['emailAddress'].get('name', '')} <{r['emailAddress'].get('address', '')}>"
        for r in message.get("toRecipients") or []
    )
    base = [
        {"name": "Received", "value": "from sandbox.mail.local by sandbox.mail.local with HTTP"},
        {"name": "From", "value": f"{sender.get('name', '')} <{sender.get('address', '')}>"},
        {"name": "To", "value": to},
        {"name": "Subject", "value": str(message.get("subject") or "")},
        {"name": "Date", "value": str(message.get("sentDateTime") or "")},
        {"name": "Message-ID", "value": str(message.get("internetMessageId") or "")},
        {
            "name": "Content-Type",
            "value": "text/html; charset=utf-8"
            if (message.get("body") or {}).get("contentType") == "html"
            else "text/plain; charset=utf-8",
        },
        {"name": "MIME-Version", "value": "1.0"},
    ]
    return base + list(message.get("internetMessageHeaders") or [])


# -- building from request bodies ------------------------------------------------------------------------
def _directory_name(address: str) -> str | None:
    lowered = address.lower()
    for user in DIRECTORY:
        if lowered in (user["mail"].lower(), user["userPrincipalName"].lower()):
            return str(user["displayName"])
    return None


def _recipient(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("emailAddress"), dict):
        raise bad_request(
            f"Invalid value for property '{field}': each recipient needs an 'emailAddress' object.",
            "RequestBodyRead",
        )
    email = value["emailAddress"]
    address = str(email.get("address") or "").strip()
    name = email.get("name") or _directory_name(address) or address
    return {"emailAddress": {"name": name, "address": address}}


def _recipients(value: Any, field: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad_request(
            f"Invalid value for property '{field}': a collection is expected.", "RequestBodyRead"
        )
    return [_recipient(item, field) for item in value]


def _body(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad_request("Invalid value for property 'body'.", "RequestBodyRead")
    kind = str(value.get("contentType") or "text").lower()
    if kind not in ("text", "html"):
        raise bad_request(
            f"Cannot convert the literal '{value.get('contentType')}' to the expected type "
            "'microsoft.graph.bodyType'.",
            "RequestBodyRead",
        )
    text = str(value.get("content") or "")
    if kind == "html" and "<html" not in text.lower():
        text = content.wrap_html(text)
    return {"contentType": kind, "content": text}


def _enum(value: Any, allowed: tuple[str, ...], type_name: str) -> str:
    for option in allowed:
        if isinstance(value, str) and value.lower() == option.lower():
            return option
    raise bad_request(
        f"Cannot convert the literal '{value}' to the expected type 'microsoft.graph.{type_name}'.",
        "RequestBodyRead",
    )


def _flag(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("Invalid value for property 'flag'.", "RequestBodyRead")
    flag = dict(value)
    flag["flagStatus"] = _enum(value.get("flagStatus", "notFlagged"), _FLAG_STATUS, "followupFlagStatus")
    return flag


def _internet_headers(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise bad_request("Invalid value for property 'internetMessageHeaders'.", "RequestBodyRead")
    headers = []
    for header in value:
        name = str((header or {}).get("name") or "")
        if not name.lower().startswith("x-"):
            raise GraphError(
                400,
                "InvalidInternetMessageHeader",
                f"The internet message header name '{name}' should start with 'x-' or 'X-'.",
            )
        headers.append({"name": name, "value": str(header.get("value") or "")})
    return headers


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise bad_request(
            f"Cannot convert the literal '{value}' to the expected type 'Edm.Boolean' for property "
            f"'{field}'.",
            "RequestBodyRead",
        )
    return value


def _categories(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise bad_request(
            "Invalid value for property 'categories': a collection of strings is expected.", "RequestBodyRead"
        )
    return list(value)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "subject": lambda v: "" if v is None else str(v),
    "body": _body,
    "importance": lambda v: _enum(v, _IMPORTANCE, "importance"),
    "inferenceClassification": lambda v: _enum(v, ("focused", "other"), "inferenceClassificationType"),
    "categories": _categories,
    "flag": _flag,
    "internetMessageHeaders": _internet_headers,
    "internetMessageId": lambda v: str(v),
    "from": lambda v: _recipient(v, "from"),
    "sender": lambda v: _recipient(v, "sender"),
}


def _convert(field: str, value: Any) -> Any:
    if field in _RECIPIENT_LISTS:
        return _recipients(value, field)
    if field in ("isRead", "isReadReceiptRequested", "isDeliveryReceiptRequested"):
        return _bool(value, field)
    return _CONVERTERS[field](value)


def message_changes(
    payload: Any, *, is_draft: bool, creating: bool, current: Message | None = None
) -> dict[str, Any]:
    """Validated message properties from a POST/PATCH body (attachments are handled apart); extended
    properties and open extensions are merged with ``current``'s."""
    if not isinstance(payload, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    payload = dict(payload)
    changes: dict[str, Any] = extended.take(payload, current)
    for field, value in payload.items():
        if field.startswith("@odata.") or field == "attachments":
            continue
        if field not in MESSAGE_PROPERTIES:
            raise invalid_request_body(field, "message")
        if field not in _ALWAYS_WRITABLE and field not in _DRAFT_WRITABLE:
            continue  # read-only properties (id, dates...) are ignored, as Graph does
        if field in _DRAFT_WRITABLE and not is_draft and not creating:
            raise GraphError(
                400,
                "ErrorInvalidPropertyUpdateSentMessage",
                "Update operation is not supported for some parameters of a sent message.",
            )
        changes[field] = _convert(field, value)
    if "body" in changes:
        changes["bodyPreview"] = content.preview(content.body_text(changes["body"]))
    return changes


def attachments_from_payload(payload: Any, box: Mailbox, message_id: str) -> tuple[Attachment, ...]:
    """The attachments sent in a message body (files, items, links; see sandbox.attachment_model)."""
    return attachment_model.attachments_from_payload(payload, box.ids, message_id)


def new_message(
    box: Mailbox,
    folder_id: str,
    changes: dict[str, Any],
    *,
    is_draft: bool,
    attachments: tuple[Attachment, ...] = (),
) -> Message:
    """A complete message record (Graph's defaults filled in) in ``folder_id`` of ``box``."""
    stamp = now_stamp()
    message_id = box.ids.message_id()
    body = changes.get("body") or {"contentType": "text", "content": ""}
    message: Message = {
        "id": message_id,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "changeKey": box.ids.change_key(),
        "categories": [],
        "receivedDateTime": stamp,
        "sentDateTime": stamp,
        "hasAttachments": False,
        "internetMessageId": box.ids.internet_message_id("prod.outlook.com"),
        "subject": "",
        "bodyPreview": content.preview(content.body_text(body)),
        "importance": "normal",
        "parentFolderId": folder_id,
        "conversationId": box.ids.conversation_id(),
        "conversationIndex": box.ids.conversation_index(),
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": True,
        "isDraft": is_draft,
        "webLink": "",
        "inferenceClassification": "focused",
        "body": body,
        "sender": None,
        "from": None,
        "toRecipients": [],
        "ccRecipients": [],
        "bccRecipients": [],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
    }
    message.update(changes)
    message["hasAttachments"] = any(not a["isInline"] for a in attachments)
    if not is_draft and message["from"] is None:
        message["from"] = message["sender"] = owner_address(box)
    return message


def owner_address(box: Mailbox) -> dict[str, Any]:
    return {"emailAddress": {"name": box.user["displayName"], "address": box.address}}


def invalid_recipients(message: Message) -> list[str]:
    """Addresses that cannot be resolved (an empty list means the message may be sent)."""
    return [
        r["emailAddress"]["address"]
        for field in ("toRecipients", "ccRecipients", "bccRecipients")
        for r in message.get(field) or []
        if not EMAIL_ADDRESS.match(r["emailAddress"]["address"])
    ]
