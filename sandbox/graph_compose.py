"""Replying and forwarding (sent at once, or as drafts) and the message delta of a folder.

reply / replyAll / forward answer 202 and deliver like sendMail; createReply / createReplyAll /
createForward store a draft in Drafts and answer 201 with it. Move, copy, permanentDelete, send and
``$value`` live in graph_messages.

Delta: a first call returns every message of the folder; each round ends with an
``@odata.deltaLink`` whose ``$deltatoken`` remembers the folder as it was (id -> changeKey), so the
next round returns only messages created or changed since, and ``{"id", "@removed": {"reason":
"deleted"}}`` for those deleted or moved away. Pages in between carry ``$skiptoken``.
"""

from __future__ import annotations

import hashlib
import html
import re
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request

from sandbox import content, delivery, mime_in
from sandbox.errors import GraphError, bad_request, invalid_request_body
from sandbox.graph import (
    add_mailbox_routes,
    apply_page_size_preference,
    context_url,
    entity,
    json_body,
    no_content,
    open_mailbox,
    preferences,
    select_suffix,
    user_segment,
)
from sandbox.graph_folders import find_folder
from sandbox.graph_messages import find_message
from sandbox.mailbox import Mailbox, Message
from sandbox.message_model import (
    MESSAGE_SCHEMA,
    attachments_from_payload,
    invalid_recipients,
    message_changes,
    new_message,
    owner_address,
    render_message,
)
from sandbox.odata import option, parse_select
from sandbox.state import SandboxState

_PREFIX = {"reply": "RE: ", "replyAll": "RE: ", "forward": "FW: "}


# -- reply, reply all, forward -------------------------------------------------------------------------
def _payload(kind: str) -> dict[str, Any]:
    if mime_in.is_mime_request():  # the MIME message is the reply (or forward) itself
        return {"message": mime_in.read_message_payload()}
    payload = json_body(required=False)
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    allowed = {"comment", "message"} | ({"toRecipients"} if kind == "forward" else set())
    for name in payload:
        if name not in allowed:
            raise invalid_request_body(name, f"microsoft.graph.{kind}")
    if payload.get("comment") is not None and not isinstance(payload["comment"], str):
        raise bad_request("Invalid value for property 'comment'.", "RequestBodyRead")
    return payload


def _without(recipients: list[dict[str, Any]], addresses: set[str]) -> list[dict[str, Any]]:
    out, seen = [], set(addresses)
    for recipient in recipients:
        address = str(recipient["emailAddress"]["address"]).lower()
        if address not in seen:
            seen.add(address)
            out.append(recipient)
    return out


def _default_recipients(box: Mailbox, original: Message, kind: str) -> dict[str, Any]:
    if kind == "forward":
        return {}
    me = {box.address.lower()}
    sender = original.get("from") or original.get("sender")
    first = list(original.get("replyTo") or ([sender] if sender else []))
    if kind == "reply":
        return {"toRecipients": _without(first, set())}
    to = _without(first + list(original.get("toRecipients") or []), me)
    return {"toRecipients": to, "ccRecipients": _without(list(original.get("ccRecipients") or []), me)}


def _quoted_body(original: Message, comment: str) -> dict[str, str]:
    quoted = content.convert_body(original["body"], "html")["content"]
    head = f"<div>{html.escape(comment) if '<' not in comment else comment}</div>" if comment else ""
    return {"contentType": "html", "content": content.wrap_html(f"{head}<hr>{quoted}")}


def _response_message(
    box: Mailbox, original: Message, kind: str, payload: dict[str, Any], folder_id: str
) -> Message:
    changes: dict[str, Any] = {
        "subject": _PREFIX[kind] + str(original.get("subject") or ""),
        "body": _quoted_body(original, str(payload.get("comment") or "")),
        **_default_recipients(box, original, kind),
    }
    changes["bodyPreview"] = content.preview(content.body_text(changes["body"]))
    overrides = payload.get("message")
    if overrides is not None:
        changes.update(message_changes(overrides, is_draft=True, creating=True))
    if payload.get("toRecipients") is not None:
        changes.update(
            message_changes({"toRecipients": payload["toRecipients"]}, is_draft=True, creating=True)
        )
    message = new_message(box, folder_id, changes, is_draft=True)
    message["conversationId"] = original.get("conversationId") or message["conversationId"]
    return message


def _attachments(
    box: Mailbox, original: Message, kind: str, payload: dict[str, Any], message_id: str
) -> tuple[Any, ...]:
    added = attachments_from_payload(payload.get("message") or {}, box, message_id)
    if kind != "forward":
        return added
    carried = tuple(
        {**a, "id": box.ids.attachment_id(message_id)} for a in box.attachments_of(original["id"])
    )
    return carried + added


