"""The page's JSON API over the runtime, on a sandbox started by the app (Flask test client)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from connector.ui.workspace import SANDBOX
from sandbox import seed


def _post(client: FlaskClient, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.post(path, json=body)
    data = response.get_json()
    assert isinstance(data, dict)
    return response.status_code, data


def test_page_and_its_assets_are_served_from_the_package(ui_app: Flask) -> None:
    client = ui_app.test_client()
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<script src="/static/vendor/jsoneditor.js">' in html
    assert "https://" not in html  # nothing is fetched from elsewhere at run time
    library = client.get("/static/vendor/jsoneditor.js")
    assert library.status_code == 200 and b"JSONEditor" in library.get_data()


def test_connections_list_the_sandbox_last(ui_app: Flask) -> None:
    data = ui_app.test_client().get("/api/connections").get_json()
    assert data["sandbox"] == SANDBOX
    assert [c["name"] for c in data["connections"]][-1] == SANDBOX


def test_step_form_keeps_the_schema_order(ui_app: Flask) -> None:
    data = ui_app.test_client().get("/api/steps/action/send_message").get_json()
    schema = (
        ui_app.extensions["outlook_connector_ui"]
        .runtime.manifest.action("send_message")
        .schema("input_schema")
    )
    assert list(data["form_schema"]["properties"]) == list(schema["properties"])  # not sorted by name
    assert list(schema["properties"]) != sorted(schema["properties"])
    listed = next(o for o in data["form_schema"]["properties"]["to"]["anyOf"] if o.get("type") == "array")
    recipient = next(o for o in listed["items"]["anyOf"] if o.get("type") == "object")
    assert recipient["required"] == ["address"]  # the $defs model, inlined
    unknown = ui_app.test_client().get("/api/steps/action/no_such_action")
    assert unknown.status_code == 400 and "no_such_action" in unknown.get_json()["error"]["message"]


def test_run_on_the_sandbox_sends_and_lists_the_message(ui_app: Flask) -> None:
    client = ui_app.test_client()
    subject = f"ui api {uuid.uuid4().hex[:8]}"
    status, sent = _post(
        client,
        "/api/run/send_message",
        {"connection": SANDBOX, "input": {"to": [seed.DEFAULT_USER], "subject": subject, "body": "hi"}},
    )
    assert status == 200, sent
    status, listed = _post(
        client,
        "/api/run/list_messages",
        {"connection": SANDBOX, "input": {"folder_id": "inbox", "search": subject, "top": 5}},
    )
    assert status == 200
    assert [m["subject"] for m in listed["output"]["messages"]] == [subject]


def test_invalid_input_lists_each_field(ui_app: Flask) -> None:
    status, data = _post(
        ui_app.test_client(),
        "/api/run/list_messages",
        {"connection": SANDBOX, "input": {"top": 5000, "skip": -1}},
    )
    assert status == 422
    error = data["error"]
    assert error["type"] == "InputValidationError"
    assert {e["path"] for e in error["errors"]} == {"top", "skip"}


def test_graph_error_carries_status_code_and_request_id(ui_app: Flask) -> None:
    status, data = _post(
        ui_app.test_client(),
        "/api/run/get_message",
        {"connection": SANDBOX, "input": {"message_id": "AAMkAGNoSuchMessage="}},
    )
    assert status == 502
    error = data["error"]
    assert error["type"] == "GraphError" and error["status"] == 404
    assert error["code"] and error["request_id"]


def test_unknown_connection_is_a_clear_error(ui_app: Flask) -> None:
    status, data = _post(
        ui_app.test_client(), "/api/run/get_current_user", {"connection": "nope", "input": {}}
    )
    assert status == 400 and "nope" in data["error"]["message"]
    status, data = _post(ui_app.test_client(), "/api/run/get_current_user", {"input": {}})
    assert status == 400 and "connection" in data["error"]["message"]


def test_data_source_pages_one_request_at_a_time(ui_app: Flask) -> None:
    client = ui_app.test_client()
    body: dict[str, Any] = {"connection": SANDBOX, "input": {"page_size": 3}}
    status, first = _post(client, "/api/data-sources/select_message", body)
    assert status == 200 and len(first["options"]) == 3 and first["next_cursor"]
    body["input"]["cursor"] = first["next_cursor"]
    status, second = _post(client, "/api/data-sources/select_message", body)
    assert status == 200 and len(second["options"]) == 3
    assert not {o["key"] for o in first["options"]} & {o["key"] for o in second["options"]}
    body["input"]["search"] = "something else"  # a cursor is bound to its inputs
    status, data = _post(client, "/api/data-sources/select_message", body)
    assert status == 422 and [e["path"] for e in data["error"]["errors"]] == ["cursor"]


def _run_until_sent_message_arrives(
    client: FlaskClient, trigger: str, trigger_input: dict[str, Any], tag: str
) -> tuple[str, list[dict[str, Any]], str]:
    """Start ``trigger`` on the sandbox from the page, send a message to its inbox, and long-poll the
    run until that message's event came: (the run's URL, every event seen, the message's subject)."""
    status, started = _post(
        client, f"/api/triggers/{trigger}/start", {"connection": SANDBOX, "input": trigger_input}
    )
    assert status == 200, started
    run = f"/api/triggers/runs/{started['instance_id']}"
    subject = f"{tag} {uuid.uuid4().hex[:8]}"
    status, _ = _post(
        client,
        "/api/run/send_message",
        {"connection": SANDBOX, "input": {"to": [seed.DEFAULT_USER], "subject": subject, "body": "x"}},
    )
    assert status == 200
    seen: list[dict[str, Any]] = []
    while not any((e.get("resource") or {}).get("subject") == subject for e in seen):
        data = client.get(f"{run}?after={len(seen)}&wait=20").get_json()
        assert data["events"], f"no event came within the long poll (last poll error: {data.get('error')})"
        seen += data["events"]
    return run, seen, subject


