"""What real Graph clients send and get: PascalCase action parameters, function-call syntax, @odata.type
annotations, Graph-form enums and defaults, https-only notification URLs, keep-alive, whole-second
Retry-After, the latency model."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from sandbox import seed
from sandbox.app import create_app
from sandbox.config import LatencyModel, SandboxConfig
from sandbox.latency import Latency
from sandbox.server import SandboxServer
from tests.sandbox.conftest import FULL_SCOPES, OTHER_USER, bearer, delegated_tokens, state_of

SCOPES = FULL_SCOPES + " Calendars.ReadWrite Contacts.ReadWrite"


@pytest.fixture
def app() -> Flask:
    return create_app(SandboxConfig(messages_per_user=30, notification_interval=0))


@pytest.fixture
def headers(client: FlaskClient) -> dict[str, str]:
    return bearer(delegated_tokens(client, scope=SCOPES)["access_token"])


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def _newest(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    return dict(_ok(client.get("/v1.0/me/mailFolders/inbox/messages?$top=1", headers=headers))["value"][0])


def test_send_mail_takes_pascal_case_parameters(client: FlaskClient, headers: dict[str, str]) -> None:
    body = {
        "Message": {"subject": "Pascal", "toRecipients": [{"emailAddress": {"address": OTHER_USER["mail"]}}]},
        "SaveToSentItems": False,
    }
    _ok(client.post("/v1.0/me/sendMail", headers=headers, json=body), 202)
    sent = _ok(client.get("/v1.0/me/mailFolders/sentitems/messages?$top=1", headers=headers))["value"]
    assert not sent or sent[0]["subject"] != "Pascal"  # SaveToSentItems: false was understood

    refused = client.post("/v1.0/me/sendMail", headers=headers, json={**body, "Bogus": 1})
    assert refused.status_code == 400
    message = refused.get_json()["error"]["message"]
    assert "'microsoft.graph.sendMail'" in message and "microsoft.graph.microsoft.graph" not in message


def test_reply_move_and_respond_take_pascal_case(client: FlaskClient, headers: dict[str, str]) -> None:
    original = _newest(client, headers)
    _ok(
        client.post(
            f"/v1.0/me/messages/{original['id']}/createReply", headers=headers, json={"Comment": "Hi"}
        ),
        201,
    )
    moved = _ok(
        client.post(
            f"/v1.0/me/messages/{original['id']}/move", headers=headers, json={"DestinationId": "archive"}
        ),
        201,
    )
    assert moved["parentFolderId"] == _ok(client.get("/v1.0/me/mailFolders/archive", headers=headers))["id"]
    events = _ok(client.get("/v1.0/me/events?$top=100&$select=subject,isOrganizer", headers=headers))["value"]
    invitation = next(e for e in events if not e["isOrganizer"])
    answer = client.post(
        f"/v1.0/me/events/{invitation['id']}/accept",
        headers=headers,
        json={"Comment": "Yes", "SendResponse": False},
    )
    assert answer.status_code == 202, answer.get_data(as_text=True)
    schedule = _ok(
        client.post(
            "/v1.0/me/calendar/getSchedule",
            headers=headers,
            json={
                "Schedules": [seed.USERS[0]["mail"]],
                "StartTime": {"dateTime": "2030-01-07T08:00:00", "timeZone": "UTC"},
                "EndTime": {"dateTime": "2030-01-07T18:00:00", "timeZone": "UTC"},
                "AvailabilityViewInterval": 60,
            },
        )
    )
    assert len(schedule["value"][0]["availabilityView"]) == 10
    assert "workingHours" in schedule["value"][0]


@pytest.mark.parametrize("suffix", ["delta()", "microsoft.graph.delta()", "delta"])
def test_function_call_syntax(client: FlaskClient, headers: dict[str, str], suffix: str) -> None:
    page = _ok(client.get(f"/v1.0/me/mailFolders/inbox/messages/{suffix}", headers=headers))
    assert page["value"] and ("@odata.nextLink" in page or "@odata.deltaLink" in page)
    window = "startDateTime=2030-01-01T00:00:00Z&endDateTime=2030-02-01T00:00:00Z"
    _ok(client.get(f"/v1.0/me/calendarView/{suffix}?{window}", headers=headers))


def test_events_answer_in_graph_form(client: FlaskClient, headers: dict[str, str]) -> None:
    body = {
        "@odata.type": "#microsoft.graph.event",
        "subject": "Weekly",
        "showAs": "Busy",
        "start": {"dateTime": "2030-01-07T10:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2030-01-07T11:00:00", "timeZone": "Pacific Standard Time"},
        "location": {"displayName": "Harry's Bar"},
        "attendees": [{"type": "Required", "emailAddress": {"address": "x@example.org"}}],
        "recurrence": {
            "pattern": {"type": "Weekly", "daysOfWeek": ["Monday"], "interval": 1},
            "range": {"type": "NoEnd", "startDate": "2030-01-07"},
        },
    }
    event = _ok(client.post("/v1.0/me/events", headers=headers, json=body), 201)
    assert "uid" not in event
    assert event["showAs"] == "busy" and event["attendees"][0]["type"] == "required"
    assert event["location"]["uniqueId"] == "Harry's Bar" and event["location"]["uniqueIdType"] == "private"
    pattern, range_ = event["recurrence"]["pattern"], event["recurrence"]["range"]
    assert pattern["type"] == "weekly" and pattern["daysOfWeek"] == ["monday"]
    assert (pattern["firstDayOfWeek"], pattern["index"], pattern["month"], pattern["dayOfMonth"]) == (
        "sunday",
        "first",
        0,
        0,
    )
    assert range_["type"] == "noEnd" and range_["recurrenceTimeZone"] == "Pacific Standard Time"
    assert range_["numberOfOccurrences"] == 0
    bad = client.post("/v1.0/me/events", headers=headers, json={**body, "showAs": "sometimes"})
    assert bad.status_code == 400 and "freeBusyStatus" in bad.get_json()["error"]["message"]


# -- endpoints real clients use ------------------------------------------------------------------------
def test_folder_and_contact_delta_report_changes(client: FlaskClient, headers: dict[str, str]) -> None:
    first = _ok(client.get("/v1.0/me/mailFolders/delta()", headers=headers))
    assert any(f["displayName"] == "Inbox" for f in first["value"])
    link = first["@odata.deltaLink"].replace("http://localhost", "")
    _ok(client.post("/v1.0/me/mailFolders", headers=headers, json={"displayName": "Delta probe"}), 201)
    second = _ok(client.get(link, headers=headers))
    assert [f["displayName"] for f in second["value"]] == ["Delta probe"]

    contacts = _ok(client.get("/v1.0/me/contacts/delta", headers=headers))
    gone = contacts["value"][0]["id"]
    link = contacts["@odata.deltaLink"].replace("http://localhost", "")
    assert client.delete(f"/v1.0/me/contacts/{gone}", headers=headers).status_code == 204
    after = _ok(client.get(link, headers=headers))
    assert after["value"] == [
        {"@odata.type": "#microsoft.graph.contact", "id": gone, "@removed": {"reason": "deleted"}}
    ]
    assert client.get("/v1.0/me/contacts/delta?$deltatoken=nope", headers=headers).status_code == 410


def test_calendar_groups_event_attachments_and_reminders(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    groups = _ok(client.get("/v1.0/me/calendarGroups", headers=headers))["value"]
    assert [g["name"] for g in groups] == ["My Calendars"]
    calendars = _ok(client.get(f"/v1.0/me/calendarGroups/{groups[0]['id']}/calendars", headers=headers))[
        "value"
    ]
    assert calendars[0]["isDefaultCalendar"] is True

    body = {
        "subject": "With a file",
        "start": {"dateTime": "2030-03-01T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-03-01T11:00:00", "timeZone": "UTC"},
    }
    event = _ok(client.post("/v1.0/me/events", headers=headers, json=body), 201)
    base = f"/v1.0/me/events/{event['id']}"
    file = {"@odata.type": "#microsoft.graph.fileAttachment", "name": "a.txt", "contentBytes": "SGVsbG8="}
    added = _ok(client.post(f"{base}/attachments", headers=headers, json=file), 201)
    assert _ok(client.get(base, headers=headers))["hasAttachments"] is True
    assert [a["name"] for a in _ok(client.get(f"{base}/attachments", headers=headers))["value"]] == ["a.txt"]
    assert _ok(client.get(f"{base}/attachments/{added['id']}", headers=headers))["contentBytes"] == "SGVsbG8="
    assert client.delete(f"{base}/attachments/{added['id']}", headers=headers).status_code == 204

    snooze = {"NewReminderTime": {"dateTime": "2030-03-01T09:50:00", "timeZone": "UTC"}}
    assert client.post(f"{base}/snoozeReminder", headers=headers, json=snooze).status_code == 200
    assert _ok(client.get(base, headers=headers))["reminderMinutesBeforeStart"] == 10
    assert client.post(f"{base}/dismissReminder", headers=headers).status_code == 200
    assert _ok(client.get(base, headers=headers))["isReminderOn"] is False
    assert client.post(f"{base}/permanentDelete", headers=headers).status_code == 204
    assert client.get(base, headers=headers).status_code == 404


def test_message_rules_and_folder_permanent_delete(client: FlaskClient, headers: dict[str, str]) -> None:
    base = "/v1.0/me/mailFolders/inbox/messageRules"
    rule = {
        "displayName": "From partner",
        "sequence": 2,
        "isEnabled": True,
        "conditions": {"senderContains": ["adele"]},
        "actions": {
            "forwardTo": [{"emailAddress": {"address": "alexw@example.org"}}],
            "stopProcessingRules": True,
        },
    }
    created = _ok(client.post(base, headers=headers, json=rule), 201)
    assert created["hasError"] is False and created["conditions"] == rule["conditions"]
    changed = _ok(client.patch(f"{base}/{created['id']}", headers=headers, json={"displayName": "Renamed"}))
    assert changed["displayName"] == "Renamed" and changed["sequence"] == 2
    assert [r["displayName"] for r in _ok(client.get(base, headers=headers))["value"]] == ["Renamed"]
    assert client.post(base, headers=headers, json={"displayName": "x"}).status_code == 400
    assert client.delete(f"{base}/{created['id']}", headers=headers).status_code == 204
    assert _ok(client.get(base, headers=headers))["value"] == []

    folder = _ok(client.post("/v1.0/me/mailFolders", headers=headers, json={"displayName": "Doomed"}), 201)
    assert (
        client.post(f"/v1.0/me/mailFolders/{folder['id']}/permanentDelete", headers=headers).status_code
        == 204
    )
    assert client.get(f"/v1.0/me/mailFolders/{folder['id']}", headers=headers).status_code == 404
    names = [
        f["displayName"]
        for f in _ok(client.get("/v1.0/me/mailFolders/deleteditems/childFolders", headers=headers))["value"]
    ]
    assert "Doomed" not in names
    assert client.post("/v1.0/me/mailFolders/inbox/permanentDelete", headers=headers).status_code == 400


# -- service behaviour ---------------------------------------------------------------------------------
def test_notification_urls_must_be_https_unless_the_local_option_is_set(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    body = {
        "changeType": "created",
        "notificationUrl": "http://127.0.0.1:9/hook",
        "resource": "me/messages",
        "expirationDateTime": "2099-01-01T00:00:00Z",
    }
    refused = client.post("/v1.0/subscriptions", headers=headers, json=body)
    assert refused.status_code == 400 and "https" in refused.get_json()["error"]["message"]


def test_the_sandboxs_own_webhook_endpoint_is_taken_over_http(app: Flask, headers: dict[str, str]) -> None:
    with SandboxServer(app=app) as server, httpx.Client(base_url=server.graph_url, headers=headers) as http:
        body = {
            "changeType": "created",
            "notificationUrl": f"{server.url}/_sandbox/webhooks/forms",
            "resource": "me/messages",
            "expirationDateTime": (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        made = http.post("/subscriptions", json=body)
        assert made.status_code == 201, made.text


def test_keep_alive_and_whole_second_retry_after(app: Flask) -> None:
    with SandboxServer(app=app) as server, httpx.Client(base_url=server.url) as http:
        token = delegated_tokens(app.test_client())["access_token"]
        first = http.get("/v1.0/me", headers=bearer(token))
        second = http.get("/v1.0/me", headers=bearer(token))
        assert first.status_code == second.status_code == 200
        assert first.headers.get("connection", "").lower() != "close"
        assert first.http_version == "HTTP/1.1"
        state_of(app).set_faults({"429": 1.0}, retry_after=[2.4])
        throttled = http.get("/v1.0/me", headers=bearer(token))
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"


def test_latency_model_draws_around_its_medians() -> None:
    fixed = Latency(LatencyModel(read_median=0.2, write_median=0.4, spread=0.0))
    assert fixed.draw("GET") == 0.2 and fixed.draw("PATCH") == 0.4
    spread = Latency(LatencyModel(seed=7))
    draws = [spread.draw("GET") for _ in range(2000)]
    assert sorted(draws)[1000] == pytest.approx(0.10, rel=0.1)
    assert max(draws) <= 2.0


def test_latency_makes_the_concurrency_limit_bite() -> None:
    """With each request taking Graph's time, a fifth concurrent request is refused (as on Graph)."""
    config = SandboxConfig(messages_per_user=5, latency=LatencyModel(read_median=1.0, spread=0.0))
    app = create_app(config)
    token = delegated_tokens(app.test_client())["access_token"]
    statuses: list[int] = []
    with SandboxServer(app=app) as server:
        barrier = threading.Barrier(6)

        def call() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                barrier.wait()
                statuses.append(http.get("/v1.0/me/messages?$top=1", headers=bearer(token)).status_code)

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses.count(200) == 4 and statuses.count(429) == 2