def _check_recipients(message: Message) -> None:
    if not any(message.get(f) for f in ("toRecipients", "ccRecipients", "bccRecipients")):
        raise GraphError(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
        )
    bad = invalid_recipients(message)
    if bad:
        raise GraphError(
            400,
            "ErrorInvalidRecipients",
            f"At least one recipient isn't valid., Recipient '{bad[0]}' is not resolved. All recipients "
            "must be resolved before a message can be submitted.",
        )


def _send_response(user_ref: str | None, message_id: str, kind: str) -> Response:
    state, _owner, box = open_mailbox(user_ref, "send")
    payload = _payload(kind)
    with state.lock:
        original = find_message(box, message_id)
        message = _response_message(box, original, kind, payload, box.well_known["sentitems"])
        attachments = _attachments(box, original, kind, payload, message["id"])
        message["hasAttachments"] = any(not a["isInline"] for a in attachments)
        message["from"] = message["sender"] = owner_address(box)
        _check_recipients(message)
        delivery.submit(state, box, message, attachments, save_to_sent_items=True)
    return no_content(202)


def _create_draft(user_ref: str | None, message_id: str, kind: str) -> Response:
    prefs = preferences()
    state, owner, box = open_mailbox(user_ref, "write")
    payload = _payload(kind)
    with state.lock:
        original = find_message(box, message_id)
        message = _response_message(box, original, kind, payload, box.well_known["drafts"])
        attachments = _attachments(box, original, kind, payload, message["id"])
        message["hasAttachments"] = any(not a["isInline"] for a in attachments)
        message["from"] = message["from"] or owner_address(box)  # a reply draft is from the mailbox
        message["sender"] = message["sender"] or message["from"]
        box.put_message(message, attachments or None)
        body = render_message(message, None, prefs.body_type)
    return entity(context_url(f"{user_segment(user_ref, owner)}/messages/$entity"), body, 201)


def reply(user_ref: str | None, message_id: str) -> Response:
    return _send_response(user_ref, message_id, "reply")


def reply_all(user_ref: str | None, message_id: str) -> Response:
    return _send_response(user_ref, message_id, "replyAll")


def forward(user_ref: str | None, message_id: str) -> Response:
    return _send_response(user_ref, message_id, "forward")


def create_reply(user_ref: str | None, message_id: str) -> Response:
    return _create_draft(user_ref, message_id, "reply")


def create_reply_all(user_ref: str | None, message_id: str) -> Response:
    return _create_draft(user_ref, message_id, "replyAll")


def create_forward(user_ref: str | None, message_id: str) -> Response:
    return _create_draft(user_ref, message_id, "forward")


# -- delta -------------------------------------------------------------------------------------------
@dataclass
class _Round:
    """One delta round: the changes to hand out page by page, and the folder state it ends at."""

    mailbox: str
    folder_id: str
    select: list[str] | None
    change_type: str | None
    changes: list[tuple[str, str]]  # (message id, "created" | "updated" | "deleted")
    baseline: dict[str, str]  # the folder at the end of this round: message id -> changeKey
    received_filter: tuple[str, str] | None = None  # ("ge" | "gt", ISO time): Graph's one delta $filter


_ROUNDS: weakref.WeakKeyDictionary[SandboxState, dict[str, _Round]] = weakref.WeakKeyDictionary()
_DELTA_OPTIONS = {"$select", "select", "$skiptoken", "$deltatoken", "changeType", "$top", "top", "$filter"}
_RECEIVED_FILTER = re.compile(r"^\s*receivedDateTime\s+(ge|gt)\s+(\S+)\s*$", re.IGNORECASE)
_CHANGE_TYPES = ("created", "updated", "deleted")


def _rounds(state: SandboxState) -> dict[str, _Round]:
    return _ROUNDS.setdefault(state, {})


def _sync_state_not_found() -> GraphError:
    return GraphError(410, "SyncStateNotFound", "The sync state generation is not found or has expired.")


def _received_filter(text: str | None) -> tuple[str, str] | None:
    """Message delta takes only ``$filter=receivedDateTime ge|gt {time}`` (kept for later rounds)."""
    if text is None:
        return None
    match = _RECEIVED_FILTER.match(text)
    if match is None:
        raise bad_request("Only receivedDateTime ge/gt filters are supported by messages delta.")
    try:
        moment = datetime.fromisoformat(match.group(2).replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Invalid date/time '{match.group(2)}' in $filter.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return match.group(1).lower(), moment.astimezone(UTC).isoformat()


def _received_ok(message: dict[str, Any], received_filter: tuple[str, str] | None) -> bool:
    if received_filter is None:
        return True
    operator, bound = received_filter
    text = str(message.get("receivedDateTime") or "")
    try:
        received = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).isoformat()
    except ValueError:
        return False
    return received >= bound if operator == "ge" else received > bound