def test_trigger_on_the_sandbox_delivers_events_to_the_page(ui_app: Flask) -> None:
    client = ui_app.test_client()
    run, seen, subject = _run_until_sent_message_arrives(
        client, "mail_message_webhook", {"folder_id": "inbox", "change_types": ["created"]}, "ui trigger"
    )
    event = next(e for e in seen if (e.get("resource") or {}).get("subject") == subject)
    assert event["change_type"] == "created" and event["trigger_key"] == "mail_message_webhook"
    assert client.post(f"{run}/stop").status_code == 200
    assert client.get(run).get_json()["stopped"] is True


def test_triggers_start_on_the_sandbox_only_and_check_their_input(ui_app: Flask) -> None:
    client = ui_app.test_client()
    status, data = _post(client, "/api/triggers/mail_message_webhook/start", {"connection": "work"})
    assert status == 400 and "sandbox" in data["error"]["message"]
    status, data = _post(
        client,
        "/api/triggers/mail_message_webhook/start",
        {"connection": SANDBOX, "input": {"change_types": ["exploded"]}},
    )
    assert status == 422 and data["error"]["errors"][0]["path"].startswith("change_types")
    bad = client.get("/api/triggers/runs/nope?after=x")
    assert bad.status_code == 400 and "after" in bad.get_json()["error"]["message"]


def test_requests_for_another_host_are_refused(ui_app: Flask) -> None:
    client = ui_app.test_client()
    refused = client.get("/api/connections", headers={"Host": "rebound.example:8770"})
    assert refused.status_code == 403
    assert client.get("/api/connections", headers={"Host": "127.0.0.1:8770"}).status_code == 200


def test_form_posts_are_not_read_as_input(ui_app: Flask) -> None:
    response = ui_app.test_client().post(
        "/api/run/get_current_user", data="connection=@sandbox", content_type="text/plain"
    )
    assert response.status_code == 400 and "JSON" in response.get_json()["error"]["message"]


def test_polling_trigger_on_the_sandbox_delivers_the_changes_after_its_start(ui_app: Flask) -> None:
    client = ui_app.test_client()
    run, seen, _subject = _run_until_sent_message_arrives(
        client, "poll_changes", {"resource": "messages", "folder_id": "inbox"}, "ui poll"
    )
    assert all(e["source"] == "delta" for e in seen)
    assert client.post(f"{run}/stop").status_code == 200
    assert client.get(run).get_json()["stopped"] is True
