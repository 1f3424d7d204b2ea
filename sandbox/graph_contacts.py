"""Personal contacts: ``/contacts`` (list with OData options, create, get, update, delete).

Every mailbox starts with a few contacts of the sandbox's own invention (deterministic per mailbox).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request

from sandbox import extended, graph_extensions, item_delta
from sandbox.errors import GraphError, bad_request, id_malformed, invalid_request_body, item_not_found
from sandbox.graph import (
    add_mailbox_routes,
    collection_page,
    context_url,
    entity,
    no_content,
    select_suffix,
    user_segment,
)
from sandbox.graph_settings import mailbox_data, object_body, open_with
from sandbox.ids import IdFactory, looks_like_graph_id
from sandbox.mailbox import Mailbox
from sandbox.odata import Schema, apply_select, option, parse_list_query, parse_select, run_query

_READ = {"Contacts.Read", "Contacts.ReadWrite"}
_WRITE = {"Contacts.ReadWrite"}
_STRINGS = (
    "givenName", "middleName", "surname", "nickName", "title", "generation", "initials", "displayName",
    "fileAs", "jobTitle", "companyName", "department", "officeLocation", "profession", "businessHomePage",
    "assistantName", "manager", "mobilePhone", "spouseName", "personalNotes", "birthday",
    "yomiGivenName", "yomiSurname", "yomiCompanyName",
)  # fmt: skip
_STRING_LISTS = ("businessPhones", "homePhones", "imAddresses", "children", "categories")
_ADDRESSES = ("homeAddress", "businessAddress", "otherAddress")
_READ_ONLY = ("id", "createdDateTime", "lastModifiedDateTime", "changeKey", "parentFolderId")
CONTACT_SCHEMA = Schema(
    entity="contact",
    selectable=(*_READ_ONLY, *_STRINGS, *_STRING_LISTS, *_ADDRESSES, "emailAddresses"),
    filterable={
        "displayName": "string",
        "givenName": "string",
        "surname": "string",
        "companyName": "string",
        "jobTitle": "string",
        "emailAddresses/address": "recipients",
        "categories": "strings",
        **extended.FILTERABLE,
    },
    sortable=frozenset({"displayName", "givenName", "surname", "companyName", "createdDateTime"}),
    default_top=10,
    max_top=1000,
)

_PEOPLE: tuple[tuple[str, str, str, str, str], ...] = (
    # given, surname, company, job title, city
    ("Ines", "Marlowe", "Brightwater Logistics", "Account Manager", "Portland"),
    ("Tomasz", "Wierzba", "Northfield Analytics", "Data Engineer", "Denver"),
    ("Priya", "Ranganathan", "Cobalt Bay Foods", "Purchasing Lead", "Austin"),
    ("Olu", "Adebayo", "Harbor & Pine Legal", "Paralegal", "Boston"),
    ("Mireille", "Fontaine", "Atelier Vert", "Studio Director", "Montreal"),
    ("Kenji", "Aramaki", "Sorrel Robotics", "Field Technician", "San Jose"),
)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ids(box: Mailbox) -> IdFactory:
    return mailbox_data(
        box, "contactIds", lambda b: IdFactory(b.user_id, random.Random(f"contacts:{b.user_id}"))
    )


def _folder_id(box: Mailbox) -> str:
    return mailbox_data(box, "contactsFolder", lambda b: _ids(b).folder_id())


def _blank(box: Mailbox, created: str) -> dict[str, Any]:
    contact: dict[str, Any] = {
        "id": _ids(box).message_id(),
        "createdDateTime": created,
        "lastModifiedDateTime": created,
        "changeKey": _ids(box).change_key(),
        "parentFolderId": _folder_id(box),
    }
    contact.update(dict.fromkeys(_STRINGS))
    contact.update({name: [] for name in _STRING_LISTS})
    contact.update({name: {} for name in _ADDRESSES})
    contact["emailAddresses"] = []
    return contact


def _derive_names(contact: dict[str, Any]) -> None:
    parts = [p for p in (contact.get("givenName"), contact.get("surname")) if p]
    if not contact.get("displayName"):
        contact["displayName"] = " ".join(parts) or None
    if not contact.get("fileAs") and contact.get("surname") and contact.get("givenName"):
        contact["fileAs"] = f"{contact['surname']}, {contact['givenName']}"


def _seed(box: Mailbox) -> dict[str, dict[str, Any]]:
    contacts: dict[str, dict[str, Any]] = {}
    for number, (given, surname, company, job, city) in enumerate(_PEOPLE):
        contact = _blank(box, f"2026-0{number + 1}-1{number}T15:30:00Z")
        domain = company.split()[0].lower().replace("&", "") + ".example"
        contact.update(
            {
                "givenName": given,
                "surname": surname,
                "companyName": company,
                "jobTitle": job,
                "emailAddresses": [{"name": f"{given} {surname}", "address": f"{given.lower()}@{domain}"}],
                "businessPhones": [f"+1 555 01{number:02d} {4200 + number * 7}"],
                "businessAddress": {
                    "city": city,
                    "countryOrRegion": "United States" if number != 4 else "Canada",
                },
                "categories": ["Customers"] if number % 2 == 0 else [],
            }
        )
        _derive_names(contact)
        contacts[contact["id"]] = contact
    return contacts


def _contacts(box: Mailbox) -> dict[str, dict[str, Any]]:
    return mailbox_data(box, "contacts", _seed)


def _find(box: Mailbox, contact_id: str) -> dict[str, Any]:
    found = _contacts(box).get(contact_id)
    if found is not None:
        return found
    if not looks_like_graph_id(contact_id):
        raise id_malformed()
    raise item_not_found()


def _fields(payload: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in payload.items():
        if name in _READ_ONLY or name.startswith("@odata."):
            continue
        if name in _STRINGS:
            if value is not None and not isinstance(value, str):
                raise bad_request(f"Cannot convert the literal '{value}' to the expected type 'Edm.String'.")
        elif name in _STRING_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad_request(f"Cannot convert the value of '{name}' to a collection of strings.")
        elif name in _ADDRESSES:
            if not isinstance(value, dict):
                raise bad_request(f"Cannot convert the value of '{name}' to 'physicalAddress'.")
        elif name == "emailAddresses":
            if not isinstance(value, list) or not all(
                isinstance(v, dict) and isinstance(v.get("address", ""), str) for v in value
            ):
                raise bad_request(
                    "Cannot convert the value of 'emailAddresses' to a collection of emailAddress."
                )
            if len(value) > 3:
                raise GraphError(400, "ErrorInvalidRequest", "A contact can have at most 3 email addresses.")
        else:
            raise invalid_request_body(name, "contact")
        fields[name] = value
    return fields


def _now() -> str:
    return _stamp(datetime.now(UTC))


def _context(user_ref: str | None, owner: dict[str, Any], select: list[str] | None = None) -> str:
    return context_url(f"{user_segment(user_ref, owner)}/contacts{select_suffix(select)}/$entity")


def list_contacts(user_ref: str | None) -> Response:
    state, owner, box = open_with(user_ref, _READ, _READ)
    query = parse_list_query(request.args, CONTACT_SCHEMA)
    expansion = _expansion()
    with state.lock:
        items = [dict(c) for c in _contacts(box).values()]
    page, total, next_skip = run_query(items, query, CONTACT_SCHEMA)
    context = context_url(f"{user_segment(user_ref, owner)}/contacts{select_suffix(query.select)}")
    where = context_url(f"{user_segment(user_ref, owner)}/contacts")
    values = [expansion.apply(apply_select(c, query.select), c, where) for c in page]
    return collection_page(context, values, query, CONTACT_SCHEMA, next_skip, total)


def _expansion() -> extended.Expansion:
    return extended.parse_expand(option(request.args, "expand"), "contact")


def get_contact(user_ref: str | None, contact_id: str) -> Response:
    state, owner, box = open_with(user_ref, _READ, _READ)
    select = parse_select(option(request.args, "select"), CONTACT_SCHEMA)
    expansion = _expansion()
    with state.lock:
        contact = dict(_find(box, contact_id))
    items = context_url(f"{user_segment(user_ref, owner)}/contacts")
    body = expansion.apply(apply_select(contact, select), contact, items)
    return entity(_context(user_ref, owner, select), body)


def create_contact(user_ref: str | None) -> Response:
    state, owner, box = open_with(user_ref, _WRITE, _WRITE)
    payload = dict(object_body())
    extras = extended.take(payload)
    fields = _fields(payload)
    with state.lock:
        contact = {**_blank(box, _now()), **fields, **extras}
        _derive_names(contact)
        _contacts(box)[contact["id"]] = contact
        box.report("contact", contact, contact["parentFolderId"], "created")
        body = extended.hide(dict(contact))
    return entity(_context(user_ref, owner), body, 201)


def update_contact(user_ref: str | None, contact_id: str) -> Response:
    state, owner, box = open_with(user_ref, _WRITE, _WRITE)
    payload = dict(object_body())
    with state.lock:
        current = _find(box, contact_id)
        fields = {**_fields(payload), **extended.take(payload, current)}
        contact = {**current, **fields, "lastModifiedDateTime": _now(), "changeKey": _ids(box).change_key()}
        if ("givenName" in fields or "surname" in fields) and "displayName" not in fields:
            contact["displayName"] = None
            contact["fileAs"] = None if "fileAs" not in fields else contact["fileAs"]
        _derive_names(contact)
        _contacts(box)[contact["id"]] = contact
        box.report("contact", contact, contact["parentFolderId"], "updated")
        body = extended.hide(dict(contact))
    return entity(_context(user_ref, owner), body)


def delete_contact(user_ref: str | None, contact_id: str) -> Response:
    state, _owner, box = open_with(user_ref, _WRITE, _WRITE)
    with state.lock:
        removed = _contacts(box).pop(_find(box, contact_id)["id"])
        box.report("contact", removed, removed["parentFolderId"], "deleted")
    return no_content()


def contacts_delta(user_ref: str | None) -> Response:
    state, owner, box = open_with(user_ref, _READ, _READ)
    with state.lock:
        contacts = {c["id"]: extended.hide(dict(c)) for c in _contacts(box).values()}
        return item_delta.delta(
            state,
            f"contacts:{box.user_id}",
            {contact_id: str(c["changeKey"]) for contact_id, c in contacts.items()},
            lambda contact_id: contacts[contact_id],
            "#microsoft.graph.contact",
            context_url(f"{user_segment(user_ref, owner)}/contacts/$delta"),
        )


_ROUTES = (
    ("/contacts/delta", "GET", contacts_delta),
    ("/contacts", "GET", list_contacts),
    ("/contacts", "POST", create_contact),
    ("/contacts/<contact_id>", "GET", get_contact),
    ("/contacts/<contact_id>", "PATCH", update_contact),
    ("/contacts/<contact_id>", "DELETE", delete_contact),
)


def _load_for_extensions(user_ref: str | None, contact_id: str, write: bool) -> tuple[Any, Any, Any]:
    state, owner, box = open_with(user_ref, _WRITE if write else _READ, _WRITE if write else _READ)
    with state.lock:
        return state, owner, _find(box, contact_id)


def _save_extensions(user_ref: str | None, contact: dict[str, Any], extensions: list[dict[str, Any]]) -> None:
    _state, _owner, box = open_with(user_ref, _WRITE, _WRITE)
    updated = {
        **contact,
        extended.OPEN: extensions,
        "lastModifiedDateTime": _now(),
        "changeKey": _ids(box).change_key(),
    }
    _contacts(box)[contact["id"]] = updated
    box.report("contact", updated, updated["parentFolderId"], "updated")


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
    access = graph_extensions.ItemAccess("contacts", _load_for_extensions, _save_extensions)
    graph_extensions.register(bp, access)
