"""Graph's resource and action names are case-insensitive in URLs; ids and UPNs keep their case."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from sandbox import seed
from tests.sandbox.conftest import state_of


def test_resource_names_in_any_case_reach_the_same_route(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    canonical = client.get("/v1.0/me/mailFolders/inbox/childFolders", headers=user_headers)
    assert canonical.status_code == 200
    for spelling in ("/v1.0/me/mailfolders/inbox/childfolders", "/v1.0/ME/MAILFOLDERS/Inbox/CHILDFOLDERS/"):
        answer = client.get(spelling, headers=user_headers)
        assert answer.status_code == 200, (spelling, answer.get_data(as_text=True))
        assert [f["id"] for f in answer.get_json()["value"]] == [
            f["id"] for f in canonical.get_json()["value"]
        ]
    sent = client.post(
        "/v1.0/me/microsoft.graph.SENDMAIL",
        headers=user_headers,
        json={
            "message": {"subject": "case", "toRecipients": [{"emailAddress": {"address": seed.DEFAULT_USER}}]}
        },
    )
    assert sent.status_code == 202


def test_ids_and_upns_keep_their_case(app: Flask, client: FlaskClient, app_headers: dict[str, str]) -> None:
    upn = seed.DEFAULT_USER
    page = client.get(f"/v1.0/Users/{upn}/Messages", query_string={"$top": "1"}, headers=app_headers)
    assert page.status_code == 200
    message_id = page.get_json()["value"][0]["id"]
    assert client.get(f"/v1.0/USERS/{upn}/MESSAGES/{message_id}", headers=app_headers).status_code == 200
    # an id differing only in case is another (unknown) id: ids are case-sensitive base64
    other = message_id[:-8] + message_id[-8:].swapcase()
    assert client.get(f"/v1.0/users/{upn}/messages/{other}", headers=app_headers).status_code == 404
    logged = [r.path for r in state_of(app).request_log if message_id in r.path]
    assert logged == [f"/v1.0/users/{upn}/messages/{message_id}"]  # names canonical, the id as sent


def test_an_unknown_segment_is_still_graphs_400(client: FlaskClient, user_headers: dict[str, str]) -> None:
    answer = client.get("/v1.0/me/mailFolderz", headers=user_headers)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == "Resource not found for the segment 'mailFolderz'."
