"""The master list of categories: ``/outlook/masterCategories`` (list, create, get, update, delete)."""

from __future__ import annotations

import random
import re
from typing import Any

from flask import Blueprint, Response

from sandbox.errors import GraphError, bad_request, invalid_request_body, item_not_found
from sandbox.graph import add_mailbox_routes, collection, context_url, entity, no_content, user_segment
from sandbox.graph_settings import mailbox_data, object_body, open_with
from sandbox.ids import guid
from sandbox.mailbox import Mailbox

_READ = {"MailboxSettings.Read", "MailboxSettings.ReadWrite"}
_WRITE = {"MailboxSettings.ReadWrite"}
_COLOR = re.compile(r"^(none|preset(\d|1\d|2[0-4]))$")
SEEDED_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("Follow up", "preset0"),
    ("Customers", "preset1"),
    ("Travel", "preset3"),
    ("Budget", "preset4"),
    ("Team", "preset7"),
    ("Personal", "preset8"),
)
"""The sandbox's own starting categories (also used to tag seeded messages' names)."""


def _seed(box: Mailbox) -> dict[str, dict[str, Any]]:
    rng = random.Random(f"categories:{box.user_id}")
    categories = [{"id": guid(rng), "displayName": name, "color": color} for name, color in SEEDED_CATEGORIES]
    return {c["id"]: c for c in categories}


def _categories(box: Mailbox) -> dict[str, dict[str, Any]]:
    return mailbox_data(box, "masterCategories", _seed)


def _id_source(box: Mailbox) -> random.Random:
    return mailbox_data(box, "categoryIds", lambda b: random.Random(f"category-ids:{b.user_id}"))


def _context(user_ref: str | None, owner: dict[str, Any], entity_suffix: bool = True) -> str:
    suffix = "/$entity" if entity_suffix else ""
    return context_url(f"{user_segment(user_ref, owner)}/outlook/masterCategories{suffix}")


def _find(box: Mailbox, category_id: str) -> dict[str, Any]:
    found = _categories(box).get(category_id.lower())
    if found is None:
        raise item_not_found()
    return found


def _color(value: Any) -> str:
    if not isinstance(value, str) or not _COLOR.match(value):
        raise bad_request(f"Requested value '{value}' was not found.", "RequestBodyRead")
    return value


def list_categories(user_ref: str | None) -> Response:
    state, owner, box = open_with(user_ref, _READ, _READ)
    with state.lock:
        values = [dict(c) for c in _categories(box).values()]
    return collection(_context(user_ref, owner, False), values)


def create_category(user_ref: str | None) -> Response:
    state, owner, box = open_with(user_ref, _WRITE, _WRITE)
    fields = object_body()
    for field in fields:
        if field not in ("displayName", "color"):
            raise invalid_request_body(field, "outlookCategory")
    name = fields.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise GraphError(400, "ErrorInvalidRequest", "The category display name can't be empty.")
    color = _color(fields.get("color", "none"))
    with state.lock:
        categories = _categories(box)
        if any(c["displayName"].lower() == name.strip().lower() for c in categories.values()):
            raise GraphError(409, "ErrorAlreadyExists", "A category with this display name already exists.")
        category = {"id": guid(_id_source(box)), "displayName": name.strip(), "color": color}
        categories[category["id"]] = category
    return entity(_context(user_ref, owner), dict(category), 201)


def get_category(user_ref: str | None, category_id: str) -> Response:
    state, owner, box = open_with(user_ref, _READ, _READ)
    with state.lock:
        category = dict(_find(box, category_id))
    return entity(_context(user_ref, owner), category)


def update_category(user_ref: str | None, category_id: str) -> Response:
    state, owner, box = open_with(user_ref, _WRITE, _WRITE)
    fields = object_body()
    with state.lock:
        category = _find(box, category_id)
        for name, value in fields.items():
            if name == "color":
                category["color"] = _color(value)
            elif name == "displayName":
                if value != category["displayName"]:
                    raise GraphError(
                        400, "ErrorInvalidRequest", "The display name of a category cannot be changed."
                    )
            else:
                raise invalid_request_body(name, "outlookCategory")
        body = dict(category)
    return entity(_context(user_ref, owner), body)


def delete_category(user_ref: str | None, category_id: str) -> Response:
    state, _owner, box = open_with(user_ref, _WRITE, _WRITE)
    with state.lock:
        category = _find(box, category_id)
        del _categories(box)[category["id"]]
    return no_content()


_ROUTES = (
    ("/outlook/masterCategories", "GET", list_categories),
    ("/outlook/masterCategories", "POST", create_category),
    ("/outlook/masterCategories/<category_id>", "GET", get_category),
    ("/outlook/masterCategories/<category_id>", "PATCH", update_category),
    ("/outlook/masterCategories/<category_id>", "DELETE", delete_category),
)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
