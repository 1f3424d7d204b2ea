"""Meeting messages: an organizer's invitation, update and cancellation reach each in-tenant attendee's
Inbox as eventMessages, an attendee's answer reaches the organizer's, and
``$expand=microsoft.graph.eventMessage/event`` gives the copy of the meeting in the reader's calendar."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from sandbox import seed

AVERY = seed.USERS[0]["userPrincipalName"]
HANNAH = next(u["userPrincipalName"] for u in seed.USERS if u["givenName"] == "Hannah")
EXPAND = {"$expand": "microsoft.graph.eventMessage/event"}


def _meeting(client: FlaskClient, headers: dict[str, str], subject: str) -> dict[str, Any]:
    body = {
        "@odata.type": "#microsoft.graph.event",
        "subject": subject,
        "body": {"contentType": "text", "content": "Agenda: the plan"},
        "start": {"dateTime": "2030-03-04T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2030-03-04T11:00:00", "timeZone": "UTC"},
        "location": {"displayName": "Room 4"},
        "attendees": [{"emailAddress": {"address": AVERY}, "type": "required"}],
    }
    answer = client.post(f"/v1.0/users/{HANNAH}/events", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    event: dict[str, Any] = answer.get_json()
    return event


def _inbox(client: FlaskClient, headers: dict[str, str], user: str, subject: str) -> list[dict[str, Any]]:
    answer = client.get(
        f"/v1.0/users/{user}/mailFolders/inbox/messages", query_string={"$top": "100"}, headers=headers
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [m for m in answer.get_json()["value"] if m["subject"] == subject]


def _attendee_copy(client: FlaskClient, headers: dict[str, str], subject: str) -> dict[str, Any]:
    events = client.get(f"/v1.0/users/{AVERY}/events", query_string={"$top": "100"}, headers=headers)
    return next(e for e in events.get_json()["value"] if e["subject"] == subject)


def test_invitation_arrives_as_an_event_message(client: FlaskClient, app_headers: dict[str, str]) -> None:
    _meeting(client, app_headers, "Plan review")
    [message] = _inbox(client, app_headers, AVERY, "Plan review")
    assert message["@odata.type"] == "#microsoft.graph.eventMessageRequest"
    assert message["meetingMessageType"] == "meetingRequest"
    assert message["meetingRequestType"] == "newMeetingRequest"
    assert message["isRead"] is False and message["isOutOfDate"] is False
    assert message["startDateTime"]["dateTime"].startswith("2030-03-04T10:00:00")
    assert message["endDateTime"]["dateTime"].startswith("2030-03-04T11:00:00")
    assert message["location"]["displayName"] == "Room 4"
    assert message["type"] == "singleInstance" and message["isAllDay"] is False
    assert message["from"]["emailAddress"]["address"].lower() == HANNAH.lower()
    assert "_iCalUId" not in message and "event" not in message
    assert _inbox(client, app_headers, HANNAH, "Plan review") == []  # the organizer gets no invitation


def test_expand_gives_the_attendees_copy_of_the_event(
    client: FlaskClient, app_headers: dict[str, str]
) -> None:
    _meeting(client, app_headers, "Budget sync")
    [message] = _inbox(client, app_headers, AVERY, "Budget sync")
    copy = _attendee_copy(client, app_headers, "Budget sync")
    answer = client.get(
        f"/v1.0/users/{AVERY}/messages/{message['id']}", query_string=EXPAND, headers=app_headers
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    got = answer.get_json()
    assert got["id"] == message["id"]
    assert got["event"]["id"] == copy["id"]
    assert got["event"]["isOrganizer"] is False
    assert got["event@odata.context"].endswith("/microsoft.graph.eventMessage/event/$entity")
    listed = client.get(
        f"/v1.0/users/{AVERY}/mailFolders/inbox/messages",
        query_string={**EXPAND, "$top": "100"},
        headers=app_headers,
    ).get_json()["value"]
    assert next(m for m in listed if m["id"] == message["id"])["event"]["id"] == copy["id"]


def test_answer_reaches_the_organizer(client: FlaskClient, app_headers: dict[str, str]) -> None:
    organized = _meeting(client, app_headers, "Roadmap")
    copy = _attendee_copy(client, app_headers, "Roadmap")
    answer = client.post(
        f"/v1.0/users/{AVERY}/events/{copy['id']}/tentativelyAccept",
        json={"comment": "Probably", "sendResponse": True},
        headers=app_headers,
    )
    assert answer.status_code == 202
    [response] = _inbox(client, app_headers, HANNAH, "Tentative: Roadmap")
    assert response["@odata.type"] == "#microsoft.graph.eventMessageResponse"
    assert response["meetingMessageType"] == "meetingTenativelyAccepted"
    assert response["responseType"] == "tentativelyAccepted"
    assert response["from"]["emailAddress"]["address"].lower() == AVERY.lower()
    assert response["bodyPreview"] == "Probably"
    expanded = client.get(
        f"/v1.0/users/{HANNAH}/messages/{response['id']}", query_string=EXPAND, headers=app_headers
    ).get_json()
    assert expanded["event"]["id"] == organized["id"]


def test_answer_without_send_response_sends_nothing(client: FlaskClient, app_headers: dict[str, str]) -> None:
    _meeting(client, app_headers, "Quiet")
    copy = _attendee_copy(client, app_headers, "Quiet")
    answer = client.post(
        f"/v1.0/users/{AVERY}/events/{copy['id']}/accept", json={"sendResponse": False}, headers=app_headers
    )
    assert answer.status_code == 202
    assert _inbox(client, app_headers, HANNAH, "Accepted: Quiet") == []


def test_update_and_cancellation(client: FlaskClient, app_headers: dict[str, str]) -> None:
    organized = _meeting(client, app_headers, "Offsite")
    moved = {"start": {"dateTime": "2030-03-05T10:00:00", "timeZone": "UTC"}}
    moved["end"] = {"dateTime": "2030-03-05T11:00:00", "timeZone": "UTC"}
    answer = client.patch(f"/v1.0/users/{HANNAH}/events/{organized['id']}", json=moved, headers=app_headers)
    assert answer.status_code == 200
    kinds = {m["meetingRequestType"]: m for m in _inbox(client, app_headers, AVERY, "Offsite")}
    assert sorted(kinds) == ["fullUpdate", "newMeetingRequest"]
    first, update = kinds["newMeetingRequest"], kinds["fullUpdate"]
    assert update["previousStartDateTime"]["dateTime"].startswith("2030-03-04T10:00:00")
    assert update["startDateTime"]["dateTime"].startswith("2030-03-05T10:00:00")
    assert first["isOutOfDate"] is True and update["isOutOfDate"] is False

    categories = client.patch(
        f"/v1.0/users/{HANNAH}/events/{organized['id']}", json={"categories": ["Red"]}, headers=app_headers
    )
    assert categories.status_code == 200
    assert len(_inbox(client, app_headers, AVERY, "Offsite")) == 2  # the organizer's own change: no update

    cancelled = client.post(
        f"/v1.0/users/{HANNAH}/events/{organized['id']}/cancel", json={}, headers=app_headers
    )
    assert cancelled.status_code == 202
    [cancellation] = _inbox(client, app_headers, AVERY, "Canceled: Offsite")
    assert cancellation["@odata.type"] == "#microsoft.graph.eventMessage"
    assert cancellation["meetingMessageType"] == "meetingCancelled"
    expanded = client.get(
        f"/v1.0/users/{AVERY}/messages/{cancellation['id']}", query_string=EXPAND, headers=app_headers
    ).get_json()
    assert expanded["event"]["isCancelled"] is True


def test_plain_message_ignores_the_expand(client: FlaskClient, app_headers: dict[str, str]) -> None:
    inbox = client.get(
        f"/v1.0/users/{AVERY}/mailFolders/inbox/messages", query_string={"$top": "1"}, headers=app_headers
    ).get_json()["value"]
    plain = inbox[0]
    url = f"/v1.0/users/{AVERY}/messages/{plain['id']}"
    without = client.get(url, headers=app_headers).get_json()
    answer = client.get(url, query_string=EXPAND, headers=app_headers)
    assert answer.status_code == 200
    assert answer.get_json() == without
    assert "event" not in without and "meetingMessageType" not in without


def test_forwarded_meeting_reaches_the_new_attendee(client: FlaskClient, app_headers: dict[str, str]) -> None:
    third = next(u["userPrincipalName"] for u in seed.USERS if u["userPrincipalName"] not in (AVERY, HANNAH))
    _meeting(client, app_headers, "Design review")
    copy = _attendee_copy(client, app_headers, "Design review")
    answer = client.post(
        f"/v1.0/users/{AVERY}/events/{copy['id']}/forward",
        json={"toRecipients": [{"emailAddress": {"address": third}}]},
        headers=app_headers,
    )
    assert answer.status_code == 202
    [message] = _inbox(client, app_headers, third, "Design review")
    assert message["meetingMessageType"] == "meetingRequest"
    assert message["from"]["emailAddress"]["address"].lower() == AVERY.lower()
    expanded = client.get(
        f"/v1.0/users/{third}/messages/{message['id']}", query_string=EXPAND, headers=app_headers
    ).get_json()
    assert expanded["event"]["subject"] == "Design review" and expanded["event"]["isOrganizer"] is False
    assert len(_inbox(client, app_headers, AVERY, "Design review")) == 1  # the forwarder gets nothing new
