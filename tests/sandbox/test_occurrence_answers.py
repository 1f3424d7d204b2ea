"""Answering one occurrence of a recurring meeting answers that occurrence only: it becomes an
exception of the series for the attendee and in the organizer's attendee list; the rest of the
series keeps its answers."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from sandbox import seed

AVERY = seed.USERS[0]["userPrincipalName"]
HANNAH = next(u["userPrincipalName"] for u in seed.USERS if u["givenName"] == "Hannah")
WINDOW = {"startDateTime": "2000-01-01T00:00:00Z", "endDateTime": "2100-01-01T00:00:00Z", "$top": "100"}


def _series(client: FlaskClient, headers: dict[str, str], user: str) -> dict[str, Any]:
    events = client.get(f"/v1.0/users/{user}/events", query_string={"$top": "100"}, headers=headers)
    assert events.status_code == 200
    return next(e for e in events.get_json()["value"] if e["subject"] == "1:1 Hannah / Avery")


def _instances(client: FlaskClient, headers: dict[str, str], user: str) -> list[dict[str, Any]]:
    series = _series(client, headers, user)
    answer = client.get(
        f"/v1.0/users/{user}/events/{series['id']}/instances", query_string=WINDOW, headers=headers
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    instances: list[dict[str, Any]] = answer.get_json()["value"]
    assert len(instances) > 3
    return instances


def _avery_status(event: dict[str, Any]) -> str:
    found = next(a for a in event["attendees"] if a["emailAddress"]["address"].lower() == AVERY.lower())
    return str(found["status"]["response"])


def test_accepting_one_occurrence_answers_only_that_one(
    client: FlaskClient, app_headers: dict[str, str]
) -> None:
    before = _instances(client, app_headers, AVERY)
    chosen = before[2]
    answer = client.post(
        f"/v1.0/users/{AVERY}/events/{chosen['id']}/tentativelyAccept",
        json={"comment": "Maybe", "sendResponse": True},
        headers=app_headers,
    )
    assert answer.status_code == 202

    after = {e["id"]: e for e in _instances(client, app_headers, AVERY)}
    assert after[chosen["id"]]["responseStatus"]["response"] == "tentativelyAccepted"
    assert after[chosen["id"]]["showAs"] == "tentative" and after[chosen["id"]]["type"] == "exception"
    others = [e for e in before if e["id"] != chosen["id"]]
    for event in others:
        assert after[event["id"]]["responseStatus"] == event["responseStatus"], event["id"]
        assert after[event["id"]]["type"] == "occurrence"
    got = client.get(f"/v1.0/users/{AVERY}/events/{chosen['id']}", headers=app_headers).get_json()
    assert got["responseStatus"]["response"] == "tentativelyAccepted"
    series = _series(client, app_headers, AVERY)
    assert series["responseStatus"]["response"] != "tentativelyAccepted"  # the series is not answered

    # the organizer sees the answer on that occurrence only
    organizer = _instances(client, app_headers, HANNAH)
    statuses = [_avery_status(e) for e in organizer]
    assert statuses[2] == "tentativelyAccepted"
    assert "tentativelyAccepted" not in statuses[:2] + statuses[3:]
    assert _avery_status(_series(client, app_headers, HANNAH)) != "tentativelyAccepted"


def test_declining_one_occurrence_removes_only_that_one(
    client: FlaskClient, app_headers: dict[str, str]
) -> None:
    before = _instances(client, app_headers, AVERY)
    chosen = before[1]
    answer = client.post(f"/v1.0/users/{AVERY}/events/{chosen['id']}/decline", json={}, headers=app_headers)
    assert answer.status_code == 202
    after = [e["id"] for e in _instances(client, app_headers, AVERY)]
    assert after == [e["id"] for e in before if e["id"] != chosen["id"]]
    organizer = _instances(client, app_headers, HANNAH)
    assert [_avery_status(e) for e in organizer].count("declined") == 1
