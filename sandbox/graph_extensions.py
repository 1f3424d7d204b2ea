"""Open extensions of messages, events and contacts: ``/{items}/{id}/extensions`` (list, create) and
``/{items}/{id}/extensions/{name or id}`` (get, update, delete).

Each resource module hands over how to find and store its items (an ``ItemAccess``); the extension
records themselves are built in ``sandbox.extended``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response

from sandbox import extended
from sandbox.errors import GraphError, item_not_found
from sandbox.graph import (
    add_mailbox_routes,
    collection,
    context_url,
    entity,
    json_body,
    no_content,
    user_segment,
)
from sandbox.state import SandboxState

Load = Callable[[str | None, str, bool], tuple[SandboxState, dict[str, Any], dict[str, Any]]]
"""(user_ref, item id, for writing) -> (state, owner, item); raises Graph's errors (404, 403...)."""
Save = Callable[[str | None, dict[str, Any], list[dict[str, Any]]], None]
"""(user_ref, item, its new extensions): store them (under ``state.lock``)."""


@dataclass(frozen=True)
class ItemAccess:
    collection: str  # "messages", "events", "contacts"
    load: Load
    save: Save


def _context(access: ItemAccess, user_ref: str | None, owner: dict[str, Any], item_id: str, one: bool) -> str:
    item = quote(item_id, safe="")
    suffix = "/$entity" if one else ""
    return context_url(f"{user_segment(user_ref, owner)}/{access.collection}('{item}')/extensions{suffix}")


def _not_found() -> GraphError:
    return item_not_found()


def register(bp: Blueprint, access: ItemAccess) -> None:
    """Serve the extension routes of one item collection under /me and /users/{id}."""

    def list_extensions(user_ref: str | None, item_id: str) -> Response:
        state, owner, item = access.load(user_ref, item_id, False)
        with state.lock:
            values = [dict(e) for e in item.get(extended.OPEN) or []]
        return collection(_context(access, user_ref, owner, item_id, False), values)

    def create_extension(user_ref: str | None, item_id: str) -> Response:
        new = extended.new_extension(json_body())
        state, owner, item = access.load(user_ref, item_id, True)
        with state.lock:
            if extended.find_extension(item, new["extensionName"]) is not None:
                raise GraphError(
                    409, "ErrorDuplicatePropertyName", "An extension with this name already exists."
                )
            access.save(user_ref, item, [*(item.get(extended.OPEN) or []), new])
        return entity(_context(access, user_ref, owner, item_id, True), new, 201)

    def get_extension(user_ref: str | None, item_id: str, extension_ref: str) -> Response:
        state, owner, item = access.load(user_ref, item_id, False)
        with state.lock:
            found = extended.find_extension(item, extension_ref)
        if found is None:
            raise _not_found()
        return entity(_context(access, user_ref, owner, item_id, True), found)

    def update_extension(user_ref: str | None, item_id: str, extension_ref: str) -> Response:
        payload = json_body()
        state, owner, item = access.load(user_ref, item_id, True)
        with state.lock:
            found = extended.find_extension(item, extension_ref)
            if found is None:
                raise _not_found()
            updated = extended.updated_extension(found, payload)
            kept = [e for e in item.get(extended.OPEN) or [] if e["id"] != found["id"]]
            access.save(user_ref, item, [*kept, updated])
        return entity(_context(access, user_ref, owner, item_id, True), updated)

    def delete_extension(user_ref: str | None, item_id: str, extension_ref: str) -> Response:
        state, _owner, item = access.load(user_ref, item_id, True)
        with state.lock:
            found = extended.find_extension(item, extension_ref)
            if found is None:
                raise _not_found()
            access.save(user_ref, item, [e for e in item.get(extended.OPEN) or [] if e["id"] != found["id"]])
        return no_content()

    for view in (list_extensions, create_extension, get_extension, update_extension, delete_extension):
        view.__name__ = f"{access.collection}_{view.__name__}"
    base = f"/{access.collection}/<item_id>/extensions"
    add_mailbox_routes(
        bp,
        (
            (base, "GET", list_extensions),
            (base, "POST", create_extension),
            (base + "/<extension_ref>", "GET", get_extension),
            (base + "/<extension_ref>", "PATCH", update_extension),
            (base + "/<extension_ref>", "DELETE", delete_extension),
        ),
    )
