"""Messages: list/get/create/update/delete, move/copy, send a draft, sendMail (attachments are in
graph_attachments)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from sandbox import delivery, extended, graph_extensions, meeting_messages, mime_in
from sandbox.errors import (
    GraphError,
    bad_request,
    id_malformed,
    invalid_request_body,
    item_not_found,
)
from sandbox.graph import (
    add_mailbox_routes,
    apply_page_size_preference,
    collection_page,
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
from sandbox.ids import looks_like_graph_id
from sandbox.mailbox import Mailbox, Message
from sandbox.message_model import (
    MESSAGE_SCHEMA,
    attachments_from_payload,
    invalid_recipients,
    message_changes,
    new_message,
    now_stamp,
    render_message,
)
from sandbox.mime import to_mime
from sandbox.odata import option, parse_list_query, parse_select, run_query
from sandbox.state import current_state


def find_message(box: Mailbox, message_id: str) -> Message:
    message = box.messages.get(message_id)
    if message is not None:
        return message
    if not looks_like_graph_id(message_id):
        raise id_malformed()
    raise item_not_found()


def message_expansion() -> extended.Expansion:
    """``$expand``: attachments, a meeting message's event, extended properties and open extensions
    (with their $filter)."""
    others = ("attachments", meeting_messages.EXPAND_EVENT)
    return extended.parse_expand(option(request.args, "expand"), "message", others)


def _messages_context(
    user_ref: str | None,
    owner: dict[str, Any],
    folder_ref: str | None,
    select: list[str] | None,
    single: bool = False,
) -> str:
    where = "messages" if folder_ref is None else f"mailFolders('{folder_ref}')/messages"
    return context_url(
        f"{user_segment(user_ref, owner)}/{where}{select_suffix(select)}{'/$entity' if single else ''}"
    )


# -- reading -------------------------------------------------------------------------------------------
def _list(user_ref: str | None, folder_ref: str | None, child_ref: str | None = None) -> Response:
    prefs = preferences()
    state, owner, box = open_mailbox(user_ref, "read")
    query = parse_list_query(request.args, MESSAGE_SCHEMA, prefs.max_page_size)
    if query.page_size_preference is not None:
        apply_page_size_preference(prefs)
    expansion = message_expansion()
    expand = "attachments" in expansion.others
    with state.lock:
        folder_id = None
        if folder_ref is not None:
            folder_id = find_folder(box, folder_ref).id
            if child_ref is not None:
                child = find_folder(box, child_ref)
                if child.parent_id != folder_id:
                    raise item_not_found()
                folder_id = child.id
        page, total, next_skip = run_query(box.messages_in(folder_id), query, MESSAGE_SCHEMA)
        items_context = context_url(f"{user_segment(user_ref, owner)}/messages")
        values = [
            render_message(
                m,
                query.select,
                prefs.body_type,
                box.attachments_of(m["id"]) if expand else None,
                expansion,
                items_context,
            )
            for m in page
        ]
        if meeting_messages.EXPAND_EVENT in expansion.others:
            values = [
                meeting_messages.expand_event(state, box, m, v, items_context)
                for m, v in zip(page, values, strict=True)
            ]
    context = _messages_context(user_ref, owner, child_ref or folder_ref, query.select)
    return collection_page(context, values, query, MESSAGE_SCHEMA, next_skip, total)


def list_messages(user_ref: str | None) -> Response:
    return _list(user_ref, None)


def list_folder_messages(user_ref: str | None, folder_ref: str) -> Response:
    return _list(user_ref, folder_ref)


def list_child_folder_messages(user_ref: str | None, folder_ref: str, child_ref: str) -> Response:
    return _list(user_ref, folder_ref, child_ref)


def _render_one(
    user_ref: str | None,
    owner: dict[str, Any],
    box: Mailbox,
    message: Message,
    status: int = 200,
    body_type: str | None = None,
    typed: bool = False,
    show_extensions: bool = False,
) -> Response:
    """One message; ``typed`` spells out its ``@odata.type`` first, as move's answer does (message-move);
    ``show_extensions``: the open extensions just created with it, as Graph's create answer shows them."""
    select = parse_select(option(request.args, "select"), MESSAGE_SCHEMA) if request.method == "GET" else None
    expansion = message_expansion()
    if show_extensions:
        expansion.collections.setdefault(extended.OPEN, None)
    attachments = box.attachments_of(message["id"]) if "attachments" in expansion.others else None
    items_context = context_url(f"{user_segment(user_ref, owner)}/messages")
    body = render_message(message, select, body_type, attachments, expansion, items_context)
    if meeting_messages.EXPAND_EVENT in expansion.others:
        body = meeting_messages.expand_event(current_state(), box, message, body, items_context)
    if typed:
        body = {"@odata.type": "#microsoft.graph.message", **body}
    return entity(_messages_context(user_ref, owner, None, select, single=True), body, status)


