"""Item attachments (an attached message, event or contact) and links (referenceAttachment) on the
sandbox, as Graph documents them: seeded examples to read, ``$expand=microsoft.graph.itemattachment/item``
(nested too), ``$value`` as MIME / iCalendar / vCard, and adding an item attachment."""

from __future__ import annotations

import email
from email import policy
from typing import Any

from flask.testing import FlaskClient

ME = "/v1.0/me"


def _host_message(client: FlaskClient, headers: dict[str, str]) -> str:
    """The message documented attachment examples read: the newest one with attachments."""
    page = client.get(
        f"{ME}/messages",
        query_string={"$filter": "hasAttachments eq true", "$top": "1", "$select": "id"},
        headers=headers,
    )
    assert page.status_code == 200
    return str(page.get_json()["value"][0]["id"])


def _attachments(client: FlaskClient, headers: dict[str, str], message_id: str, **query: str) -> Any:
    answer = client.get(f"{ME}/messages/{message_id}/attachments", query_string=query, headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()["value"]


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_the_newest_message_with_files_also_carries_items_and_a_link(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    message_id = _host_message(client, user_headers)
    items = _attachments(client, user_headers, message_id)
    types = [item["@odata.type"] for item in items]
    assert types[0] == "#microsoft.graph.fileAttachment"  # the generated file stays first
    assert types[1:] == ["#microsoft.graph.itemAttachment"] * 3 + ["#microsoft.graph.referenceAttachment"]
    for item in items[1:]:
        assert "item" not in item and "contentBytes" not in item
        assert set(item) >= {"id", "lastModifiedDateTime", "name", "contentType", "size", "isInline"}
    assert _by_name(items)["Ruud de Vries"]["contentType"] is None


def test_expand_shows_the_attached_item_and_its_own_attachments(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    message_id = _host_message(client, user_headers)
    note = _by_name(_attachments(client, user_headers, message_id))["Signed delivery note - order 4471"]
    url = f"{ME}/messages/{message_id}/attachments/{note['id']}"
    plain = client.get(url, headers=user_headers).get_json()
    assert "item" not in plain
    expanded = client.get(
        url, query_string={"$expand": "microsoft.graph.itemAttachment/item"}, headers=user_headers
    ).get_json()
    item = expanded["item"]
    assert expanded["item@odata.context"].endswith("/microsoft.graph.itemAttachment/item/$entity")
    assert item["@odata.type"] == "#microsoft.graph.message"
    assert item["subject"] == "Signed delivery note - order 4471"
    assert item["from"]["emailAddress"]["address"] == "lena.fischer@northbeam-logistics.com"
    assert item["hasAttachments"] is True
    (nested,) = item["attachments"]
    assert nested["name"] == "delivery-note-4471.txt" and "item" not in nested
    # a file attachment answers the same expansion with its own properties (nothing to expand)
    files = _attachments(client, user_headers, message_id)[0]
    answer = client.get(
        f"{ME}/messages/{message_id}/attachments/{files['id']}",
        query_string={"$expand": "microsoft.graph.itemattachment/item"},
        headers=user_headers,
    )
    assert answer.status_code == 200 and "item" not in answer.get_json()
    wrong = client.get(url, query_string={"$expand": "attachments"}, headers=user_headers)
    assert wrong.status_code == 400


def test_value_is_mime_icalendar_and_vcard(client: FlaskClient, user_headers: dict[str, str]) -> None:
    message_id = _host_message(client, user_headers)
    named = _by_name(_attachments(client, user_headers, message_id))

    def value(name: str) -> tuple[str, bytes]:
        answer = client.get(
            f"{ME}/messages/{message_id}/attachments/{named[name]['id']}/$value", headers=user_headers
        )
        assert answer.status_code == 200
        return str(answer.mimetype), answer.get_data()

    kind, raw = value("Signed delivery note - order 4471")
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Signed delivery note - order 4471"
    assert "lena.fischer@northbeam-logistics.com" in parsed["From"]
    files = [part for part in parsed.iter_attachments()]
    assert [f.get_filename() for f in files] == ["delivery-note-4471.txt"]
    assert files[0].get_content().startswith("Order 4471")

    kind, raw = value("Warehouse walkthrough")
    text = raw.decode()
    assert kind == "text/calendar"
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "SUMMARY:Warehouse walkthrough\r\n" in text
    assert "LOCATION:Rotterdam depot\\, gate 3\r\n" in text  # commas escaped (RFC 5545)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))

    kind, raw = value("Ruud de Vries")
    text = raw.decode()
    assert kind == "text/vcard"
    assert "FN:Ruud de Vries\r\n" in text and "N:de Vries;Ruud;;;\r\n" in text
    assert "EMAIL;TYPE=INTERNET:ruud.devries@northbeam-logistics.com\r\n" in text

    link = client.get(
        f"{ME}/messages/{message_id}/attachments/{named['Depot capacity plan.xlsx']['id']}/$value",
        headers=user_headers,
    )
    assert link.status_code == 400


def test_post_an_item_attachment_then_read_it_back(client: FlaskClient, user_headers: dict[str, str]) -> None:
    draft = client.post(f"{ME}/messages", json={"subject": "With an event"}, headers=user_headers).get_json()
    body = {
        "@odata.type": "#microsoft.graph.itemAttachment",
        "name": "Budget review",
        "item": {
            "@odata.type": "microsoft.graph.event",
            "subject": "Budget review",
            "body": {"contentType": "HTML", "content": "Bring the <b>Q3</b> numbers."},
            "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2026-03-02T10:00:00", "timeZone": "Pacific Standard Time"},
        },
    }
    created = client.post(f"{ME}/messages/{draft['id']}/attachments", json=body, headers=user_headers)
    assert created.status_code == 201, created.get_data(as_text=True)
    made = created.get_json()
    assert made["@odata.type"] == "#microsoft.graph.itemAttachment" and "item" not in made
    assert made["name"] == "Budget review" and made["contentType"] is None and made["size"] > 0
    message = client.get(f"{ME}/messages/{draft['id']}", headers=user_headers).get_json()
    assert message["hasAttachments"] is True
    ics = client.get(
        f"{ME}/messages/{draft['id']}/attachments/{made['id']}/$value", headers=user_headers
    ).get_data(as_text=True)
    assert "DTSTART:20260302T170000Z\r\n" in ics  # 09:00 Pacific = 17:00 UTC
    # the whole draft's MIME carries the event as a text/calendar part
    mime = client.get(f"{ME}/messages/{draft['id']}/$value", headers=user_headers).get_data()
    parts = list(email.message_from_bytes(mime, policy=policy.default).iter_attachments())
    assert [p.get_content_type() for p in parts] == ["text/calendar"]


def test_bad_item_attachments_are_refused_like_graph(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    draft = client.post(f"{ME}/messages", json={"subject": "x"}, headers=user_headers).get_json()
    url = f"{ME}/messages/{draft['id']}/attachments"
    no_type = {"@odata.type": "#microsoft.graph.itemAttachment", "item": {"subject": "no type"}}
    assert client.post(url, json=no_type, headers=user_headers).status_code == 400
    unknown = {"@odata.type": "#microsoft.graph.itemAttachment", "colour": "red", "item": {}}
    answer = client.post(url, json=unknown, headers=user_headers)
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "RequestBodyRead"
    no_start = {
        "@odata.type": "#microsoft.graph.itemAttachment",
        "item": {"@odata.type": "#microsoft.graph.event"},
    }
    assert client.post(url, json=no_start, headers=user_headers).status_code == 400
