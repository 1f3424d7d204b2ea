"""Extended properties and open extensions on messages, events and contacts; the deferred send time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox import seed
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.sandbox.conftest import FULL_SCOPES, OTHER_USER, bearer, delegated_tokens, state_of

SCOPES = FULL_SCOPES + " Calendars.ReadWrite Contacts.ReadWrite"
COLOR = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Color"
TAGS = "StringArray {66f5a359-4659-4830-9070-00047ec6ac6e} Name Tags"
DEFERRED = "SystemTime 0x3FEF"
GREEN_FILTER = f"singleValueExtendedProperties/Any(ep: ep/id eq '{COLOR}' and ep/value eq 'Green')"
START = datetime(2030, 5, 6, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> Flask:
    config = SandboxConfig(clock=clock, messages_per_user=30, notification_interval=0, token_lifetime=86_400)
    return create_app(config)


@pytest.fixture
def headers(client: FlaskClient) -> dict[str, str]:
    return bearer(delegated_tokens(client, scope=SCOPES)["access_token"])


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _draft(client: FlaskClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    body = {"subject": "With properties", "toRecipients": [{"emailAddress": {"address": OTHER_USER["mail"]}}]}
    return dict(_ok(client.post("/v1.0/me/messages", headers=headers, json={**body, **extra}), 201))


def test_message_single_and_multi_value_properties_show_only_when_expanded(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    created = _draft(
        client,
        headers,
        singleValueExtendedProperties=[{"id": COLOR, "value": "Green"}],
        multiValueExtendedProperties=[{"id": TAGS, "value": ["a", "b"]}],
    )
    assert "singleValueExtendedProperties" not in created
    plain = _ok(client.get(f"/v1.0/me/messages/{created['id']}", headers=headers))
    assert "singleValueExtendedProperties" not in plain and "multiValueExtendedProperties" not in plain

    wanted = COLOR.replace("{", "").replace("}", "").lower()  # ids compare without case or braces
    expand = (
        f"singleValueExtendedProperties($filter=id eq '{wanted}'),"
        f"multiValueExtendedProperties($filter=id eq '{TAGS}')"
    )
    got = _ok(client.get(f"/v1.0/me/messages/{created['id']}?$expand={expand}", headers=headers))
    assert got["singleValueExtendedProperties"] == [{"id": COLOR, "value": "Green"}]
    assert got["multiValueExtendedProperties"] == [{"id": TAGS, "value": ["a", "b"]}]

    other = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Size"
    none = _ok(
        client.get(
            f"/v1.0/me/messages/{created['id']}",
            headers=headers,
            query_string={"$expand": f"singleValueExtendedProperties($filter=id eq '{other}')"},
        )
    )
    assert none["singleValueExtendedProperties"] == []


def test_update_merges_properties_by_id(client: FlaskClient, headers: dict[str, str]) -> None:
    size = "Integer {66f5a359-4659-4830-9070-00047ec6ac6e} Name Size"
    created = _draft(client, headers, singleValueExtendedProperties=[{"id": COLOR, "value": "Green"}])
    _ok(
        client.patch(
            f"/v1.0/me/messages/{created['id']}",
            headers=headers,
            json={
                "singleValueExtendedProperties": [{"id": COLOR, "value": "Blue"}, {"id": size, "value": "3"}]
            },
        )
    )
    got = _ok(
        client.get(
            f"/v1.0/me/messages/{created['id']}?$expand=singleValueExtendedProperties", headers=headers
        )
    )
    assert sorted((p["id"], p["value"]) for p in got["singleValueExtendedProperties"]) == [
        (size, "3"),
        (COLOR, "Blue"),
    ]


def test_filter_messages_on_an_extended_property(client: FlaskClient, headers: dict[str, str]) -> None:
    green = _draft(client, headers, singleValueExtendedProperties=[{"id": COLOR, "value": "Green"}])
    _draft(client, headers, singleValueExtendedProperties=[{"id": COLOR, "value": "Red"}])
    found = _ok(
        client.get(
            "/v1.0/me/messages",
            headers=headers,
            query_string={"$filter": GREEN_FILTER},
        )
    )
    assert [m["id"] for m in found["value"]] == [green["id"]]


@pytest.mark.parametrize(
    ("prop", "code"),
    [
        ({"id": "Color", "value": "x"}, "ErrorInvalidProperty"),
        ({"id": "Text 0x0037", "value": "x"}, "ErrorInvalidExtendedProperty"),
        ({"id": "Integer 0x1234", "value": "many"}, "ErrorInvalidExtendedPropertyValue"),
        ({"id": DEFERRED, "value": "tomorrow"}, "ErrorInvalidExtendedPropertyValue"),
    ],
)
def test_malformed_properties_are_refused(
    client: FlaskClient, headers: dict[str, str], prop: dict[str, Any], code: str
) -> None:
    response = client.post(
        "/v1.0/me/messages", headers=headers, json={"subject": "x", "singleValueExtendedProperties": [prop]}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_open_extensions_on_messages(client: FlaskClient, headers: dict[str, str]) -> None:
    created = _draft(
        client,
        headers,
        extensions=[
            {
                "@odata.type": "microsoft.graph.openTypeExtension",
                "extensionName": "Com.Contoso.Referral",
                "companyName": "Wingtip Toys",
                "dealValue": 10000,
            }
        ],
    )
    base = f"/v1.0/me/messages/{created['id']}/extensions"
    one = _ok(client.get(f"{base}/Com.Contoso.Referral", headers=headers))
    assert one["id"] == "Microsoft.OutlookServices.OpenTypeExtension.Com.Contoso.Referral"
    assert one["@odata.type"] == "#microsoft.graph.openTypeExtension" and one["dealValue"] == 10000

    added = _ok(
        client.post(
            base,
            headers=headers,
            json={"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "X"},
        ),
        201,
    )
    assert added["extensionName"] == "X"
    assert client.post(base, headers=headers, json={"extensionName": "X"}).status_code == 409
    changed = _ok(client.patch(f"{base}/{one['id']}", headers=headers, json={"companyName": "Contoso"}))
    assert changed["companyName"] == "Contoso" and "dealValue" not in changed

    listed = _ok(
        client.get(
            "/v1.0/me/messages",
            headers=headers,
            query_string={
                "$filter": "Extensions/any(f:f/id eq 'Com.Contoso.Referral')",
                "$expand": "Extensions($filter=id eq 'Com.Contoso.Referral')",
            },
        )
    )
    assert [m["id"] for m in listed["value"]] == [created["id"]]
    assert [e["extensionName"] for e in listed["value"][0]["extensions"]] == ["Com.Contoso.Referral"]

    assert client.delete(f"{base}/X", headers=headers).status_code == 204
    assert client.get(f"{base}/X", headers=headers).status_code == 404
    assert [e["extensionName"] for e in _ok(client.get(base, headers=headers))["value"]] == [
        "Com.Contoso.Referral"
    ]


def test_event_with_type_annotation_and_properties(client: FlaskClient, headers: dict[str, str]) -> None:
    body = {
        "@odata.type": "#microsoft.graph.event",
        "subject": "Planning",
        "start": {"dateTime": "2030-05-07T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-05-07T11:00:00", "timeZone": "UTC"},
        "singleValueExtendedProperties": [{"id": COLOR, "value": "Green"}],
        "multiValueExtendedProperties": [{"id": TAGS, "value": ["x"]}],
        "extensions": [
            {"@odata.type": "#microsoft.graph.openTypeExtension", "extensionName": "Com.Example.E"}
        ],
    }
    event = _ok(client.post("/v1.0/me/events", headers=headers, json=body), 201)
    assert "singleValueExtendedProperties" not in event and "extensions" not in event
    got = _ok(
        client.get(
            f"/v1.0/me/events/{event['id']}",
            headers=headers,
            query_string={"$expand": f"multiValueExtendedProperties($filter=id eq '{TAGS}')"},
        )
    )
    assert got["multiValueExtendedProperties"] == [{"id": TAGS, "value": ["x"]}]
    listed = _ok(
        client.get(
            "/v1.0/me/events",
            headers=headers,
            query_string={"$filter": GREEN_FILTER},
        )
    )
    assert [e["id"] for e in listed["value"]] == [event["id"]]
    assert (
        _ok(client.get(f"/v1.0/me/events/{event['id']}/extensions/Com.Example.E", headers=headers))[
            "extensionName"
        ]
        == "Com.Example.E"
    )
    patched = client.patch(
        f"/v1.0/me/events/{event['id']}",
        headers=headers,
        json={"@odata.type": "#microsoft.graph.event", "subject": "Planning 2"},
    )
    assert _ok(patched)["subject"] == "Planning 2"


def test_contact_properties_and_extensions(client: FlaskClient, headers: dict[str, str]) -> None:
    contact = _ok(
        client.post(
            "/v1.0/me/contacts",
            headers=headers,
            json={"givenName": "Ada", "singleValueExtendedProperties": [{"id": COLOR, "value": "Green"}]},
        ),
        201,
    )
    assert "singleValueExtendedProperties" not in contact
    got = _ok(
        client.get(
            f"/v1.0/me/contacts/{contact['id']}?$expand=singleValueExtendedProperties", headers=headers
        )
    )
    assert got["singleValueExtendedProperties"] == [{"id": COLOR, "value": "Green"}]
    base = f"/v1.0/me/contacts/{contact['id']}/extensions"
    _ok(client.post(base, headers=headers, json={"extensionName": "Com.Example.C", "n": 1}), 201)
    assert _ok(client.get(base, headers=headers))["value"][0]["n"] == 1


def test_unknown_expansion_is_refused(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get("/v1.0/me/messages?$expand=nonsense", headers=headers)
    assert response.status_code == 400
    assert "nonsense" in response.get_json()["error"]["message"]


# -- deferred send ------------------------------------------------------------------------------------------
def _inbox_subjects(client: FlaskClient, user: dict[str, Any]) -> list[str]:
    other = bearer(delegated_tokens(client, user=user["userPrincipalName"])["access_token"])
    found = _ok(client.get("/v1.0/me/mailFolders/inbox/messages?$top=50&$select=subject", headers=other))
    return [m["subject"] for m in found["value"]]


def _outbox(client: FlaskClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    return list(_ok(client.get("/v1.0/me/mailFolders/outbox/messages", headers=headers))["value"])


def _deferred_message(subject: str, when: datetime) -> dict[str, Any]:
    return {
        "subject": subject,
        "toRecipients": [{"emailAddress": {"address": OTHER_USER["mail"]}}],
        "singleValueExtendedProperties": [{"id": DEFERRED, "value": when.strftime("%Y-%m-%dT%H:%M:%SZ")}],
    }


def test_send_mail_with_a_deferred_time_is_held_until_then(
    app: Flask, client: FlaskClient, headers: dict[str, str], clock: Clock
) -> None:
    message = _deferred_message("Later, please", START + timedelta(hours=1))
    _ok(client.post("/v1.0/me/sendMail", headers=headers, json={"message": message}), 202)
    held = _outbox(client, headers)
    assert [m["subject"] for m in held] == ["Later, please"] and held[0]["isDraft"] is False
    assert "Later, please" not in _inbox_subjects(client, OTHER_USER)

    clock.now += 3599
    assert len(_outbox(client, headers)) == 1
    clock.now += 1
    assert _outbox(client, headers) == []  # due: sent before this request was answered
    assert "Later, please" in _inbox_subjects(client, OTHER_USER)
    sent = _ok(client.get("/v1.0/me/mailFolders/sentitems/messages?$top=1", headers=headers))["value"][0]
    assert sent["subject"] == "Later, please"
    assert state_of(app).deferred_sends == {}


def test_a_past_deferred_time_sends_at_once(client: FlaskClient, headers: dict[str, str]) -> None:
    message = _deferred_message("Right away", START - timedelta(minutes=5))
    _ok(client.post("/v1.0/me/sendMail", headers=headers, json={"message": message}), 202)
    assert _outbox(client, headers) == []
    assert "Right away" in _inbox_subjects(client, OTHER_USER)


def test_a_draft_sent_with_a_deferred_time_and_deleted_from_the_outbox_is_never_sent(
    client: FlaskClient, headers: dict[str, str], clock: Clock
) -> None:
    draft = _draft(client, headers, **_deferred_message("Cancel me", START + timedelta(minutes=10)))
    _ok(client.post(f"/v1.0/me/messages/{draft['id']}/send", headers=headers), 202)
    held = _outbox(client, headers)
    assert [m["subject"] for m in held] == ["Cancel me"]
    assert client.delete(f"/v1.0/me/messages/{held[0]['id']}", headers=headers).status_code == 204
    clock.now += 3600
    assert _outbox(client, headers) == []
    assert "Cancel me" not in _inbox_subjects(client, OTHER_USER)


def test_a_reply_with_a_deferred_time_is_held(
    client: FlaskClient, headers: dict[str, str], clock: Clock
) -> None:
    original = _ok(client.get("/v1.0/me/mailFolders/inbox/messages?$top=1", headers=headers))["value"][0]
    when = (START + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "comment": "Later",
        "message": {
            "toRecipients": [{"emailAddress": {"address": seed.USERS[2]["mail"]}}],
            "singleValueExtendedProperties": [{"id": DEFERRED, "value": when}],
        },
    }
    _ok(client.post(f"/v1.0/me/messages/{original['id']}/reply", headers=headers, json=body), 202)
    assert [m["subject"] for m in _outbox(client, headers)] == ["RE: " + original["subject"]]
    clock.now += 1800
    assert _outbox(client, headers) == []
    assert "RE: " + original["subject"] in _inbox_subjects(client, seed.USERS[2])
