"""Mail folders: well-known names, child folders, counts, create/rename/delete."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from sandbox import seed
from tests.sandbox.conftest import state_of

FOLDER_FIELDS = {
    "id",
    "displayName",
    "parentFolderId",
    "childFolderCount",
    "unreadItemCount",
    "totalItemCount",
    "isHidden",
}


def folders(client: FlaskClient, headers: dict[str, str], path: str = "/v1.0/me/mailFolders?$top=50") -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_top_level_folders(client: FlaskClient, user_headers: dict[str, str]) -> None:
    body = folders(client, user_headers)
    assert body["@odata.context"].endswith(f"$metadata#users('{seed.USERS[0]['id']}')/mailFolders")
    names = [f["displayName"] for f in body["value"]]
    for name in (
        "Inbox",
        "Drafts",
        "Sent Items",
        "Deleted Items",
        "Junk Email",
        "Archive",
        "Outbox",
        "Newsletters",
    ):
        assert name in names
    assert names == sorted(names, key=str.lower)
    assert all(set(f) == FOLDER_FIELDS for f in body["value"])
    assert "Quick Step Settings" not in names
    hidden = folders(client, user_headers, "/v1.0/me/mailFolders?$top=50&includeHiddenFolders=true")
    assert "Quick Step Settings" in [f["displayName"] for f in hidden["value"]]


def test_default_page_is_ten_folders_with_a_next_link(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    body = folders(client, user_headers, "/v1.0/me/mailFolders")
    assert len(body["value"]) == 10
    rest = folders(client, user_headers, body["@odata.nextLink"])
    assert "@odata.nextLink" not in rest
    assert not {f["id"] for f in body["value"]} & {f["id"] for f in rest["value"]}


def test_well_known_names_resolve_case_insensitively(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    inbox = client.get("/v1.0/me/mailFolders/inbox", headers=user_headers).get_json()
    assert inbox["displayName"] == "Inbox"
    assert inbox["@odata.context"].endswith("/mailFolders/$entity")
    by_id = client.get(f"/v1.0/me/mailFolders/{inbox['id']}", headers=user_headers).get_json()
    assert by_id == client.get("/v1.0/me/mailFolders/InBox", headers=user_headers).get_json() == inbox
    for name, display in (
        ("sentitems", "Sent Items"),
        ("deleteditems", "Deleted Items"),
        ("junkemail", "Junk Email"),
        ("drafts", "Drafts"),
        ("archive", "Archive"),
        ("outbox", "Outbox"),
    ):
        assert (
            client.get(f"/v1.0/me/mailFolders/{name}", headers=user_headers).get_json()["displayName"]
            == display
        )


def test_counts_match_the_messages(client: FlaskClient, user_headers: dict[str, str]) -> None:
    inbox = client.get("/v1.0/me/mailFolders/inbox", headers=user_headers).get_json()
    counted = client.get(
        "/v1.0/me/mailFolders/inbox/messages?$count=true&$top=1", headers=user_headers
    ).get_json()
    unread = client.get(
        "/v1.0/me/mailFolders/inbox/messages?$count=true&$top=1&$filter=isRead eq false", headers=user_headers
    ).get_json()
    assert inbox["totalItemCount"] == counted["@odata.count"] > 300
    assert inbox["unreadItemCount"] == unread["@odata.count"] > 0
    assert inbox["childFolderCount"] == 2


def test_child_folders_nest(client: FlaskClient, user_headers: dict[str, str]) -> None:
    children = folders(client, user_headers, "/v1.0/me/mailFolders/inbox/childFolders").get("value")
    projects = next(f for f in children if f["displayName"] == "Projects")
    assert projects["childFolderCount"] == 2
    nested = folders(client, user_headers, f"/v1.0/me/mailFolders/{projects['id']}/childFolders")["value"]
    assert sorted(f["displayName"] for f in nested) == ["Harbor Expansion", "Website Refresh"]
    child = client.get(
        f"/v1.0/me/mailFolders/{projects['id']}/childFolders/{nested[0]['id']}", headers=user_headers
    )
    assert child.get_json()["id"] == nested[0]["id"]
    messages = client.get(
        f"/v1.0/me/mailFolders/{projects['id']}/childFolders/{nested[0]['id']}/messages", headers=user_headers
    ).get_json()["value"]
    assert messages and all(m["parentFolderId"] == nested[0]["id"] for m in messages)


def test_bad_folder_references(client: FlaskClient, user_headers: dict[str, str]) -> None:
    malformed = client.get("/v1.0/me/mailFolders/not-a-folder", headers=user_headers)
    assert malformed.status_code == 400
    assert malformed.get_json()["error"]["code"] == "ErrorInvalidIdMalformed"
    missing = client.get("/v1.0/me/mailFolders/AQMkADAwATNiZmYAZC1hYjA2LTQ1MAAAAAA=", headers=user_headers)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "ErrorItemNotFound"


def test_create_rename_and_delete_folders(
    app: Flask, client: FlaskClient, user_headers: dict[str, str]
) -> None:
    created = client.post("/v1.0/me/mailFolders", headers=user_headers, json={"displayName": "Invoices"})
    assert created.status_code == 201
    folder = created.get_json()
    assert set(folder) - {"@odata.context"} == FOLDER_FIELDS
    assert folder["totalItemCount"] == 0 and folder["isHidden"] is False

    duplicate = client.post("/v1.0/me/mailFolders", headers=user_headers, json={"displayName": "invoices"})
    assert duplicate.status_code == 409
    assert duplicate.get_json()["error"]["code"] == "ErrorFolderExists"

    child = client.post(
        f"/v1.0/me/mailFolders/{folder['id']}/childFolders",
        headers=user_headers,
        json={"displayName": "2025", "isHidden": False},
    )
    assert child.status_code == 201
    assert child.get_json()["parentFolderId"] == folder["id"]

    renamed = client.patch(
        f"/v1.0/me/mailFolders/{folder['id']}",
        headers=user_headers,
        json={"displayName": "Supplier invoices"},
    )
    assert renamed.status_code == 200
    assert renamed.get_json()["displayName"] == "Supplier invoices"
    assert renamed.get_json()["childFolderCount"] == 1

    assert client.delete(f"/v1.0/me/mailFolders/{folder['id']}", headers=user_headers).status_code == 204
    moved = client.get(f"/v1.0/me/mailFolders/{folder['id']}", headers=user_headers).get_json()
    deleted_items = client.get("/v1.0/me/mailFolders/deleteditems", headers=user_headers).get_json()
    assert moved["parentFolderId"] == deleted_items["id"]
    assert client.delete(f"/v1.0/me/mailFolders/{folder['id']}", headers=user_headers).status_code == 204
    gone = client.get(f"/v1.0/me/mailFolders/{folder['id']}", headers=user_headers)
    assert gone.status_code == 404
    assert state_of(app).request_log[-1].status == 404


def test_well_known_folders_cannot_be_deleted_or_renamed(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    delete = client.delete("/v1.0/me/mailFolders/inbox", headers=user_headers)
    assert delete.status_code == 400
    assert delete.get_json()["error"]["code"] == "ErrorDeleteDistinguishedFolder"
    rename = client.patch("/v1.0/me/mailFolders/inbox", headers=user_headers, json={"displayName": "In"})
    assert rename.status_code == 400


def test_folder_body_validation(client: FlaskClient, user_headers: dict[str, str]) -> None:
    unknown = client.post(
        "/v1.0/me/mailFolders", headers=user_headers, json={"displayName": "x", "colour": "red"}
    )
    assert unknown.status_code == 400
    assert unknown.get_json()["error"]["code"] == "RequestBodyRead"
    empty = client.post("/v1.0/me/mailFolders", headers=user_headers, json={"displayName": " "})
    assert empty.status_code == 400
    not_json = client.post(
        "/v1.0/me/mailFolders", headers={**user_headers, "Content-Type": "application/json"}, data="{oops"
    )
    assert not_json.status_code == 400
    assert not_json.get_json()["error"]["code"] == "BadRequest"


def test_trailing_slash_is_accepted(client: FlaskClient, user_headers: dict[str, str]) -> None:
    assert client.get("/v1.0/me/mailFolders/", headers=user_headers).status_code == 200
