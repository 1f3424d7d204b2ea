"""Mail folders: list, get (by id or well-known name), childFolders, create, rename, delete, move, copy."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from sandbox.errors import GraphError, bad_request, id_malformed, invalid_request_body, item_not_found
from sandbox.graph import (
    add_mailbox_routes,
    collection_page,
    context_url,
    entity,
    json_body,
    no_content,
    open_mailbox,
    select_suffix,
    user_segment,
)
from sandbox.ids import looks_like_graph_id
from sandbox.mailbox import ROOT, FolderRecord, Mailbox
from sandbox.odata import Schema, apply_select, option, parse_list_query, parse_select, run_query

FOLDER_SCHEMA = Schema(
    entity="mailFolder",
    selectable=(
        "id",
        "displayName",
        "parentFolderId",
        "childFolderCount",
        "unreadItemCount",
        "totalItemCount",
        "isHidden",
    ),
    filterable={
        "displayName": "string",
        "isHidden": "bool",
        "childFolderCount": "int",
        "unreadItemCount": "int",
        "totalItemCount": "int",
    },
    sortable=frozenset({"displayName", "totalItemCount", "unreadItemCount"}),
    default_top=10,
    max_top=1000,
    default_orderby=(("displayName", False),),
)
_WRITABLE = {"displayName", "isHidden"}


def render_folder(
    box: Mailbox,
    folder: FolderRecord,
    counts: dict[str, tuple[int, int]] | None = None,
    children: dict[str, int] | None = None,
) -> dict[str, Any]:
    counts = box.folder_counts() if counts is None else counts
    children = box.child_counts() if children is None else children
    total, unread = counts.get(folder.id, (0, 0))
    return {
        "id": folder.id,
        "displayName": folder.display_name,
        "parentFolderId": folder.parent_id,
        "childFolderCount": children.get(folder.id, 0),
        "unreadItemCount": unread,
        "totalItemCount": total,
        "isHidden": folder.is_hidden,
    }


def find_folder(box: Mailbox, ref: str) -> FolderRecord:
    """A folder by id or well-known name, or Graph's 400 (malformed id) / 404 (no such folder)."""
    folder = box.resolve_folder(ref)
    if folder is not None:
        return folder
    if not looks_like_graph_id(ref):
        raise id_malformed()
    raise item_not_found()


def _list(user_ref: str | None, parent_ref: str | None) -> Response:
    state, owner, box = open_mailbox(user_ref, "folders")
    query = parse_list_query(request.args, FOLDER_SCHEMA)
    include_hidden = request.args.get("includeHiddenFolders", "").lower() == "true"
    with state.lock:
        parent = find_folder(box, parent_ref or ROOT)
        counts, children = box.folder_counts(), box.child_counts()
        folders = [
            render_folder(box, f, counts, children) for f in box.child_folders(parent.id, include_hidden)
        ]
    page, total, next_skip = run_query(folders, query, FOLDER_SCHEMA)
    where = "mailFolders" if parent_ref is None else f"mailFolders('{parent_ref}')/childFolders"
    context = context_url(f"{user_segment(user_ref, owner)}/{where}{select_suffix(query.select)}")
    return collection_page(
        context, [apply_select(f, query.select) for f in page], query, FOLDER_SCHEMA, next_skip, total
    )


def list_folders(user_ref: str | None) -> Response:
    return _list(user_ref, None)


def list_child_folders(user_ref: str | None, folder_ref: str) -> Response:
    return _list(user_ref, folder_ref)


def _get(user_ref: str | None, folder: FolderRecord, owner: dict[str, Any], box: Mailbox) -> Response:
    select = parse_select(option(request.args, "select"), FOLDER_SCHEMA)
    context = context_url(f"{user_segment(user_ref, owner)}/mailFolders{select_suffix(select)}/$entity")
    return entity(context, apply_select(render_folder(box, folder), select))


def get_folder(user_ref: str | None, folder_ref: str) -> Response:
    state, owner, box = open_mailbox(user_ref, "folders")
    with state.lock:
        return _get(user_ref, find_folder(box, folder_ref), owner, box)


def get_child_folder(user_ref: str | None, folder_ref: str, child_ref: str) -> Response:
    state, owner, box = open_mailbox(user_ref, "folders")
    with state.lock:
        parent = find_folder(box, folder_ref)
        child = find_folder(box, child_ref)
        if child.parent_id != parent.id:
            raise item_not_found()
        return _get(user_ref, child, owner, box)


