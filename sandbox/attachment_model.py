"""The attachment resource: files, items (an attached message, event or contact: itemAttachment) and
links (referenceAttachment) - built from request bodies and rendered as Graph returns them.

Stored attachments are Graph JSON; an item attachment keeps its item (Graph JSON with its
``@odata.type``) under ``item``, which Graph shows only when asked with
``$expand=microsoft.graph.itemattachment/item``. An attached message may hold attachments itself
(``item["attachments"]``, stored the same way), so items nest.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sandbox import content
from sandbox.errors import bad_request, invalid_request_body, unknown_property
from sandbox.ids import IdFactory
from sandbox.mailbox import Attachment
from sandbox.mime import ITEM_TYPES, attachment_bytes
from sandbox.odata import apply_select

FILE = "#microsoft.graph.fileAttachment"
ITEM = "#microsoft.graph.itemAttachment"
REFERENCE = "#microsoft.graph.referenceAttachment"
PROPERTIES = (
    "id",
    "lastModifiedDateTime",
    "name",
    "contentType",
    "size",
    "isInline",
    "contentId",
    "contentLocation",
    "contentBytes",
)
"""Properties of attachment and its derived types that ``$select`` may name."""
EXPAND_ITEM = "microsoft.graph.itemattachment/item"
"""The one ``$expand`` attachments take (case-insensitive): an item attachment's item."""
_BASE_FIELDS = {"@odata.type", "id", "name", "contentType", "size", "isInline", "lastModifiedDateTime"}
_FIELDS = {
    FILE: _BASE_FIELDS | {"contentBytes", "contentId", "contentLocation", "@odata.mediaContentType"},
    ITEM: _BASE_FIELDS | {"item"},
    REFERENCE: _BASE_FIELDS,
}


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kind(attachment: Mapping[str, Any]) -> str:
    """``file``, ``item`` or ``reference``."""
    return {ITEM: "item", REFERENCE: "reference"}.get(str(attachment.get("@odata.type")), "file")


# -- records -------------------------------------------------------------------------------------------
def file_attachment(
    attachment_id: str,
    name: str,
    content_type: str,
    data: bytes,
    modified: str,
    is_inline: bool = False,
    content_id: str | None = None,
) -> Attachment:
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "@odata.mediaContentType": content_type,
        "id": attachment_id,
        "lastModifiedDateTime": modified,
        "name": name,
        "contentType": content_type,
        "size": len(data) + 180,
        "isInline": is_inline,
        "contentId": content_id,
        "contentLocation": None,
        "contentBytes": base64.b64encode(data).decode("ascii"),
    }


def item_attachment(attachment_id: str, name: str, item: dict[str, Any], modified: str) -> Attachment:
    attachment: Attachment = {
        "@odata.type": ITEM,
        "id": attachment_id,
        "lastModifiedDateTime": modified,
        "name": name,
        "contentType": None,
        "size": 0,
        "isInline": False,
        "item": item,
    }
    # Exchange counts the item's stored size; its serialized form is a fair, deterministic stand-in.
    attachment["size"] = len(attachment_bytes(attachment)) + 1024
    return attachment


def reference_attachment(
    attachment_id: str, name: str, content_type: str | None, size: int, modified: str, is_inline: bool = False
) -> Attachment:
    return {
        "@odata.type": REFERENCE,
        "id": attachment_id,
        "lastModifiedDateTime": modified,
        "name": name,
        "contentType": content_type,
        "size": size,
        "isInline": is_inline,
    }


# -- rendering -----------------------------------------------------------------------------------------
def render(attachment: Mapping[str, Any], select: list[str] | None = None) -> dict[str, Any]:
    """The attachment as Graph returns it: an item attachment without its item."""
    return apply_select({k: v for k, v in attachment.items() if k != "item"}, select)


