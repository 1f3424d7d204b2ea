"""MIME request bodies (base64, Content-Type: text/plain) for sendMail, POST messages, reply/replyAll/
forward and createReply/createReplyAll/createForward."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from typing import Any

import pytest
from flask.testing import FlaskClient

from sandbox import seed
from tests.sandbox.conftest import OTHER_USER, bearer, delegated_tokens

THIRD = seed.USERS[2]


def mime(subject: str, to: str, *, html: bool = False, attachment: bytes | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = f"{seed.USERS[0]['displayName']} <{seed.USERS[0]['mail']}>"
    message["To"] = to
    message["Subject"] = subject
    message["X-Custom-Tag"] = "mime-test"
    message.set_content("Plain words.\n")
    if html:
        message.add_alternative("<p>Rich <b>words</b>.</p>", subtype="html")
    if attachment is not None:
        message.add_attachment(attachment, maintype="application", subtype="pdf", filename="report.pdf")
    return base64.b64encode(message.as_bytes())


def post_mime(client: FlaskClient, headers: dict[str, str], path: str, body: bytes) -> Any:
    return client.post(path, headers={**headers, "Content-Type": "text/plain"}, data=body)


def inbox_of(client: FlaskClient, user: dict[str, Any]) -> list[dict[str, Any]]:
    other = bearer(delegated_tokens(client, user=user["userPrincipalName"])["access_token"])
    answer = client.get("/v1.0/me/mailFolders/inbox/messages?$top=20&$expand=attachments", headers=other)
    return list(answer.get_json()["value"])


def test_send_mail_as_mime_delivers_it(client: FlaskClient, user_headers: dict[str, str]) -> None:
    body = mime("MIME hello", f"Someone <{OTHER_USER['mail']}>", html=True, attachment=b"%PDF-1.4 tiny")
    response = post_mime(client, user_headers, "/v1.0/me/sendMail", body)
    assert response.status_code == 202, response.get_data(as_text=True)
    got = next(m for m in inbox_of(client, OTHER_USER) if m["subject"] == "MIME hello")
    assert got["body"]["contentType"] == "html" and "<b>words</b>" in got["body"]["content"]
    assert got["hasAttachments"] is True
    assert [a["name"] for a in got["attachments"]] == ["report.pdf"]
    assert base64.b64decode(got["attachments"][0]["contentBytes"]) == b"%PDF-1.4 tiny"


def test_create_draft_from_mime(client: FlaskClient, user_headers: dict[str, str]) -> None:
    response = post_mime(
        client, user_headers, "/v1.0/me/messages", mime("Draft from MIME", OTHER_USER["mail"])
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    draft = response.get_json()
    assert draft["isDraft"] is True and draft["subject"] == "Draft from MIME"
    assert draft["toRecipients"][0]["emailAddress"]["address"] == OTHER_USER["mail"]
    assert draft["body"] == {"contentType": "text", "content": "Plain words.\n"}
    headers = client.get(
        f"/v1.0/me/messages/{draft['id']}?$select=internetMessageHeaders", headers=user_headers
    ).get_json()["internetMessageHeaders"]
    assert {"name": "X-Custom-Tag", "value": "mime-test"} in headers


@pytest.mark.parametrize("action", ["reply", "replyAll", "forward"])
def test_reply_and_forward_as_mime_send(
    client: FlaskClient, user_headers: dict[str, str], action: str
) -> None:
    original = client.get("/v1.0/me/mailFolders/inbox/messages?$top=1", headers=user_headers).get_json()[
        "value"
    ][0]
    subject = f"MIME {action}"
    response = post_mime(
        client, user_headers, f"/v1.0/me/messages/{original['id']}/{action}", mime(subject, THIRD["mail"])
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    delivered = next(m for m in inbox_of(client, THIRD) if m["subject"] == subject)
    assert delivered["conversationId"] == original["conversationId"]


@pytest.mark.parametrize("action", ["createReply", "createReplyAll", "createForward"])
def test_create_reply_and_forward_as_mime_make_drafts(
    client: FlaskClient, user_headers: dict[str, str], action: str
) -> None:
    original = client.get("/v1.0/me/mailFolders/inbox/messages?$top=1", headers=user_headers).get_json()[
        "value"
    ][0]
    response = post_mime(
        client, user_headers, f"/v1.0/me/messages/{original['id']}/{action}", mime("Drafted", THIRD["mail"])
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    draft = response.get_json()
    assert draft["isDraft"] is True and draft["subject"] == "Drafted"
    assert draft["conversationId"] == original["conversationId"]


@pytest.mark.parametrize(
    ("body", "code"),
    [(b"not base64 at all!", "ErrorMimeContentInvalidBase64String"), (b"", "ErrorMimeContentInvalid")],
)
def test_bad_mime_is_refused(
    client: FlaskClient, user_headers: dict[str, str], body: bytes, code: str
) -> None:
    response = post_mime(client, user_headers, "/v1.0/me/sendMail", body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