def _folder_fields(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    fields: dict[str, Any] = {}
    for name, value in payload.items():
        if name.startswith("@odata."):
            continue
        if name not in FOLDER_SCHEMA.selectable:
            raise invalid_request_body(name, "mailFolder")
        if name not in _WRITABLE:
            continue
        if name == "displayName" and (not isinstance(value, str) or not value.strip()):
            raise GraphError(400, "ErrorInvalidRequest", "The folder display name can't be empty.")
        if name == "isHidden" and not isinstance(value, bool):
            raise bad_request(
                "Cannot convert the literal value of 'isHidden' to 'Edm.Boolean'.", "RequestBodyRead"
            )
        fields[name] = value
    return fields


def _check_unique(box: Mailbox, parent_id: str, name: str, exclude: str | None = None) -> None:
    for sibling in box.child_folders(parent_id, include_hidden=True):
        if sibling.display_name.lower() == name.lower() and sibling.id != exclude:
            raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")


def _create(user_ref: str | None, parent_ref: str | None) -> Response:
    state, owner, box = open_mailbox(user_ref, "write")
    fields = _folder_fields(json_body())
    if "displayName" not in fields:
        raise GraphError(400, "ErrorInvalidRequest", "The folder display name can't be empty.")
    with state.lock:
        parent = find_folder(box, parent_ref or ROOT)
        _check_unique(box, parent.id, fields["displayName"])
        folder = box.add_folder(
            fields["displayName"].strip(), parent.id, is_hidden=fields.get("isHidden", False)
        )
        body = render_folder(box, folder)
    return entity(context_url(f"{user_segment(user_ref, owner)}/mailFolders/$entity"), body, 201)


def create_folder(user_ref: str | None) -> Response:
    return _create(user_ref, None)


def create_child_folder(user_ref: str | None, folder_ref: str) -> Response:
    return _create(user_ref, folder_ref)


def update_folder(user_ref: str | None, folder_ref: str) -> Response:
    state, owner, box = open_mailbox(user_ref, "write")
    fields = _folder_fields(json_body())
    with state.lock:
        folder = find_folder(box, folder_ref)
        if folder.well_known and "displayName" in fields:
            raise GraphError(400, "ErrorInvalidRequest", "A distinguished folder can't be renamed.")
        if "displayName" in fields:
            _check_unique(box, folder.parent_id, fields["displayName"], exclude=folder.id)
            folder = box.update_folder(folder.id, display_name=fields["displayName"].strip())
        if "isHidden" in fields:
            folder = box.update_folder(folder.id, is_hidden=fields["isHidden"])
        body = render_folder(box, folder)
    return entity(context_url(f"{user_segment(user_ref, owner)}/mailFolders/$entity"), body)


def delete_folder(user_ref: str | None, folder_ref: str) -> Response:
    """Moves the folder to Deleted Items; deleting it there removes it for good (like Outlook)."""
    state, _owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        folder = find_folder(box, folder_ref)
        if folder.well_known:
            raise GraphError(
                400, "ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted."
            )
        deleted_items = box.folder("deleteditems")
        if box.is_within(folder.id, deleted_items.id):
            box.remove_folder_tree(folder.id)
        else:
            name = folder.display_name
            taken = {f.display_name.lower() for f in box.child_folders(deleted_items.id, include_hidden=True)}
            suffix = 1
            while name.lower() in taken:
                suffix += 1
                name = f"{folder.display_name} {suffix}"
            box.update_folder(folder.id, parent_id=deleted_items.id, display_name=name)
    return no_content()


def delete_child_folder(user_ref: str | None, folder_ref: str, child_ref: str) -> Response:
    state, _owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        parent, child = find_folder(box, folder_ref), find_folder(box, child_ref)
        if child.parent_id != parent.id:
            raise item_not_found()
    return delete_folder(user_ref, child_ref)


def _destination(box: Mailbox) -> FolderRecord:
    payload = json_body()
    if not isinstance(payload, dict) or not isinstance(payload.get("destinationId"), str):
        raise GraphError(400, "ErrorInvalidRequest", "The destinationId parameter is required.")
    for name in payload:
        if name != "destinationId":
            raise invalid_request_body(name, "mailFolder")
    destination = box.resolve_folder(payload["destinationId"])
    if destination is None:
        raise GraphError(404, "ErrorItemNotFound", "The specified destination folder could not be found.")
    return destination


def _movable(box: Mailbox, folder_ref: str, destination: FolderRecord) -> FolderRecord:
    folder = find_folder(box, folder_ref)
    if folder.well_known:
        raise GraphError(400, "ErrorMoveDistinguishedFolder", "Distinguished folders cannot be moved.")
    if box.is_within(destination.id, folder.id):
        raise GraphError(400, "ErrorMoveCopyFailed", "A folder cannot be moved or copied into itself.")
    return folder


def move_folder(user_ref: str | None, folder_ref: str) -> Response:
    state, owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        destination = _destination(box)
        folder = _movable(box, folder_ref, destination)
        if folder.parent_id != destination.id:
            _check_unique(box, destination.id, folder.display_name)
            folder = box.update_folder(folder.id, parent_id=destination.id)
        body = render_folder(box, folder)
    return entity(context_url(f"{user_segment(user_ref, owner)}/mailFolders/$entity"), body)


def _copy_tree(box: Mailbox, folder: FolderRecord, parent_id: str) -> FolderRecord:
    copy = box.add_folder(folder.display_name, parent_id, is_hidden=folder.is_hidden)
    for message in box.messages_in(folder.id):
        box.store_copy(message, copy.id, box.attachments_of(message["id"]))
    for child in box.child_folders(folder.id, include_hidden=True):
        _copy_tree(box, child, copy.id)
    return copy


def copy_folder(user_ref: str | None, folder_ref: str) -> Response:
    state, owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        destination = _destination(box)
        folder = _movable(box, folder_ref, destination)
        _check_unique(box, destination.id, folder.display_name)
        copy = _copy_tree(box, folder, destination.id)
        body = render_folder(box, copy)
    return entity(context_url(f"{user_segment(user_ref, owner)}/mailFolders/$entity"), body)


_ROUTES = (
    ("/mailFolders", "GET", list_folders),
    ("/mailFolders", "POST", create_folder),
    ("/mailFolders/<folder_ref>", "GET", get_folder),
    ("/mailFolders/<folder_ref>", "PATCH", update_folder),
    ("/mailFolders/<folder_ref>", "DELETE", delete_folder),
    ("/mailFolders/<folder_ref>/childFolders", "GET", list_child_folders),
    ("/mailFolders/<folder_ref>/childFolders", "POST", create_child_folder),
    ("/mailFolders/<folder_ref>/childFolders/<child_ref>", "GET", get_child_folder),
    ("/mailFolders/<folder_ref>/childFolders/<child_ref>", "DELETE", delete_child_folder),
    ("/mailFolders/<folder_ref>/move", "POST", move_folder),
    ("/mailFolders/<folder_ref>/copy", "POST", copy_folder),
)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
