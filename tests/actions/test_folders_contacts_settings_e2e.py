"""Folders, categories, contacts and mailbox settings end to end on the sandbox, with both connection
types: each test checks that the mailbox really changed (read back through other actions)."""

from __future__ import annotations

from typing import Any

import pytest

from connections.base import Connection
from connector.errors import GraphError, InputValidationError
from connector.runtime import Runtime
from tests.support.graph_conformance import CONTACTS_NOT_IN_OPENAPI


def _children(
    runtime: Runtime, connection: Connection, folder: str, **extra: Any
) -> dict[str, dict[str, Any]]:
    out = runtime.run_action("list_child_folders", {"folder_id": folder, **extra}, connection)
    return {f["path"]: f for f in out["folders"]}


# -- mail folders -------------------------------------------------------------------------------------------
def test_create_rename_get_and_delete_a_folder(runtime: Runtime, connection: Connection) -> None:
    top = runtime.run_action("create_mail_folder", {"display_name": "Vendors"}, connection)
    child = runtime.run_action(
        "create_mail_folder", {"display_name": "2026", "parent_folder_id": top["id"]}, connection
    )
    assert child["parentFolderId"] == top["id"]
    renamed = runtime.run_action(
        "update_mail_folder", {"folder_id": top["id"], "display_name": "Suppliers"}, connection
    )
    assert renamed["displayName"] == "Suppliers"
    got = runtime.run_action("get_mail_folder", {"folder_id": top["id"]}, connection)
    assert got["displayName"] == "Suppliers" and got["childFolderCount"] == 1
    tops = runtime.run_action("list_mail_folders", {"top": 50}, connection)["folders"]
    assert "Suppliers" in {f["displayName"] for f in tops} and "Vendors" not in {
        f["displayName"] for f in tops
    }

    out = runtime.run_action("delete_mail_folder", {"folder_id": top["id"]}, connection)
    assert out == {"deleted": True, "id": top["id"]}
    # like Graph: the folder (with its subfolder) now lives in Deleted Items
    deleted = _children(runtime, connection, "deleteditems", recursive=True)
    assert "Deleted Items/Suppliers/2026" in deleted
    assert deleted["Deleted Items/Suppliers"]["id"] == top["id"]


def test_list_child_folders_recursive_gives_full_paths(runtime: Runtime, connection: Connection) -> None:
    flat = _children(runtime, connection, "inbox")
    assert {"Inbox/Projects", "Inbox/Receipts"} <= set(flat)
    assert all(f["depth"] == 1 for f in flat.values())
    deep = _children(runtime, connection, "inbox", recursive=True)
    assert {"Inbox/Projects/Harbor Expansion", "Inbox/Projects/Website Refresh"} <= set(deep)
    assert deep["Inbox/Projects/Harbor Expansion"]["depth"] == 2
    # the full path starts at the top of the mailbox even when listing a subfolder
    projects = deep["Inbox/Projects"]["id"]
    below = _children(runtime, connection, projects)
    assert set(below) == {"Inbox/Projects/Harbor Expansion", "Inbox/Projects/Website Refresh"}
    top = _children(runtime, connection, "msgfolderroot")
    assert {"Inbox", "Archive", "Clients"} <= set(top)
    limited = runtime.run_action(
        "list_child_folders", {"folder_id": "inbox", "recursive": True, "limit": 2}, connection
    )
    assert limited["count"] == 2 and limited["truncated"] is True


def test_move_and_copy_a_folder(runtime: Runtime, connection: Connection) -> None:
    projects = _children(runtime, connection, "inbox")["Inbox/Projects"]
    moved = runtime.run_action(
        "move_mail_folder", {"folder_id": projects["id"], "destination_folder_id": "archive"}, connection
    )
    archive = runtime.run_action("get_mail_folder", {"folder_id": "archive"}, connection)
    assert moved["id"] == projects["id"] and moved["parentFolderId"] == archive["id"]
    assert "Inbox/Projects" not in _children(runtime, connection, "inbox")
    under_archive = _children(runtime, connection, "archive", recursive=True)
    assert under_archive["Archive/Projects"]["id"] == projects["id"]
    assert "Archive/Projects/Harbor Expansion" in under_archive  # subfolders move along

    copy = runtime.run_action(
        "copy_mail_folder", {"folder_id": projects["id"], "destination_folder_id": "inbox"}, connection
    )
    assert copy["id"] != projects["id"]
    assert copy["totalItemCount"] == projects["totalItemCount"] > 0  # messages are copied too
    again = _children(runtime, connection, "inbox", recursive=True)
    assert again["Inbox/Projects"]["id"] == copy["id"]
    assert "Inbox/Projects/Website Refresh" in again
    assert _children(runtime, connection, "archive")["Archive/Projects"]["id"] == projects["id"]


