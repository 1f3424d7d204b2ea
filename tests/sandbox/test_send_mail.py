"""sendMail and sending drafts: delivery inside the tenant, Sent Items, recipient validation, size limit."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient

from sandbox import seed
from tests.sandbox.conftest import OTHER_USER, bearer, delegated_tokens

SENDER = seed.USERS[0]
THIRD = seed.USERS[2]


def address(user: dict[str, Any]) -> dict[str, Any]:
    return {"emailAddress": {"address": user["mail"]}}


def newest(client: FlaskClient, headers: dict[str, str], folder: str, mailbox: str = "me") -> dict[str, Any]:
    prefix = "/v1.0/me" if mailbox == "me" else f"/v1.0/users/{mailbox}"
    response = client.get(f"{prefix}/mailFolders/{folder}/messages?$top=1", headers=headers)
    assert response.status_code == 200, response.get_json()
    value: dict[str, Any] = response.get_json()["value"][0]
    return value


def count(client: FlaskClient, headers: dict[str, str], folder: str, mailbox: str = "me") -> int:
    prefix = "/v1.0/me" if mailbox == "me" else f"/v1.0/users/{mailbox}"
    return int(client.get(f"{prefix}/mailFolders/{folder}", headers=headers).get_json()["totalItemCount"])


def send(client: FlaskClient, headers: dict[str, str], message: dict[str, Any], **extra: Any) -> Any:
    return client.post("/v1.0/me/sendMail", headers=headers, json={"message": message, **extra})


def test_send_mail_delivers_and_keeps_a_copy(
    client: FlaskClient, user_headers: dict[str, str], app_headers: dict[str, str]
) -> None:
    sent_before = count(client, user_headers, "sentitems")
    response = send(
        client,
        user_headers,
        {
            "subject": "Meet for lunch?",
            "body": {"contentType": "Text", "content": "The new cafeteria is open."},
            "toRecipients": [address(OTHER_USER), {"emailAddress": {"address": "someone@example.org"}}],
            "ccRecipients": [address(THIRD)],
            "bccRecipients": [address(seed.SHARED_MAILBOX_USER)],
        },
    )
    assert response.status_code == 202 and response.data == b""

    assert count(client, user_headers, "sentitems") == sent_before + 1
    copy = newest(client, user_headers, "sentitems")
    assert copy["subject"] == "Meet for lunch?" and copy["isDraft"] is False and copy["isRead"] is True
    assert copy["bccRecipients"][0]["emailAddress"]["address"] == seed.SHARED_MAILBOX

    for recipient in (OTHER_USER, THIRD, seed.SHARED_MAILBOX_USER):
        delivered = newest(client, app_headers, "inbox", recipient["userPrincipalName"])
        assert delivered["subject"] == "Meet for lunch?"
        assert delivered["isRead"] is False and delivered["isDraft"] is False
        assert delivered["from"]["emailAddress"] == {"name": SENDER["displayName"], "address": SENDER["mail"]}
        assert delivered["bccRecipients"] == []
        assert delivered["internetMessageId"] == copy["internetMessageId"]
        assert delivered["body"] == {"contentType": "text", "content": "The new cafeteria is open."}


def test_save_to_sent_items_false(
    client: FlaskClient, user_headers: dict[str, str], app_headers: dict[str, str]
) -> None:
    sent_before = count(client, user_headers, "sentitems")
    inbox_before = count(client, app_headers, "inbox", OTHER_USER["id"])
    response = send(
        client,
        user_headers,
        {"subject": "No copy", "toRecipients": [address(OTHER_USER)]},
        saveToSentItems=False,
    )
    assert response.status_code == 202
    assert count(client, user_headers, "sentitems") == sent_before
    assert count(client, app_headers, "inbox", OTHER_USER["id"]) == inbox_before + 1


def test_save_to_sent_items_must_be_a_boolean(client: FlaskClient, user_headers: dict[str, str]) -> None:
    response = send(
        client, user_headers, {"subject": "x", "toRecipients": [address(OTHER_USER)]}, saveToSentItems="false"
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "recipients",
    [
        [{"emailAddress": {"address": "not an address"}}],
        [{"emailAddress": {"address": "missing-at.example.com"}}],
        [],
    ],
)
def test_invalid_recipients(client: FlaskClient, user_headers: dict[str, str], recipients: list[Any]) -> None:
    response = send(client, user_headers, {"subject": "x", "toRecipients": recipients})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "ErrorInvalidRecipients"


def test_inline_attachments_travel_with_the_mail(
    client: FlaskClient, user_headers: dict[str, str], app_headers: dict[str, str]
) -> None:
    payload = base64.b64encode(b"Hello World!").decode()
    response = send(
        client,
        user_headers,
        {
            "subject": "File for you",
            "toRecipients": [address(OTHER_USER)],
            "attachments": [
                {
                    "@odata.type": "#microsoft.graph.fileAttachment",
                    "name": "attachment.txt",
                    "contentType": "text/plain",
                    "contentBytes": payload,
                }
            ],
        },
    )
    assert response.status_code == 202
    delivered = newest(client, app_headers, "inbox", OTHER_USER["mail"])
    assert delivered["hasAttachments"] is True
    attachments = client.get(
        f"/v1.0/users/{OTHER_USER['mail']}/messages/{delivered['id']}/attachments", headers=app_headers
    ).get_json()["value"]
    assert [(a["name"], a["contentBytes"]) for a in attachments] == [("attachment.txt", payload)]
    bad = send(
        client,
        user_headers,
        {
            "subject": "x",
            "toRecipients": [address(OTHER_USER)],
            "attachments": [{"name": "a.bin", "contentBytes": "***"}],
        },
    )
    assert bad.status_code == 400


def test_requests_over_4_mb_are_refused(client: FlaskClient, user_headers: dict[str, str]) -> None:
    big = base64.b64encode(b"x" * (3 * 1024 * 1024 + 100)).decode()
    response = send(
        client,
        user_headers,
        {
            "subject": "big",
            "toRecipients": [address(OTHER_USER)],
            "attachments": [{"name": "big.bin", "contentBytes": big}],
        },
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "RequestEntityTooLarge"


def test_send_mail_as_the_shared_mailbox_and_app_only(
    client: FlaskClient, user_headers: dict[str, str], app_headers: dict[str, str]
) -> None:
    shared = client.post(
        f"/v1.0/users/{seed.SHARED_MAILBOX}/sendMail",
        headers=bearer(delegated_tokens(client, scope="Mail.Send.Shared Mail.Read")["access_token"]),
        json={"message": {"subject": "From support", "toRecipients": [address(OTHER_USER)]}},
    )
    assert shared.status_code == 202
    delivered = newest(client, app_headers, "inbox", OTHER_USER["mail"])
    assert delivered["from"]["emailAddress"]["address"] == seed.SHARED_MAILBOX

    app_only = client.post(
        f"/v1.0/users/{THIRD['mail']}/microsoft.graph.sendMail",
        headers=app_headers,
        json={"message": {"subject": "From a daemon", "toRecipients": [address(OTHER_USER)]}},
    )
    assert app_only.status_code == 202
    assert newest(client, app_headers, "sentitems", THIRD["mail"])["subject"] == "From a daemon"


def test_sending_a_draft(
    client: FlaskClient, user_headers: dict[str, str], app_headers: dict[str, str]
) -> None:
    draft = client.post(
        "/v1.0/me/messages",
        headers=user_headers,
        json={"subject": "Draft to send", "toRecipients": [address(OTHER_USER)]},
    ).get_json()
    assert client.post(f"/v1.0/me/messages/{draft['id']}/send", headers=user_headers).status_code == 202
    assert client.get(f"/v1.0/me/messages/{draft['id']}", headers=user_headers).status_code == 404
    assert newest(client, user_headers, "sentitems")["subject"] == "Draft to send"
    assert newest(client, app_headers, "inbox", OTHER_USER["mail"])["subject"] == "Draft to send"
    received = newest(client, user_headers, "inbox")
    again = client.post(f"/v1.0/me/messages/{received['id']}/send", headers=user_headers)
    assert again.status_code == 400
