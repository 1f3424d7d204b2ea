"""Directory users: ``GET /me``, ``GET /users/{id or UPN}``, ``GET /users``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from sandbox import seed
from sandbox.auth import require_directory, resolve_user
from sandbox.graph import collection_page, context_url, entity, principal, select_suffix
from sandbox.odata import Schema, apply_select, option, parse_list_query, parse_select, run_query
from sandbox.state import current_state

_DEFAULT_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
_MORE_PROPERTIES = (
    "accountEnabled",
    "city",
    "companyName",
    "country",
    "createdDateTime",
    "department",
    "employeeId",
    "mailNickname",
    "otherMails",
    "postalCode",
    "proxyAddresses",
    "state",
    "streetAddress",
    "usageLocation",
    "userType",
)

USER_SCHEMA = Schema(
    entity="user",
    selectable=(*_DEFAULT_PROPERTIES, *_MORE_PROPERTIES),
    filterable={
        "displayName": "string",
        "givenName": "string",
        "surname": "string",
        "mail": "string",
        "userPrincipalName": "string",
        "jobTitle": "string",
        "id": "string",
        "accountEnabled": "bool",
        "userType": "string",
    },
    sortable=frozenset({"displayName", "userPrincipalName"}),
    default_top=100,
    max_top=999,
    skip_tokens=True,
    top_error=(
        "Request_BadRequest",
        "Invalid page size specified: '{top}'. Must be between 1 and {max} inclusive.",
    ),
)


def _full_user(user: dict[str, Any]) -> dict[str, Any]:
    """Every property we know of a directory user (the defaults plus the $select-only ones)."""
    alias = str(user["mail"]).split("@")[0]
    is_shared = user["id"] == seed.SHARED_MAILBOX_USER["id"]
    return {
        **user,
        "accountEnabled": not is_shared,
        "city": None if is_shared else "Seattle",
        "companyName": seed.TENANT_NAME,
        "country": None if is_shared else "United States",
        "createdDateTime": "2023-02-01T09:00:00Z",
        "department": None if is_shared else str(user["jobTitle"]).split()[0],
        "employeeId": None,
        "mailNickname": alias,
        "otherMails": [],
        "postalCode": None,
        "proxyAddresses": [f"SMTP:{user['mail']}"],
        "state": None,
        "streetAddress": None,
        "usageLocation": None if is_shared else "US",
        "userType": "Member",
    }


def _render(full: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    """A user as Graph returns it: the default properties, or exactly the selected ones."""
    if select is None:
        return {name: full[name] for name in _DEFAULT_PROPERTIES}
    return apply_select(full, select, keep_id=False)


def get_user(user_ref: str | None) -> Response:
    who = principal()
    user = resolve_user(current_state(), who, user_ref, mailbox=False)
    require_directory(who, user)
    select = parse_select(option(request.args, "select"), USER_SCHEMA)
    return entity(context_url(f"users{select_suffix(select)}/$entity"), _render(_full_user(user), select))


def list_users() -> Response:
    require_directory(principal(), None)
    query = parse_list_query(request.args, USER_SCHEMA)
    users = [_full_user(user) for user in seed.DIRECTORY]
    page, total, next_skip = run_query(users, query, USER_SCHEMA)
    values = [_render(user, query.select) for user in page]
    return collection_page(
        context_url(f"users{select_suffix(query.select)}"), values, query, USER_SCHEMA, next_skip, total
    )


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/me", "me_get_user", get_user, methods=["GET"], defaults={"user_ref": None})
    bp.add_url_rule("/users/<user_ref>", "users_get_user", get_user, methods=["GET"])
    bp.add_url_rule("/users", "list_users", list_users, methods=["GET"])