def _new_round(box: Mailbox, folder_id: str, previous: _Round | None) -> _Round:
    received_filter = previous.received_filter if previous else _received_filter(request.args.get("$filter"))
    messages = sorted(
        (m for m in box.messages_in(folder_id) if _received_ok(m, received_filter)),
        key=lambda m: str(m.get("receivedDateTime") or ""),
    )
    current = {m["id"]: str(m["changeKey"]) for m in messages}
    before = previous.baseline if previous else {}
    changes: list[tuple[str, str]] = []
    for message in messages:
        old = before.get(message["id"])
        if old is None:
            changes.append((message["id"], "created"))
        elif old != current[message["id"]]:
            changes.append((message["id"], "updated"))
    changes.extend((gone, "deleted") for gone in before if gone not in current)
    select = previous.select if previous else parse_select(option(request.args, "select"), MESSAGE_SCHEMA)
    change_type = previous.change_type if previous else request.args.get("changeType")
    if change_type is not None and change_type not in _CHANGE_TYPES:
        raise bad_request(
            f"The value '{change_type}' is not valid for changeType (created, updated, deleted)."
        )
    if change_type:
        changes = [c for c in changes if c[1] == change_type]
    return _Round(box.user_id, folder_id, select, change_type, changes, current, received_filter)


def _token(round_: _Round) -> str:
    """A token naming the round by its content (the same folder state gives the same token)."""
    text = repr(
        (
            round_.mailbox,
            round_.folder_id,
            round_.select,
            round_.change_type,
            round_.changes,
            sorted(round_.baseline.items()),
            round_.received_filter,
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def message_delta(user_ref: str | None, folder_ref: str) -> Response:
    prefs = preferences()
    state, owner, box = open_mailbox(user_ref, "read")
    for name in request.args:
        if name not in _DELTA_OPTIONS:
            raise bad_request(f"The query option '{name}' is not supported by messages delta in the sandbox.")
    rounds = _rounds(state)
    page_size = prefs.max_page_size or int(option(request.args, "top") or 10)
    if prefs.max_page_size:
        apply_page_size_preference(prefs)
    with state.lock:
        folder = find_folder(box, folder_ref)
        skip_token = request.args.get("$skiptoken")
        delta_token = request.args.get("$deltatoken")
        if skip_token is not None:
            token, _, offset_text = skip_token.partition(".")
            current = rounds.get(token)
            if current is None or current.folder_id != folder.id or not offset_text.isdigit():
                raise _sync_state_not_found()
            offset = int(offset_text)
        else:
            previous = None
            if delta_token is not None:
                previous = rounds.get(delta_token)
                if previous is None or previous.folder_id != folder.id or previous.mailbox != box.user_id:
                    raise _sync_state_not_found()
            current = _new_round(box, folder.id, previous)
            token = _token(current)
            rounds[token] = current
            offset = 0
        page = current.changes[offset : offset + page_size]
        values = []
        for message_id, change in page:
            message = box.messages.get(message_id)
            if change == "deleted" or message is None or message["parentFolderId"] != folder.id:
                values.append(
                    {
                        "@odata.type": "#microsoft.graph.message",
                        "id": message_id,
                        "@removed": {"reason": "deleted"},
                    }
                )
            else:
                values.append(render_message(message, current.select, prefs.body_type))
    base = request.base_url
    where = f"mailFolders('{quote(folder_ref, safe='')}')/messages"
    body: dict[str, Any] = {
        "@odata.context": context_url(
            f"{user_segment(user_ref, owner)}/{where}{select_suffix(current.select)}"
        )
    }
    if offset + page_size < len(current.changes):
        body["@odata.nextLink"] = f"{base}?$skiptoken={token}.{offset + page_size}"
    else:
        body["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
    body["value"] = values
    return jsonify(body)


_ROUTES = (
    ("/messages/<message_id>/reply", "POST", reply),
    ("/messages/<message_id>/replyAll", "POST", reply_all),
    ("/messages/<message_id>/forward", "POST", forward),
    ("/messages/<message_id>/createReply", "POST", create_reply),
    ("/messages/<message_id>/createReplyAll", "POST", create_reply_all),
    ("/messages/<message_id>/createForward", "POST", create_forward),
    ("/mailFolders/<folder_ref>/messages/delta", "GET", message_delta),
)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
