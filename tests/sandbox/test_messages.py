"""Messages: shape, paging, OData query options, Prefer headers, drafts, updates, deletes, attachments."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox import seed
from tests.sandbox.conftest import state_of

MESSAGE_FIELDS = {
    "@odata.etag",
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "internetMessageId",
    "subject",
    "bodyPreview",
    "importance",
    "parentFolderId",
    "conversationId",
    "conversationIndex",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "isRead",
    "isDraft",
    "webLink",
    "inferenceClassification",
    "body",
    "sender",
    "from",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "flag",
}


def get_json(client: FlaskClient, path: str, headers: dict[str, str], status: int = 200) -> Any:
    response = client.get(path, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def error_code(client: FlaskClient, path: str, headers: dict[str, str]) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 400, response.get_data(as_text=True)
    return str(response.get_json()["error"]["code"])


def all_pages(client: FlaskClient, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    url: str | None = path
    while url:
        body = get_json(client, url, headers)
        items += body["value"]
        url = body.get("@odata.nextLink")
    return items


def test_default_listing(client: FlaskClient, user_headers: dict[str, str]) -> None:
    body = get_json(client, "/v1.0/me/messages", user_headers)
    assert (
        body["@odata.context"] == f"http://localhost/v1.0/$metadata#users('{seed.USERS[0]['id']}')/messages"
    )
    assert len(body["value"]) == 10
    received = [m["receivedDateTime"] for m in body["value"]]
    assert received == sorted(received, reverse=True)
    first = body["value"][0]
    assert set(first) == MESSAGE_FIELDS
    assert first["@odata.etag"] == f'W/"{first["changeKey"]}"'
    assert first["body"]["contentType"] in ("html", "text")
    assert first["webLink"].startswith("https://outlook.office365.com/owa/?ItemID=")
    assert "=" in first["id"] and len(first["id"]) > 60
    link = urlsplit(body["@odata.nextLink"])
    assert (link.scheme, link.netloc, link.path, link.query) == (
        "http",
        "localhost",
        "/v1.0/me/messages",
        "$skip=10",
    )


def test_next_links_return_every_message_exactly_once(
    app: Flask, client: FlaskClient, user_headers: dict[str, str]
) -> None:
    items = all_pages(
        client, "/v1.0/me/mailFolders/inbox/messages?$top=97&$select=subject,receivedDateTime", user_headers
    )
    ids = [m["id"] for m in items]
    box = state_of(app).mailbox(seed.USERS[0]["id"])
    expected = {m["id"] for m in box.messages_in(box.well_known["inbox"])}
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    assert all(set(m) == {"@odata.etag", "id", "subject", "receivedDateTime"} for m in items)


def test_next_link_keeps_the_other_options(client: FlaskClient, user_headers: dict[str, str]) -> None:
    path = "/v1.0/me/messages?$filter=importance eq 'high'&$select=subject,importance&$top=5"
    body = get_json(client, path, user_headers)
    query = urlsplit(body["@odata.nextLink"]).query
    assert "$filter=importance%20eq%20'high'" in query and "$select=subject,importance" in query
    assert "$top=5" in query and query.endswith("$skip=5")
    second = get_json(client, body["@odata.nextLink"], user_headers)
    assert all(m["importance"] == "high" for m in second["value"])


def test_top_limits(client: FlaskClient, user_headers: dict[str, str]) -> None:
    everything = get_json(client, "/v1.0/me/messages?$top=1000&$select=id", user_headers)
    assert len(everything["value"]) == 900 and "@odata.nextLink" not in everything  # 900 per mailbox
    assert error_code(client, "/v1.0/me/messages?$top=1001", user_headers) == "ErrorInvalidUrlQuery"
    assert error_code(client, "/v1.0/me/messages?$top=0", user_headers) == "ErrorInvalidUrlQuery"
    assert error_code(client, "/v1.0/me/messages?$top=ten", user_headers) == "BadRequest"
    assert len(get_json(client, "/v1.0/me/messages?top=3", user_headers)["value"]) == 3  # dollar-less form


def test_select(client: FlaskClient, user_headers: dict[str, str]) -> None:
    body = get_json(client, "/v1.0/me/messages?$select=Subject,from&$top=2", user_headers)
    assert body["@odata.context"].endswith("/messages(subject,from)")
    assert all(set(m) == {"@odata.etag", "id", "subject", "from"} for m in body["value"])
    assert (
        error_code(client, "/v1.0/me/messages?$select=subject,colour", user_headers)
        == "RequestBroker--ParseUri"
    )


def test_orderby(client: FlaskClient, user_headers: dict[str, str]) -> None:
    subjects = [
        m["subject"]
        for m in get_json(
            client, "/v1.0/me/messages?$orderby=subject asc&$top=50&$select=subject", user_headers
        )["value"]
    ]
    assert subjects == sorted(subjects, key=str.lower)
    oldest = get_json(client, "/v1.0/me/messages?$orderby=receivedDateTime&$top=5", user_headers)["value"]
    dates = [m["receivedDateTime"] for m in oldest]
    assert dates == sorted(dates)
    assert error_code(client, "/v1.0/me/messages?$orderby=colour", user_headers) == "RequestBroker--ParseUri"


@pytest.mark.parametrize(
    ("expression", "check"),
    [
        ("isRead eq false", lambda m: m["isRead"] is False),
        ("isRead eq true and hasAttachments eq true", lambda m: m["isRead"] and m["hasAttachments"]),
        ("importance eq 'high'", lambda m: m["importance"] == "high"),
        (
            "from/emailAddress/address eq 'LENA.FISCHER@northbeam-logistics.com'",
            lambda m: m["from"]["emailAddress"]["address"] == "lena.fischer@northbeam-logistics.com",
        ),
        ("categories/any(c:c eq 'Red category')", lambda m: "Red category" in m["categories"]),
        ("importance eq 'low' or importance eq 'high'", lambda m: m["importance"] in ("low", "high")),
        ("not (isRead eq true)", lambda m: not m["isRead"]),
        ("startswith(subject, 'Re')", lambda m: m["subject"].lower().startswith("re")),
        ("contains(subject,'budget')", lambda m: "budget" in m["subject"].lower()),
        (
            "toRecipients/any(r:r/emailAddress/address eq 'jordan.okafor@meridiantraders.onmicrosoft.com')",
            lambda m: any(
                r["emailAddress"]["address"] == "jordan.okafor@meridiantraders.onmicrosoft.com"
                for r in m["toRecipients"]
            ),
        ),
        ("flag/flagStatus eq 'flagged'", lambda m: m["flag"]["flagStatus"] == "flagged"),
    ],
)
def test_filter(client: FlaskClient, user_headers: dict[str, str], expression: str, check: Any) -> None:
    items = all_pages(client, f"/v1.0/me/messages?$top=1000&$filter={expression}", user_headers)
    assert items, expression
    assert all(check(m) for m in items), expression


def test_filter_on_dates(app: Flask, client: FlaskClient, user_headers: dict[str, str]) -> None:
    stamps = sorted(
        m["receivedDateTime"] for m in state_of(app).mailbox(seed.USERS[0]["id"]).messages.values()
    )
    low, high = stamps[100], stamps[300]
    expression = f"receivedDateTime ge {low} and receivedDateTime lt {high[:10]}"
    body = get_json(client, f"/v1.0/me/messages?$filter={expression}&$count=true&$top=1000", user_headers)
    assert body["@odata.count"] == sum(low <= s < high[:10] for s in stamps) == len(body["value"]) > 0
    assert all(low <= m["receivedDateTime"] < high[:10] for m in body["value"])
    newest = datetime.fromisoformat(stamps[-1].replace("Z", "+00:00")).isoformat()  # with a +00:00 offset
    assert (
        get_json(
            client,
            f"/v1.0/me/messages?$filter=receivedDateTime ge {newest.replace('+', '%2B')}",
            user_headers,
        )["value"][0]["receivedDateTime"]
        == stamps[-1]
    )


@pytest.mark.parametrize(
    ("expression", "code"),
    [
        ("isRead eq", "BadRequest"),
        ("isRead eq 'yes'", "BadRequest"),
        ("colour eq 'red'", "RequestBroker--ParseUri"),
        ("body/content eq 'x'", "ErrorInvalidUrlQueryFilter"),
        ("categories/all(c:c eq 'x')", "ErrorInvalidUrlQueryFilter"),
        ("(isRead eq true", "BadRequest"),
    ],
)
def test_bad_filters(client: FlaskClient, user_headers: dict[str, str], expression: str, code: str) -> None:
    assert error_code(client, f"/v1.0/me/messages?$filter={expression}", user_headers) == code


def test_filter_with_orderby_follows_exchange_rules(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    path = "/v1.0/me/messages?$filter=isRead eq false&$orderby=receivedDateTime desc"
    assert error_code(client, path, user_headers) == "InefficientFilter"
    ok = (
        "/v1.0/me/messages?$filter=receivedDateTime ge 1900-01-01 and isRead eq false"
        "&$orderby=receivedDateTime desc"
    )
    assert all(not m["isRead"] for m in get_json(client, ok, user_headers)["value"])


def test_search(client: FlaskClient, user_headers: dict[str, str]) -> None:
    items = all_pages(client, '/v1.0/me/messages?$search="invoice"&$top=200', user_headers)
    assert items
    for message in items:
        haystack = (
            f"{message['subject']} {message['body']['content']} {message['from']['emailAddress']}".lower()
        )
        assert "invoice" in haystack
    by_subject = all_pages(client, '/v1.0/me/messages?$search="subject:budget"&$top=200', user_headers)
    assert by_subject and all("budget" in m["subject"].lower() for m in by_subject)
    assert (
        error_code(client, '/v1.0/me/messages?$search="x"&$orderby=subject', user_headers)
        == "SearchWithOrderBy"
    )
    assert (
        error_code(client, '/v1.0/me/messages?$search="x"&$filter=isRead eq true', user_headers)
        == "SearchWithFilter"
    )
    assert error_code(client, '/v1.0/me/messages?$search="x', user_headers) == "BadRequest"


def test_prefer_text_body(client: FlaskClient, user_headers: dict[str, str]) -> None:
    html_message = next(
        m
        for m in get_json(client, "/v1.0/me/messages?$top=50", user_headers)["value"]
        if m["body"]["contentType"] == "html"
    )
    response = client.get(
        f"/v1.0/me/messages/{html_message['id']}?$select=body,uniqueBody",
        headers={**user_headers, "Prefer": 'outlook.body-content-type="text"'},
    )
    assert response.headers["Preference-Applied"] == 'outlook.body-content-type="text"'
    body = response.get_json()
    assert body["body"]["contentType"] == "text" and "<" not in body["body"]["content"]
    assert body["uniqueBody"]["contentType"] == "text"
    immutable = client.get(
        "/v1.0/me/messages?$top=1", headers={**user_headers, "Prefer": 'IdType="ImmutableId"'}
    )
    assert immutable.headers["Preference-Applied"] == 'IdType="ImmutableId"'


def test_page_size_preference(client: FlaskClient, user_headers: dict[str, str]) -> None:
    response = client.get("/v1.0/me/messages", headers={**user_headers, "Prefer": "odata.maxpagesize=25"})
    assert len(response.get_json()["value"]) == 25
    assert "odata.maxpagesize=25" in response.headers["Preference-Applied"]


def test_get_message_by_id_and_through_its_folder(client: FlaskClient, user_headers: dict[str, str]) -> None:
    listed = get_json(client, "/v1.0/me/mailFolders/inbox/messages?$top=1", user_headers)["value"][0]
    single = get_json(client, f"/v1.0/me/messages/{listed['id']}", user_headers)
    assert single["@odata.context"].endswith("/messages/$entity")
    assert {k: v for k, v in single.items() if k != "@odata.context"} == listed
    assert (
        get_json(client, f"/v1.0/me/mailFolders/inbox/messages/{listed['id']}", user_headers)["id"]
        == listed["id"]
    )
    assert (
        client.get(
            f"/v1.0/me/mailFolders/sentitems/messages/{listed['id']}", headers=user_headers
        ).status_code
        == 404
    )
    assert error_code(client, "/v1.0/me/messages/nope", user_headers) == "ErrorInvalidIdMalformed"
    missing = client.get(
        "/v1.0/me/messages/AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAAA=", headers=user_headers
    )
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "ErrorItemNotFound"


def test_drafts_can_be_created_and_edited(client: FlaskClient, user_headers: dict[str, str]) -> None:
    created = client.post(
        "/v1.0/me/messages",
        headers=user_headers,
        json={
            "subject": "Quarterly plan",
            "importance": "Low",
            "body": {"contentType": "HTML", "content": "They were <b>great</b>!"},
            "toRecipients": [{"emailAddress": {"address": "priya.raman@meridiantraders.onmicrosoft.com"}}],
        },
    )
    assert created.status_code == 201
    draft = created.get_json()
    assert draft["isDraft"] is True and draft["importance"] == "low"
    assert draft["bodyPreview"] == "They were great!"
    assert draft["toRecipients"][0]["emailAddress"]["name"] == "Priya Raman"
    assert "from" not in draft and "sender" not in draft
    drafts_folder = get_json(client, "/v1.0/me/mailFolders/drafts", user_headers)
    assert draft["parentFolderId"] == drafts_folder["id"]

    patched = client.patch(
        f"/v1.0/me/messages/{draft['id']}", headers=user_headers, json={"subject": "Q3 plan"}
    )
    assert patched.status_code == 200
    assert patched.get_json()["subject"] == "Q3 plan"
    assert patched.get_json()["changeKey"] != draft["changeKey"]

    in_folder = client.post(
        "/v1.0/me/mailFolders/archive/messages", headers=user_headers, json={"subject": "Note"}
    )
    assert in_folder.status_code == 201
    unknown = client.post("/v1.0/me/messages", headers=user_headers, json={"subject": "x", "colour": "red"})
    assert unknown.status_code == 400 and unknown.get_json()["error"]["code"] == "RequestBodyRead"


def test_received_messages_allow_only_some_updates(client: FlaskClient, user_headers: dict[str, str]) -> None:
    message = get_json(client, "/v1.0/me/mailFolders/inbox/messages?$top=1", user_headers)["value"][0]
    path = f"/v1.0/me/messages/{message['id']}"
    update = client.patch(
        path,
        headers=user_headers,
        json={
            "isRead": not message["isRead"],
            "categories": ["Blue category"],
            "flag": {"flagStatus": "flagged"},
        },
    )
    assert update.status_code == 200
    assert update.get_json()["isRead"] is not message["isRead"]
    assert update.get_json()["categories"] == ["Blue category"]
    refused = client.patch(path, headers=user_headers, json={"subject": "Rewritten"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "ErrorInvalidPropertyUpdateSentMessage"
    bad_type = client.patch(path, headers=user_headers, json={"isRead": "yes"})
    assert bad_type.status_code == 400


def test_delete_moves_to_deleted_items_then_removes(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    message = get_json(client, "/v1.0/me/mailFolders/inbox/messages?$top=1&$select=subject", user_headers)[
        "value"
    ][0]
    before = get_json(client, "/v1.0/me/mailFolders/deleteditems", user_headers)["totalItemCount"]
    assert client.delete(f"/v1.0/me/messages/{message['id']}", headers=user_headers).status_code == 204
    assert client.get(f"/v1.0/me/messages/{message['id']}", headers=user_headers).status_code == 404
    assert get_json(client, "/v1.0/me/mailFolders/deleteditems", user_headers)["totalItemCount"] == before + 1
    moved = get_json(
        client,
        f"/v1.0/me/mailFolders/deleteditems/messages?$filter=subject eq "
        f"'{message['subject'].replace(chr(39), chr(39) * 2)}'&$top=100",
        user_headers,
    )["value"]
    assert moved
    newest = max(moved, key=lambda m: m["lastModifiedDateTime"])
    assert client.delete(f"/v1.0/me/messages/{newest['id']}", headers=user_headers).status_code == 204
    assert get_json(client, "/v1.0/me/mailFolders/deleteditems", user_headers)["totalItemCount"] == before


def test_move_keeps_the_id_only_with_immutable_ids(client: FlaskClient, user_headers: dict[str, str]) -> None:
    message = get_json(client, "/v1.0/me/mailFolders/inbox/messages?$top=2", user_headers)["value"]
    moved = client.post(
        f"/v1.0/me/messages/{message[0]['id']}/move", headers=user_headers, json={"destinationId": "archive"}
    )
    assert moved.status_code == 201 and moved.get_json()["id"] != message[0]["id"]
    kept = client.post(
        f"/v1.0/me/messages/{message[1]['id']}/microsoft.graph.move",
        headers={**user_headers, "Prefer": 'IdType="ImmutableId"'},
        json={"destinationId": "archive"},
    )
    assert kept.status_code == 201 and kept.get_json()["id"] == message[1]["id"]


def test_attachments(client: FlaskClient, user_headers: dict[str, str]) -> None:
    message = get_json(client, "/v1.0/me/messages?$filter=hasAttachments eq true&$top=1", user_headers)[
        "value"
    ][0]
    listed = get_json(client, f"/v1.0/me/messages/{message['id']}/attachments", user_headers)
    assert listed["@odata.context"].endswith(f"/messages('{message['id']}')/attachments")
    attachment = listed["value"][0]
    assert attachment["@odata.type"] == "#microsoft.graph.fileAttachment"
    data = base64.b64decode(attachment["contentBytes"])
    assert data and attachment["name"]
    single = get_json(
        client, f"/v1.0/me/messages/{message['id']}/attachments/{attachment['id']}", user_headers
    )
    assert single["contentBytes"] == attachment["contentBytes"]
    raw = client.get(
        f"/v1.0/me/messages/{message['id']}/attachments/{attachment['id']}/$value", headers=user_headers
    )
    assert raw.data == data and raw.mimetype == attachment["contentType"]
    expanded = get_json(client, f"/v1.0/me/messages/{message['id']}?$expand=attachments", user_headers)
    assert [a["id"] for a in expanded["attachments"]] == [a["id"] for a in listed["value"]]


def test_attachment_payloads_are_real_files(app: Flask) -> None:
    signatures = {"image/png": b"\x89PNG", "application/pdf": b"%PDF-"}
    box = state_of(app).mailbox(seed.USERS[0]["id"])
    seen: set[str] = set()
    for attachments in box.attachments.values():
        for attachment in attachments:
            if attachment["@odata.type"] != "#microsoft.graph.fileAttachment":
                continue  # the seeded item attachments and link: tests/sandbox/test_attachments_gaps.py
            data = base64.b64decode(attachment["contentBytes"])
            magic = signatures.get(attachment["contentType"])
            assert magic is None or data.startswith(magic)
            seen.add(attachment["contentType"])
    assert {"image/png", "application/pdf", "text/csv", "text/plain"} <= seen


def test_add_and_remove_an_attachment(client: FlaskClient, user_headers: dict[str, str]) -> None:
    draft = client.post("/v1.0/me/messages", headers=user_headers, json={"subject": "With file"}).get_json()
    added = client.post(
        f"/v1.0/me/messages/{draft['id']}/attachments",
        headers=user_headers,
        json={
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": "hello.txt",
            "contentBytes": "SGVsbG8h",
        },
    )
    assert added.status_code == 201
    assert get_json(client, f"/v1.0/me/messages/{draft['id']}", user_headers)["hasAttachments"] is True
    removed = client.delete(
        f"/v1.0/me/messages/{draft['id']}/attachments/{added.get_json()['id']}", headers=user_headers
    )
    assert removed.status_code == 204
    assert get_json(client, f"/v1.0/me/messages/{draft['id']}", user_headers)["hasAttachments"] is False


def test_request_log_records_graph_calls_without_credentials(
    app: Flask, client: FlaskClient, user_headers: dict[str, str]
) -> None:
    client.post(
        "/v1.0/me/messages?x=1", headers={**user_headers, "client-request-id": "abc"}, json={"subject": "s"}
    )
    record = state_of(app).request_log[-1]
    assert (record.method, record.path, record.query, record.body) == (
        "POST",
        "/v1.0/me/messages",
        {"x": "1"},
        {"subject": "s"},
    )
    assert record.headers["Client-Request-Id"] == "abc"
    assert not any(name.lower() == "authorization" for name in record.headers)
    assert record.status == 201
    logged = client.get("/_sandbox/requests").get_json()["requests"]
    assert logged[-1]["path"] == "/v1.0/me/messages"
    assert user_headers["Authorization"] not in str(logged)


def test_message_mime_value(client: FlaskClient, user_headers: dict[str, str]) -> None:
    message = get_json(client, "/v1.0/me/messages?$filter=hasAttachments eq true&$top=1", user_headers)[
        "value"
    ][0]
    response = client.get(f"/v1.0/me/messages/{message['id']}/$value", headers=user_headers)
    assert response.status_code == 200
    parsed = email.message_from_bytes(response.data, policy=email.policy.default)
    assert parsed["Subject"] == message["subject"]
    assert parsed["Message-ID"] == message["internetMessageId"]
    assert message["from"]["emailAddress"]["address"] in parsed["From"]
    assert any(part.get_filename() for part in parsed.iter_attachments())