def test_folder_errors_are_clear(runtime: Runtime, connection: Connection) -> None:
    with pytest.raises(GraphError) as well_known:
        runtime.run_action("delete_mail_folder", {"folder_id": "inbox"}, connection)
    assert well_known.value.status == 400
    projects = _children(runtime, connection, "inbox")["Inbox/Projects"]
    with pytest.raises(GraphError) as into_itself:
        runtime.run_action(
            "move_mail_folder",
            {"folder_id": projects["id"], "destination_folder_id": projects["id"]},
            connection,
        )
    assert into_itself.value.status == 400
    with pytest.raises(GraphError) as clash:
        runtime.run_action(
            "create_mail_folder", {"display_name": "projects", "parent_folder_id": "inbox"}, connection
        )
    assert clash.value.status == 409


# -- categories ---------------------------------------------------------------------------------------------
def test_category_lifecycle(runtime: Runtime, connection: Connection) -> None:
    before = runtime.run_action("list_categories", {}, connection)
    assert before["count"] == len(before["categories"]) > 0
    created = runtime.run_action(
        "create_category", {"display_name": "Invoices", "color": "preset4"}, connection
    )
    assert created["displayName"] == "Invoices" and created["color"] == "preset4"
    listed = {
        c["displayName"]: c for c in runtime.run_action("list_categories", {}, connection)["categories"]
    }
    assert listed["Invoices"]["id"] == created["id"]

    updated = runtime.run_action(
        "update_category", {"category_id": created["id"], "color": "preset22"}, connection
    )
    assert updated["color"] == "preset22"
    listed = {c["id"]: c for c in runtime.run_action("list_categories", {}, connection)["categories"]}
    assert listed[created["id"]]["color"] == "preset22"

    with pytest.raises(GraphError) as duplicate:
        runtime.run_action("create_category", {"display_name": "invoices"}, connection)
    assert duplicate.value.status == 409

    assert runtime.run_action("delete_category", {"category_id": created["id"]}, connection)["deleted"]
    after = runtime.run_action("list_categories", {}, connection)
    assert created["id"] not in {c["id"] for c in after["categories"]}
    assert after["count"] == before["count"]


def test_categories_are_named_by_name_as_the_dropdown_gives(runtime: Runtime, connection: Connection) -> None:
    option = runtime.run_data_source("select_category", {"search": "Red"}, connection)["options"][0]
    updated = runtime.run_action(
        "update_category", {"category_id": option["key"].upper(), "color": "preset7"}, connection
    )
    assert updated["displayName"] == option["key"] and updated["color"] == "preset7"
    listed = {
        c["displayName"]: c for c in runtime.run_action("list_categories", {}, connection)["categories"]
    }
    assert listed[option["key"]]["color"] == "preset7"

    deleted = runtime.run_action("delete_category", {"category_id": option["key"]}, connection)
    assert deleted == {"deleted": True, "id": listed[option["key"]]["id"]}
    remaining = {
        c["displayName"] for c in runtime.run_action("list_categories", {}, connection)["categories"]
    }
    assert option["key"] not in remaining

    with pytest.raises(InputValidationError) as unknown:
        runtime.run_action("delete_category", {"category_id": option["key"]}, connection)
    assert unknown.value.errors[0].path == "category_id" and "no category named" in str(unknown.value)


def test_category_colour_is_checked_before_any_request(runtime: Runtime, connection: Connection) -> None:
    with pytest.raises(InputValidationError):
        runtime.run_action("create_category", {"display_name": "Odd", "color": "preset25"}, connection)


# -- contacts ---------------------------------------------------------------------------------------
@CONTACTS_NOT_IN_OPENAPI
def test_contact_lifecycle(runtime: Runtime, connection: Connection) -> None:
    created = runtime.run_action(
        "create_contact",
        {
            "given_name": "Rosa",
            "surname": "Delgado",
            "email_addresses": [
                "rosa@tidewell.example",
                {"address": "r.delgado@home.example", "name": "Rosa"},
            ],
            "business_phones": ["+1 555 0147"],
            "company_name": "Tidewell Ceramics",
            "business_address": {"city": "Tucson", "country_or_region": "United States"},
            "birthday": "1988-05-03",
        },
        connection,
    )
    assert created["displayName"] == "Rosa Delgado"
    assert [e["address"] for e in created["emailAddresses"]] == [
        "rosa@tidewell.example",
        "r.delgado@home.example",
    ]
    found = runtime.run_action(
        "list_contacts", {"filter": "companyName eq 'Tidewell Ceramics'", "top": 5}, connection
    )
    assert [c["id"] for c in found["contacts"]] == [created["id"]]

    updated = runtime.run_action(
        "update_contact",
        {"contact_id": created["id"], "job_title": "Owner", "mobile_phone": None},
        connection,
    )
    assert updated["jobTitle"] == "Owner" and updated["companyName"] == "Tidewell Ceramics"
    got = runtime.run_action("get_contact", {"contact_id": created["id"]}, connection)
    assert got["jobTitle"] == "Owner" and got["businessAddress"]["city"] == "Tucson"
    assert got["birthday"].startswith("1988-05-03")

    assert runtime.run_action("delete_contact", {"contact_id": created["id"]}, connection)["deleted"]
    with pytest.raises(GraphError) as gone:
        runtime.run_action("get_contact", {"contact_id": created["id"]}, connection)
    assert gone.value.status == 404