def render_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An attached item as ``$expand=microsoft.graph.itemattachment/item`` shows it (an attached
    message's own attachments listed, without their items)."""
    out = {k: v for k, v in item.items() if k != "attachments"}
    nested = item.get("attachments")
    if nested:
        out["attachments"] = [render(a) for a in nested]
    return out


def parse_select(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    chosen = []
    for name in (part.strip() for part in raw.split(",")):
        if name not in PROPERTIES:
            raise unknown_property(name, "attachment")
        chosen.append(name)
    return chosen


def parse_expand(raw: str | None) -> bool:
    """True for ``$expand=microsoft.graph.itemattachment/item`` (any case); other expansions 400."""
    if not raw:
        return False
    for part in (p.strip() for p in raw.split(",")):
        if part.lower() != EXPAND_ITEM:
            raise unknown_property(part.split("/")[-1].split("(")[0], "attachment")
    return True


# -- building from request bodies ------------------------------------------------------------------------
def _type_of(value: Mapping[str, Any], default: str) -> str:
    """An ``@odata.type`` as ``#microsoft.graph.name`` (Graph takes it with or without ``#``, any case)."""
    raw = str(value.get("@odata.type") or default).lstrip("#")
    known = {t.lstrip("#").lower(): t for t in (FILE, ITEM, REFERENCE, *ITEM_TYPES)}
    return known.get(raw.lower(), "#" + raw)


def _body(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad_request("Invalid value for property 'body'.", "RequestBodyRead")
    body_type = str(value.get("contentType") or "text").lower()
    if body_type not in ("text", "html"):
        raise bad_request(
            f"Cannot convert the literal '{value.get('contentType')}' to the expected type "
            "'microsoft.graph.bodyType'.",
            "RequestBodyRead",
        )
    text = str(value.get("content") or "")
    if body_type == "html" and "<html" not in text.lower():
        text = content.wrap_html(text)
    return {"contentType": body_type, "content": text}


def _message_item(item: dict[str, Any], ids: IdFactory, message_id: str, stamp: str) -> dict[str, Any]:
    body = _body(item.get("body") or {"contentType": "text", "content": ""})
    nested = attachments_from_payload(item, ids, message_id, stamp)
    out: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.message",
        "id": "",
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "receivedDateTime": stamp,
        "sentDateTime": stamp,
        "hasAttachments": False,
        "subject": "",
        "importance": "normal",
        "isRead": True,
        "isDraft": False,
        "toRecipients": [],
        "ccRecipients": [],
        "bccRecipients": [],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
    }
    out.update((k, v) for k, v in item.items() if k not in ("@odata.type", "attachments", "id"))
    out["body"] = body
    out["bodyPreview"] = content.preview(content.body_text(body))
    out["hasAttachments"] = any(not a["isInline"] for a in nested)
    if nested:
        out["attachments"] = list(nested)
    return out


def _event_item(item: dict[str, Any], stamp: str) -> dict[str, Any]:
    for field in ("start", "end"):
        value = item.get(field)
        if not isinstance(value, dict) or not value.get("dateTime"):
            raise bad_request(
                f"The attached event needs '{field}' (dateTime and timeZone).", "ErrorInvalidRequest"
            )
    body = _body(item.get("body") or {"contentType": "text", "content": ""})
    out: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.event",
        "id": "",
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "subject": "",
        "isAllDay": False,
        "isCancelled": False,
        "showAs": "busy",
        "sensitivity": "normal",
        "importance": "normal",
        "attendees": [],
    }
    out.update((k, v) for k, v in item.items() if k not in ("@odata.type", "id"))
    out["body"] = body
    out["bodyPreview"] = content.preview(content.body_text(body))
    return out


def _contact_item(item: dict[str, Any], stamp: str) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.type": "#microsoft.graph.contact", "id": "", "createdDateTime": stamp}
    out["lastModifiedDateTime"] = stamp
    out.update((k, v) for k, v in item.items() if k not in ("@odata.type", "id"))
    if not out.get("displayName"):
        out["displayName"] = " ".join(str(out.get(k) or "") for k in ("givenName", "surname")).strip()
    return out


def _item(value: Any, ids: IdFactory, message_id: str, stamp: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("The item attachment's 'item' must be an object.", "ErrorInvalidRequest")
    item_type = _type_of(value, "")
    if item_type not in ITEM_TYPES:
        raise bad_request(
            "The item's '@odata.type' must be microsoft.graph.message, microsoft.graph.event or"
            " microsoft.graph.contact.",
            "ErrorInvalidRequest",
        )
    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "message": lambda: _message_item(value, ids, message_id, stamp),
        "event": lambda: _event_item(value, stamp),
        "contact": lambda: _contact_item(value, stamp),
    }
    return builders[ITEM_TYPES[item_type]]()


def _file(payload: dict[str, Any], ids: IdFactory, message_id: str, stamp: str) -> Attachment:
    try:
        data = base64.b64decode(str(payload.get("contentBytes") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(
            "Cannot convert the literal value of 'contentBytes' to the expected type 'Edm.Binary'.",
            "RequestBodyRead",
        ) from None
    return file_attachment(
        ids.attachment_id(message_id),
        str(payload.get("name") or "attachment"),
        str(payload.get("contentType") or "application/octet-stream"),
        data,
        stamp,
        bool(payload.get("isInline", False)),
        payload.get("contentId"),
    )


def attachment_from_payload(
    payload: Any, ids: IdFactory, message_id: str, stamp: str | None = None
) -> Attachment:
    """One attachment from a request body (file by default; ``@odata.type`` picks item or reference),
    with ids from ``ids`` and ``stamp`` (default: now) as its time."""
    if not isinstance(payload, dict):
        raise bad_request("Invalid value for property 'attachments'.", "RequestBodyRead")
    attachment_type = _type_of(payload, FILE)
    if attachment_type not in _FIELDS:
        raise bad_request(
            f"'{attachment_type.lstrip('#')}' is not an attachment type: use fileAttachment, itemAttachment"
            " or referenceAttachment.",
            "RequestBodyRead",
        )
    for name in payload:
        if name not in _FIELDS[attachment_type]:
            raise invalid_request_body(name, attachment_type.lstrip("#").removeprefix("microsoft.graph."))
    stamp = stamp or now_stamp()
    if attachment_type == ITEM:
        item = _item(payload.get("item"), ids, message_id, stamp)
        name = payload.get("name") or item.get("subject") or item.get("displayName") or "Untitled"
        return item_attachment(ids.attachment_id(message_id), str(name), item, stamp)
    if attachment_type == REFERENCE:
        if not payload.get("name"):
            raise bad_request("The value of the parameter 'Name' is empty.", "ErrorInvalidParameter")
        size = payload.get("size")
        return reference_attachment(
            ids.attachment_id(message_id),
            str(payload["name"]),
            payload.get("contentType"),
            size if isinstance(size, int) and not isinstance(size, bool) else 0,
            stamp,
            bool(payload.get("isInline", False)),
        )
    return _file(payload, ids, message_id, stamp)


def attachments_from_payload(
    payload: Any, ids: IdFactory, message_id: str, stamp: str | None = None
) -> tuple[Attachment, ...]:
    """The attachments sent in a message body (``attachments``: files as base64, items, links)."""
    raw = payload.get("attachments") if isinstance(payload, dict) else None
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise bad_request("Invalid value for property 'attachments'.", "RequestBodyRead")
    return tuple(attachment_from_payload(item, ids, message_id, stamp) for item in raw)
