"""Docs-contract rows for mail folders (beyond listing them), categories, contacts and mailbox settings."""

from __future__ import annotations

from typing import Any

from tests.support.docs_contract import MAILBOX, DocCall, DocCase, DocsFault, Endpoint, select_input

_FOLDER = MAILBOX + r"/mailFolders/(?!delta$)[^/]+"
_CATEGORY = MAILBOX + r"/outlook/masterCategories/[^/]+"
_CONTACT = MAILBOX + r"/contacts/[^/]+"

ACTION_ENDPOINTS: dict[str, list[Endpoint]] = {
    "create_mail_folder": [
        ("POST", MAILBOX + r"/mailFolders"),
        ("POST", _FOLDER + r"/childFolders"),
    ],
    "get_mail_folder": [("GET", _FOLDER)],
    "update_mail_folder": [("PATCH", _FOLDER)],
    "delete_mail_folder": [("DELETE", _FOLDER)],
    "list_child_folders": [("GET", _FOLDER + r"/childFolders")],
    "move_mail_folder": [("POST", _FOLDER + r"/move")],
    "copy_mail_folder": [("POST", _FOLDER + r"/copy")],
    "list_categories": [("GET", MAILBOX + r"/outlook/masterCategories")],
    "create_category": [("POST", MAILBOX + r"/outlook/masterCategories")],
    "update_category": [("PATCH", _CATEGORY)],
    "delete_category": [("DELETE", _CATEGORY)],
    "list_contacts": [("GET", MAILBOX + r"/contacts")],
    "get_contact": [("GET", _CONTACT)],
    "create_contact": [("POST", MAILBOX + r"/contacts")],
    "update_contact": [("PATCH", _CONTACT)],
    "delete_contact": [("DELETE", _CONTACT)],
    "get_mailbox_settings": [("GET", MAILBOX + r"/mailboxSettings")],
    "set_automatic_replies": [("PATCH", MAILBOX + r"/mailboxSettings")],
    "list_supported_languages": [("GET", MAILBOX + r"/outlook/supportedLanguages(?:\(\))?")],
    "list_supported_timezones": [("GET", MAILBOX + r"/outlook/supportedTimeZones(?:\([^/]*\))?")],
}


# -- expectations ----------------------------------------------------------------------------------------
def same_object(call: DocCall, output: dict[str, Any]) -> None:
    for key, value in call.response_body.items():
        assert output.get(key) == value, key


def same_items(items_name: str, next_link: bool = True) -> Any:
    def expect(call: DocCall, output: dict[str, Any]) -> None:
        documented = call.response_body["value"]
        assert output["count"] == len(documented)
        assert output[items_name] == [
            {**i, **{k: v for k, v in o.items() if k not in i}}
            for i, o in zip(documented, output[items_name], strict=True)
        ]
        if next_link:
            assert output.get("next_link") == call.response_body.get("@odata.nextLink")

    return expect


def deleted(segment: str) -> Any:
    def expect(call: DocCall, output: dict[str, Any]) -> None:
        assert output == {"deleted": True, "id": call.after(segment)}

    return expect


# -- input derivations ---------------------------------------------------------------------------------------
def folder_id(call: DocCall) -> dict[str, Any]:
    return {**call.mailbox_input(), "folder_id": call.after("mailFolders")}


def create_folder(call: DocCall) -> dict[str, Any]:
    params = {**call.mailbox_input(), "display_name": call.body["displayName"]}
    if "isHidden" in call.body:
        params["is_hidden"] = call.body["isHidden"]
    if "childFolders" in call.segments:
        params["parent_folder_id"] = call.after("mailFolders")
    return params


def child_folders(call: DocCall) -> dict[str, Any]:
    params = {**folder_id(call), "include_paths": False}
    if call.query.get("includeHiddenFolders") == "true":
        params["include_hidden"] = True
    return params


def destination(call: DocCall) -> dict[str, Any]:
    return {**folder_id(call), "destination_folder_id": call.body["destinationId"]}