@CONTACTS_NOT_IN_OPENAPI
def test_seeded_contacts_page_and_select(runtime: Runtime, connection: Connection) -> None:
    out = runtime.run_action(
        "list_contacts",
        {"top": 2, "fetch_all": True, "select": ["displayName"], "order_by": "displayName"},
        connection,
    )
    names = [c["displayName"] for c in out["contacts"]]
    assert len(names) >= 5 and names == sorted(names)
    assert all(set(c) <= {"id", "displayName"} for c in out["contacts"])


def test_contact_inputs_are_checked_before_any_request(runtime: Runtime, connection: Connection) -> None:
    with pytest.raises(InputValidationError):
        runtime.run_action("create_contact", {"job_title": "Nobody"}, connection)
    with pytest.raises(InputValidationError):
        runtime.run_action("update_contact", {"contact_id": "x"}, connection)
    with pytest.raises(InputValidationError):
        runtime.run_action(
            "create_contact", {"given_name": "A", "email_addresses": ["not-an-address"]}, connection
        )


# -- mailbox settings -------------------------------------------------------------------------------
def test_schedule_then_disable_automatic_replies(runtime: Runtime, connection: Connection) -> None:
    before = runtime.run_action("get_mailbox_settings", {}, connection)
    assert before["automaticRepliesSetting"]["status"] == "disabled"
    out = runtime.run_action(
        "set_automatic_replies",
        {
            "status": "scheduled",
            "start": {"date_time": "2026-12-21T08:00:00", "time_zone": "Pacific Standard Time"},
            "end": {"date_time": "2027-01-04T08:00", "time_zone": "Pacific Standard Time"},
            "internal_reply_message": "<p>Back on 4 January.</p>",
            "external_reply_message": "<p>Back on 4 January; write to team@contoso.com meanwhile.</p>",
            "external_audience": "contactsOnly",
        },
        connection,
    )
    assert out["status"] == "scheduled"
    settings = runtime.run_action("get_mailbox_settings", {}, connection)["automaticRepliesSetting"]
    assert settings["status"] == "scheduled"
    assert settings["externalAudience"] == "contactsOnly"
    assert settings["scheduledStartDateTime"] == {
        "dateTime": "2026-12-21T08:00:00.0000000",
        "timeZone": "Pacific Standard Time",
    }
    assert settings["scheduledEndDateTime"]["dateTime"].startswith("2027-01-04T08:00:00")
    assert settings["internalReplyMessage"] == "<p>Back on 4 January.</p>"

    runtime.run_action("set_automatic_replies", {"status": "disabled"}, connection)
    after = runtime.run_action("get_mailbox_settings", {}, connection)["automaticRepliesSetting"]
    assert after["status"] == "disabled"
    assert after["internalReplyMessage"] == "<p>Back on 4 January.</p>"  # untouched fields stay


def test_a_schedule_needs_start_before_end(runtime: Runtime, connection: Connection) -> None:
    with pytest.raises(InputValidationError):
        runtime.run_action("set_automatic_replies", {"status": "scheduled"}, connection)
    with pytest.raises(InputValidationError):
        runtime.run_action(
            "set_automatic_replies",
            {
                "status": "scheduled",
                "start": {"date_time": "2027-01-04T08:00:00"},
                "end": {"date_time": "2026-12-21T08:00:00"},
            },
            connection,
        )


def test_supported_languages_and_timezones(runtime: Runtime, connection: Connection) -> None:
    languages = runtime.run_action("list_supported_languages", {}, connection)
    assert languages["count"] > 5 and "en-US" in {lang["locale"] for lang in languages["languages"]}
    windows = runtime.run_action("list_supported_timezones", {}, connection)
    assert "Pacific Standard Time" in {z["alias"] for z in windows["time_zones"]}
    iana = runtime.run_action("list_supported_timezones", {"standard": "Iana"}, connection)
    assert "America/Los_Angeles" in {z["alias"] for z in iana["time_zones"]}
    assert iana["count"] == windows["count"]