def get_message(user_ref: str | None, message_id: str) -> Response:
    prefs = preferences()
    state, owner, box = open_mailbox(user_ref, "read")
    with state.lock:
        return _render_one(user_ref, owner, box, find_message(box, message_id), body_type=prefs.body_type)


def get_folder_message(user_ref: str | None, folder_ref: str, message_id: str) -> Response:
    prefs = preferences()
    state, owner, box = open_mailbox(user_ref, "read")
    with state.lock:
        folder = find_folder(box, folder_ref)
        message = find_message(box, message_id)
        if message["parentFolderId"] != folder.id:
            raise item_not_found()
        return _render_one(user_ref, owner, box, message, body_type=prefs.body_type)


# -- writing -------------------------------------------------------------------------------------------
def _create(user_ref: str | None, folder_ref: str | None) -> Response:
    prefs = preferences()
    state, owner, box = open_mailbox(user_ref, "write")
    payload = mime_in.read_message_payload() if mime_in.is_mime_request() else json_body()
    changes = message_changes(payload, is_draft=True, creating=True)
    with state.lock:
        folder = find_folder(box, folder_ref or "drafts")
        message = new_message(box, folder.id, changes, is_draft=True)
        attachments = attachments_from_payload(payload, box, message["id"])
        message["hasAttachments"] = any(not a["isInline"] for a in attachments)
        box.put_message(message, attachments or None)
        shown = bool(message.get(extended.OPEN))
        return _render_one(user_ref, owner, box, message, 201, prefs.body_type, show_extensions=shown)


def create_message(user_ref: str | None) -> Response:
    return _create(user_ref, None)


def create_folder_message(user_ref: str | None, folder_ref: str) -> Response:
    return _create(user_ref, folder_ref)


def update_message(user_ref: str | None, message_id: str) -> Response:
    prefs = preferences()
    state, owner, box = open_mailbox(user_ref, "write")
    payload = json_body()
    with state.lock:
        message = find_message(box, message_id)
        changes = message_changes(payload, is_draft=message["isDraft"], creating=False, current=message)
        updated = box.update_message(message_id, {**changes, "lastModifiedDateTime": now_stamp()})
        return _render_one(user_ref, owner, box, updated, body_type=prefs.body_type)


def _move(box: Mailbox, message: Message, folder_id: str, keep_id: bool) -> Message:
    """Move a message; like Exchange, it gets a new id unless the client asked for immutable ids."""
    if keep_id:
        return box.update_message(
            message["id"], {"parentFolderId": folder_id, "lastModifiedDateTime": now_stamp()}
        )
    moved = box.store_copy(
        message, folder_id, box.attachments_of(message["id"]), lastModifiedDateTime=now_stamp()
    )
    box.remove_message(message["id"])
    return moved


def delete_message(user_ref: str | None, message_id: str) -> Response:
    """Moves the message to Deleted Items; deleting it from there removes it (permanentDelete is apart)."""
    prefs = preferences()
    state, _owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        message = find_message(box, message_id)
        deleted_items = box.folder("deleteditems").id
        if box.is_within(message["parentFolderId"], deleted_items):
            box.remove_message(message_id)
        else:
            _move(box, message, deleted_items, prefs.immutable_ids)
    return no_content()


def permanent_delete_message(user_ref: str | None, message_id: str) -> Response:
    state, _owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        find_message(box, message_id)
        box.remove_message(message_id)
    return no_content()


def _destination(box: Mailbox) -> str:
    payload = json_body()
    if not isinstance(payload, dict) or not isinstance(payload.get("destinationId"), str):
        raise GraphError(400, "ErrorInvalidParameter", "The value of the parameter 'DestinationId' is empty.")
    for name in payload:
        if name != "destinationId":
            raise invalid_request_body(name, "microsoft.graph.move")
    return find_folder(box, payload["destinationId"]).id


def move_message(user_ref: str | None, message_id: str) -> Response:
    prefs = preferences()
    state, owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        message = find_message(box, message_id)
        moved = _move(box, message, _destination(box), prefs.immutable_ids)
        return _render_one(user_ref, owner, box, moved, 201, prefs.body_type, typed=True)


