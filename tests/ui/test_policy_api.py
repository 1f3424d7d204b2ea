"""The page's policy switch and approvals, on the sandbox's throw-away store."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from connector.ui.workspace import SANDBOX
from sandbox import seed

CATEGORIES = ["read", "draft", "categorize", "send", "delete", "admin"]


def _call(client: FlaskClient, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = client.open(path, method=method, json=body)
    data = response.get_json()
    assert isinstance(data, dict)
    return response.status_code, data


def _send(client: FlaskClient, subject: str, approval: str | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"connection": SANDBOX, "input": {"to": [seed.DEFAULT_USER], "subject": subject}}
    if approval:
        body["approval"] = approval
    return _call(client, "POST", "/api/run/send_message", body)


def _decide(client: FlaskClient, approval: str, approve: bool) -> dict[str, Any]:
    status, data = _call(
        client, "POST", f"/api/approvals/{approval}", {"connection": SANDBOX, "approve": approve}
    )
    assert status == 200, data
    return data


def _set(client: FlaskClient, **change: Any) -> dict[str, Any]:
    policy = client.get(f"/api/policy?connection={SANDBOX}").get_json()["policy"]
    status, data = _call(
        client, "PUT", "/api/policy", {"connection": SANDBOX, "policy": {**policy, **change}}
    )
    assert status == 200, data
    return data


def test_the_sandbox_starts_open_and_the_view_names_each_category(ui_app: Flask) -> None:
    data = ui_app.test_client().get(f"/api/policy?connection={SANDBOX}").get_json()
    assert data["policy"]["categories"] == dict.fromkeys(CATEGORIES, "allow")
    assert [c["name"] for c in data["categories"]] == CATEGORIES
    assert all(c["meaning"] for c in data["categories"])
    assert data["settings"] == ["allow", "approve", "disabled"]


def test_an_approved_call_runs_once_with_its_exact_input(ui_app: Flask) -> None:
    client = ui_app.test_client()
    assert _set(client, overrides={"send_message": "approve"})["source"] == "this connection's policy"
    subject = f"approved {uuid.uuid4().hex[:6]}"
    try:
        status, data = _send(client, subject)
        assert status == 403 and data["error"]["type"] == "ApprovalRequired"
        approval = data["error"]["approval_id"]
        decided = _decide(client, approval, True)
        assert decided["status"] == "approved" and decided["decided_by"] == "step runner (web page)"
        status, data = _send(client, "another subject", approval)
        assert status == 403 and data["error"]["type"] == "PolicyError"  # bound to the exact input
        status, data = _send(client, subject, approval)
        assert status == 200 and data["output"]["subject"] == subject
        status, data = _send(client, subject, approval)
        assert status == 403 and data["error"]["type"] == "PolicyError"  # used once
    finally:
        _set(client, overrides={})


def test_a_denied_or_disabled_call_is_refused(ui_app: Flask) -> None:
    client = ui_app.test_client()
    _set(client, overrides={"send_message": "approve"})
    try:
        status, data = _send(client, "denied")
        approval = data["error"]["approval_id"]
        assert _decide(client, approval, False)["status"] == "denied"
        status, data = _send(client, "denied", approval)
        assert status == 403 and data["error"]["type"] == "PolicyError"
        _set(client, overrides={}, categories={**dict.fromkeys(CATEGORIES, "allow"), "send": "disabled"})
        status, data = _send(client, "disabled")
        assert status == 403 and data["error"]["decision"] == "disabled"
    finally:
        _set(client, overrides={}, categories=dict.fromkeys(CATEGORIES, "allow"))


def test_an_invalid_policy_is_refused_field_by_field(ui_app: Flask) -> None:
    status, data = _call(
        ui_app.test_client(),
        "PUT",
        "/api/policy",
        {
            "connection": SANDBOX,
            "policy": {"categories": {"send": "sometimes"}, "overrides": {"nope": "allow"}},
        },
    )
    assert status == 422
    assert {e["path"] for e in data["error"]["errors"]} == {"categories.send", "overrides.nope"}


def test_policy_of_an_unknown_connection_is_an_error(ui_app: Flask) -> None:
    response = ui_app.test_client().get("/api/policy?connection=nope")
    assert response.status_code == 400 and "nope" in response.get_json()["error"]["message"]
    status, data = _call(
        ui_app.test_client(), "POST", "/api/approvals/x", {"connection": SANDBOX, "approve": "yes"}
    )
    assert status == 400 and "approve" in data["error"]["message"]