def category_id(call: DocCall) -> dict[str, Any]:
    return {**call.mailbox_input(), "category_id": call.after("masterCategories")}


def contact_id(call: DocCall) -> dict[str, Any]:
    return {**call.mailbox_input(), "contact_id": call.after("contacts")}


_CONTACT_INPUTS = {
    "givenName": "given_name",
    "surname": "surname",
    "businessPhones": "business_phones",
    "birthday": "birthday",
}


def contact_fields(body: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in body.items():
        if key == "emailAddresses":
            params["email_addresses"] = [
                {"address": v["address"], "name": v["name"]} if v.get("name") else v["address"] for v in value
            ]
        elif key == "homeAddress":
            params["home_address"] = {
                {"postalCode": "postal_code", "countryOrRegion": "country_or_region"}.get(k, k): v
                for k, v in value.items()
            }
        else:
            params[_CONTACT_INPUTS[key]] = value
    return params


def auto_replies(call: DocCall) -> dict[str, Any]:
    setting = call.body["automaticRepliesSetting"]
    params: dict[str, Any] = {**call.mailbox_input(), "status": setting["status"]}
    for key, name in (("scheduledStartDateTime", "start"), ("scheduledEndDateTime", "end")):
        if key in setting:
            params[name] = {"date_time": setting[key]["dateTime"], "time_zone": setting[key]["timeZone"]}
    return params


def _destination_fault() -> DocsFault:
    def fix(call: DocCall) -> None:
        call.body["destinationId"] = "archive"

    return DocsFault('uses the placeholder "destinationId-value"; a well-known folder name is sent', fix)


def _settings_fault(call: DocCall) -> None:
    call.body.pop("@odata.context", None)
    call.body["automaticRepliesSetting"]["status"] = "scheduled"


_SETTINGS_FAULT = DocsFault(
    'the request body carries "@odata.context" (response metadata, never sent by a client) and the'
    ' status "Scheduled"; the automaticRepliesStatus members are camelCase ("scheduled", as the'
    " documented response and the OpenAPI enum spell it)",
    _settings_fault,
)

CASES: dict[str, DocCase] = {
    # mail folders
    "create_mailfolder_from_user": DocCase("create_mail_folder", create_folder, expect=same_object),
    "create_mailfolder_from_mailfolder": DocCase("create_mail_folder", create_folder, expect=same_object),
    "get_mailfolder": DocCase("get_mail_folder", folder_id, expect=same_object),
    "get_mailSearchfolder": DocCase("get_mail_folder", folder_id, expect=same_object),
    "update_mailfolder": DocCase(
        "update_mail_folder",
        lambda c: {**folder_id(c), "display_name": c.body["displayName"]},
        expect=same_object,
    ),
    "delete_mailfolder": DocCase("delete_mail_folder", folder_id, expect=deleted("mailFolders")),
    "mailfolder_get_childfolders": DocCase(
        "list_child_folders", child_folders, expect=same_items("folders", next_link=False)
    ),
    "mailfolder_get_hiddenchildfolders": DocCase(
        "list_child_folders", child_folders, expect=same_items("folders", next_link=False)
    ),
    "mailfolder_move": DocCase(
        "move_mail_folder", destination, faults=(_destination_fault(),), expect=same_object
    ),
    "mailfolder_copy": DocCase(
        "copy_mail_folder", destination, faults=(_destination_fault(),), expect=same_object
    ),
    # categories
    "get_mastercategories": DocCase(
        "list_categories", lambda c: c.mailbox_input(), expect=same_items("categories")
    ),
    "create_outlookcategory_from_outlookuser": DocCase(
        "create_category",
        lambda c: {**c.mailbox_input(), "display_name": c.body["displayName"], "color": c.body["color"]},
        expect=same_object,
    ),
    "update_outlookcategory": DocCase(
        "update_category", lambda c: {**category_id(c), "color": c.body["color"]}, expect=same_object
    ),
    "delete_outlookcategory": DocCase("delete_category", category_id, expect=deleted("masterCategories")),
    # settings
    "get_mailboxsettings_1": DocCase("get_mailbox_settings", lambda c: c.mailbox_input(), expect=same_object),
    "update_mailboxsettings_1": DocCase(
        "set_automatic_replies",
        auto_replies,
        faults=(_SETTINGS_FAULT,),
        expect=lambda c, out: same_object_of(c.response_body["automaticRepliesSetting"], out),
    ),
    "user_supportedlanguages": DocCase(
        "list_supported_languages",
        lambda c: c.mailbox_input(),
        expect=lambda c, out: same_list(c.response_body["value"], out["languages"]),
    ),
    "user_supportedtimezones_default": DocCase(
        "list_supported_timezones",
        lambda c: c.mailbox_input(),
        expect=lambda c, out: same_list(c.response_body["value"], out["time_zones"]),
    ),
    "user_supportedtimezones_iana": DocCase(
        "list_supported_timezones",
        lambda c: {**c.mailbox_input(), "standard": "Iana"},
        expect=lambda c, out: same_list(c.response_body["value"], out["time_zones"]),
    ),
}


def _contacts_top(call: DocCall) -> None:
    call.query.setdefault("$top", "10")


def _contact_ids(call: DocCall) -> None:
    from tests.support.docs_contract import sample_id

    for index, item in enumerate(call.response_body["value"], start=1):
        item.setdefault("id", sample_id(100 + index))


_CONTACTS_SHORTENED = DocsFault(
    "the docs shortened the response: its contacts lack `id`, which Graph always returns", _contact_ids
)


_CONTACTS_PAGE_SIZE = DocsFault(
    "not a fault but an equivalent default (as QUERY_DEFAULTS has for messages and folders): list actions"
    " always send their page size, and 10 is Graph's default page size for contacts",
    _contacts_top,
)

CONTACT_CASES: dict[str, DocCase] = {
    "user_get_contacts": DocCase(
        "list_contacts",
        lambda c: {**c.mailbox_input(), **select_input(c)},
        faults=(_CONTACTS_PAGE_SIZE, _CONTACTS_SHORTENED),
        expect=same_items("contacts"),
    ),
    "get_contact": DocCase("get_contact", contact_id, expect=same_object),
    "create_contact_from_user": DocCase(
        "create_contact", lambda c: {**c.mailbox_input(), **contact_fields(c.body)}, expect=same_object
    ),
    "update_contact": DocCase(
        "update_contact", lambda c: {**contact_id(c), **contact_fields(c.body)}, expect=same_object
    ),
    "delete_contact": DocCase("delete_contact", contact_id, expect=deleted("contacts")),
}
"""Contacts' documented examples: the OpenAPI documents we hold have no PersonalContacts module (see
graph-openapi/SOURCE.md), so the conformance plugin refuses every /contacts request; these run in
tests/conformance/test_contacts_docs_contract.py, marked graph_nonconformant for that reason."""


def same_object_of(documented: dict[str, Any], output: dict[str, Any]) -> None:
    for key, value in documented.items():
        assert output.get(key) == value, key


def same_list(documented: list[Any], output: list[Any]) -> None:
    assert output == documented


_CONTACTS_ELSEWHERE = (
    "run by tests/conformance/test_contacts_docs_contract.py (CONTACT_CASES): the held OpenAPI documents"
    " lack the contacts module, so it needs the graph_nonconformant marker"
)

UNUSED: dict[str, str] = {
    **dict.fromkeys(
        ("user_get_contacts", "get_contact", "create_contact_from_user", "update_contact", "delete_contact"),
        _CONTACTS_ELSEWHERE,
    ),
    "create_mailsearchfolder": "search folders (mailSearchFolder: sourceFolderIds, filterQuery) are not an"
    " action: create_mail_folder makes ordinary mail folders",
    "update_mailsearchfolder": "update_mail_folder renames; changing a search folder's query is not an"
    " action",
    "update_mailboxsettings_2": "set_automatic_replies changes only automatic replies; working hours, time"
    " zone and language have no action yet",
}