def copy_message(user_ref: str | None, message_id: str) -> Response:
    prefs = preferences()
    state, owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        message = find_message(box, message_id)
        stamp = now_stamp()
        copy = box.store_copy(
            message,
            _destination(box),
            box.attachments_of(message_id),
            createdDateTime=stamp,
            lastModifiedDateTime=stamp,
        )
        return _render_one(user_ref, owner, box, copy, 201, prefs.body_type)


# -- sending -------------------------------------------------------------------------------------------
def _check_sendable(message: Message) -> None:
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


def send_draft(user_ref: str | None, message_id: str) -> Response:
    state, _owner, box = open_mailbox(user_ref, "send")
    with state.lock:
        message = find_message(box, message_id)
        if not message["isDraft"]:
            raise GraphError(400, "ErrorInvalidRequest", "Only draft messages can be sent.")
        _check_sendable(message)
        attachments = box.attachments_of(message_id)
        box.remove_message(message_id)
        delivery.submit(state, box, message, attachments, save_to_sent_items=True)
    return no_content(202)


def _save_to_sent_items(payload: dict[str, Any]) -> bool:
    value = payload.get("saveToSentItems", True)
    if value is None:
        return True
    if not isinstance(value, bool):
        raise bad_request(
            f"Cannot convert the literal '{value}' to the expected type 'Edm.Boolean'.", "RequestBodyRead"
        )
    return value


def send_mail(user_ref: str | None) -> Response:
    state, _owner, box = open_mailbox(user_ref, "send")
    if mime_in.is_mime_request():
        payload: Any = {"message": mime_in.read_message_payload()}
    else:
        payload = json_body()
    if not isinstance(payload, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    for name in payload:
        if name not in ("message", "saveToSentItems"):
            raise invalid_request_body(name, "microsoft.graph.sendMail")
    if not isinstance(payload.get("message"), dict):
        raise GraphError(400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
    save = _save_to_sent_items(payload)
    changes = message_changes(payload["message"], is_draft=True, creating=True)
    with state.lock:
        message = new_message(box, box.well_known["sentitems"], changes, is_draft=False)
        attachments = attachments_from_payload(payload["message"], box, message["id"])
        message["hasAttachments"] = any(not a["isInline"] for a in attachments)
        _check_sendable(message)
        delivery.submit(state, box, message, attachments, save_to_sent_items=save)
    return no_content(202)


def get_message_value(user_ref: str | None, message_id: str) -> Response:
    state, _owner, box = open_mailbox(user_ref, "read")
    with state.lock:
        message = find_message(box, message_id)
        mime = to_mime(message, box.attachments_of(message_id))
    return Response(mime, mimetype="text/plain")


_ROUTES = (
    ("/messages", "GET", list_messages),
    ("/messages", "POST", create_message),
    ("/messages/<message_id>", "GET", get_message),
    ("/messages/<message_id>", "PATCH", update_message),
    ("/messages/<message_id>", "DELETE", delete_message),
    ("/messages/<message_id>/$value", "GET", get_message_value),
    ("/messages/<message_id>/permanentDelete", "POST", permanent_delete_message),
    ("/messages/<message_id>/send", "POST", send_draft),
    ("/messages/<message_id>/move", "POST", move_message),
    ("/messages/<message_id>/copy", "POST", copy_message),
    ("/mailFolders/<folder_ref>/messages", "GET", list_folder_messages),
    ("/mailFolders/<folder_ref>/messages", "POST", create_folder_message),
    ("/mailFolders/<folder_ref>/messages/<message_id>", "GET", get_folder_message),
    ("/mailFolders/<folder_ref>/childFolders/<child_ref>/messages", "GET", list_child_folder_messages),
    ("/sendMail", "POST", send_mail),
)


def _load_for_extensions(
    user_ref: str | None, message_id: str, write: bool
) -> tuple[Any, dict[str, Any], Message]:
    state, owner, box = open_mailbox(user_ref, "write" if write else "read")
    with state.lock:
        return state, owner, find_message(box, message_id)


def _save_extensions(user_ref: str | None, message: Message, extensions: list[dict[str, Any]]) -> None:
    _state, _owner, box = open_mailbox(user_ref, "write")
    box.update_message(message["id"], {extended.OPEN: extensions, "lastModifiedDateTime": now_stamp()})


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
    graph_extensions.register(
        bp, graph_extensions.ItemAccess("messages", _load_for_extensions, _save_extensions)
    )
