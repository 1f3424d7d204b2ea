"""Mail folder delta, permanentDelete of a folder, and the Inbox's message rules (list, create, get,
update, delete; rules are kept, not run)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from sandbox import item_delta
from sandbox.errors import GraphError, bad_request, invalid_request_body, item_not_found
from sandbox.graph import (
    add_mailbox_routes,
    collection,
    context_url,
    entity,
    json_body,
    no_content,
    open_mailbox,
    user_segment,
)
from sandbox.graph_folders import find_folder, render_folder
from sandbox.graph_settings import mailbox_data
from sandbox.mailbox import ROOT, Mailbox


# -- delta and permanentDelete ------------------------------------------------------------------------------
def folder_delta(user_ref: str | None) -> Response:
    state, owner, box = open_mailbox(user_ref, "read")
    with state.lock:
        counts, children = box.folder_counts(), box.child_counts()
        root = box.well_known.get(ROOT)
        shown = {
            f.id: render_folder(box, f, counts, children)
            for f in box.folders.values()
            if not f.is_hidden and f.id != root  # the folders under the root, as Graph's delta lists
        }
        snapshot = {folder_id: repr(sorted(value.items())) for folder_id, value in shown.items()}
        return item_delta.delta(
            state,
            f"folders:{box.user_id}",
            snapshot,
            lambda folder_id: shown[folder_id],
            "#microsoft.graph.mailFolder",
            context_url(f"{user_segment(user_ref, owner)}/mailFolders/$delta"),
        )


def permanent_delete_folder(user_ref: str | None, folder_ref: str) -> Response:
    """The folder and all it holds are gone at once (not moved to Deleted Items)."""
    state, _owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        folder = find_folder(box, folder_ref)
        if folder.well_known:
            raise GraphError(
                400, "ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted."
            )
        box.remove_folder_tree(folder.id)
    return no_content()


# -- message rules ------------------------------------------------------------------------------------------
_RULE_FIELDS = (
    "displayName",
    "sequence",
    "isEnabled",
    "conditions",
    "actions",
    "exceptions",
    "hasError",
    "isReadOnly",
)


def _rules(box: Mailbox) -> dict[str, dict[str, Any]]:
    return mailbox_data(box, "messageRules", lambda _box: {})


def _rule_fields(payload: Any, creating: bool) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    fields: dict[str, Any] = {}
    for name, value in payload.items():
        if name.startswith("@odata.") or name == "id":
            continue
        if name not in _RULE_FIELDS:
            raise invalid_request_body(name, "messageRule")
        fields[name] = value
    if creating and not isinstance(fields.get("displayName"), str):
        raise bad_request("The displayName of a message rule is required.", "ErrorInvalidRequest")
    if creating and not isinstance(fields.get("sequence"), int):
        raise bad_request("The sequence of a message rule is required (an integer).", "ErrorInvalidRequest")
    for name in ("conditions", "actions", "exceptions"):
        if name in fields and not isinstance(fields[name], dict):
            raise bad_request(f"Invalid value for property '{name}'.", "RequestBodyRead")
    return fields


def _inbox_rules(user_ref: str | None, folder_ref: str, write: bool) -> tuple[Any, dict[str, Any], Mailbox]:
    state, owner, box = open_mailbox(user_ref, "write" if write else "read")
    with state.lock:
        if find_folder(box, folder_ref).id != box.well_known["inbox"]:
            raise GraphError(400, "ErrorInvalidRequest", "Message rules belong to the Inbox.")
    return state, owner, box


def _rules_context(user_ref: str | None, owner: dict[str, Any], one: bool = False) -> str:
    return context_url(
        f"{user_segment(user_ref, owner)}/mailFolders('inbox')/messageRules{'/$entity' if one else ''}"
    )


def list_rules(user_ref: str | None, folder_ref: str) -> Response:
    state, owner, box = _inbox_rules(user_ref, folder_ref, False)
    with state.lock:
        values = sorted(_rules(box).values(), key=lambda r: r["sequence"])
    return collection(_rules_context(user_ref, owner), values)


def create_rule(user_ref: str | None, folder_ref: str) -> Response:
    fields = _rule_fields(json_body(), creating=True)
    state, owner, box = _inbox_rules(user_ref, folder_ref, True)
    with state.lock:
        rule = {
            "id": box.ids.folder_id().replace("AQMk", "AQAAA", 1),
            "displayName": fields["displayName"],
            "sequence": fields["sequence"],
            "isEnabled": bool(fields.get("isEnabled", True)),
            "hasError": False,
            "isReadOnly": False,
            "conditions": fields.get("conditions") or {},
            "actions": fields.get("actions") or {},
            "exceptions": fields.get("exceptions") or {},
        }
        _rules(box)[rule["id"]] = rule
    return entity(_rules_context(user_ref, owner, True), rule, 201)


def _find_rule(box: Mailbox, rule_id: str) -> dict[str, Any]:
    rule = _rules(box).get(rule_id)
    if rule is None:
        raise item_not_found()
    return rule


def get_rule(user_ref: str | None, folder_ref: str, rule_id: str) -> Response:
    state, owner, box = _inbox_rules(user_ref, folder_ref, False)
    with state.lock:
        rule = dict(_find_rule(box, rule_id))
    return entity(_rules_context(user_ref, owner, True), rule)


def update_rule(user_ref: str | None, folder_ref: str, rule_id: str) -> Response:
    fields = _rule_fields(json_body(), creating=False)
    state, owner, box = _inbox_rules(user_ref, folder_ref, True)
    with state.lock:
        rule = {**_find_rule(box, rule_id), **fields}
        _rules(box)[rule_id] = rule
    return entity(_rules_context(user_ref, owner, True), rule)


def delete_rule(user_ref: str | None, folder_ref: str, rule_id: str) -> Response:
    state, _owner, box = _inbox_rules(user_ref, folder_ref, True)
    with state.lock:
        _find_rule(box, rule_id)
        del _rules(box)[rule_id]
    return no_content()


_ROUTES = (
    ("/mailFolders/delta", "GET", folder_delta),
    ("/mailFolders/<folder_ref>/permanentDelete", "POST", permanent_delete_folder),
    ("/mailFolders/<folder_ref>/messageRules", "GET", list_rules),
    ("/mailFolders/<folder_ref>/messageRules", "POST", create_rule),
    ("/mailFolders/<folder_ref>/messageRules/<rule_id>", "GET", get_rule),
    ("/mailFolders/<folder_ref>/messageRules/<rule_id>", "PATCH", update_rule),
    ("/mailFolders/<folder_ref>/messageRules/<rule_id>", "DELETE", delete_rule),
)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
