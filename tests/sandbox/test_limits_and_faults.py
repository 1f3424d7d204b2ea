"""Throttling per app + mailbox and seeded fault injection, over real HTTP (httpx against SandboxServer)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from flask import Flask

from sandbox import seed
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.conftest import OTHER_USER, app_token, bearer, delegated_tokens, state_of

SEND_PATH = "/v1.0/me/sendMail"


def mail_to(user: dict[str, Any], subject: str) -> dict[str, Any]:
    return {"message": {"subject": subject, "toRecipients": [{"emailAddress": {"address": user["mail"]}}]}}


def inbox_subjects(app: Flask, user: dict[str, Any]) -> list[str]:
    box = state_of(app).mailbox(user["id"])
    return [m["subject"] for m in box.messages_in(box.well_known["inbox"])]


# -- throttling ------------------------------------------------------------------------------------------
def test_fifth_concurrent_request_is_throttled(app: Flask, server: SandboxServer) -> None:
    state = server.state
    headers = bearer(delegated_tokens(app.test_client())["access_token"])
    results: list[int] = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        state.hold_requests()
        threads = [
            threading.Thread(target=lambda: results.append(http.get("/v1.0/me/messages?$top=1").status_code))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        try:
            assert state.throttle.wait_for_in_flight(4, timeout=5)
            fifth = http.get("/v1.0/me/mailFolders")
        finally:
            state.release_requests()
            for thread in threads:
                thread.join(5)
    assert fifth.status_code == 429
    assert fifth.headers["Retry-After"] == "1"
    error = fifth.json()["error"]
    assert error["code"] == "ApplicationThrottled"
    assert "MailboxConcurrency" in error["message"]
    assert results == [200, 200, 200, 200]


def test_other_mailboxes_have_their_own_concurrency_budget(app: Flask, server: SandboxServer) -> None:
    state = server.state
    headers = bearer(app_token(app.test_client()))
    statuses: list[int] = []
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        state.hold_requests()
        path = f"/v1.0/users/{seed.DEFAULT_USER}/messages?$top=1"
        threads = [
            threading.Thread(target=lambda: statuses.append(http.get(path).status_code)) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        try:
            assert state.throttle.wait_for_in_flight(4, timeout=5)
            other = threading.Thread(
                target=lambda: statuses.append(
                    http.get(f"/v1.0/users/{OTHER_USER['mail']}/messages?$top=1").status_code
                )
            )
            other.start()
            assert state.throttle.wait_for_in_flight(5, timeout=5)  # admitted, not refused
        finally:
            state.release_requests()
            for thread in [*threads, other]:
                thread.join(5)
    assert statuses == [200] * 5


def test_requests_per_window_limit() -> None:
    app = create_app(SandboxConfig(requests_per_window=3, window_seconds=600))
    client = app.test_client()
    headers = bearer(delegated_tokens(client)["access_token"])
    assert [client.get("/v1.0/me", headers=headers).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/v1.0/me", headers=headers)
    assert refused.status_code == 429
    assert 590 <= int(refused.headers["Retry-After"]) <= 600
    assert refused.get_json()["error"]["code"] == "ApplicationThrottled"
    # the budget is per app and mailbox: the same app still reaches another mailbox
    assert (
        client.get(f"/v1.0/users/{OTHER_USER['mail']}", headers=bearer(app_token(client))).status_code == 200
    )


# -- fault injection -------------------------------------------------------------------------------------
def statuses_with_faults(fault_seed: int, count: int = 40) -> list[int]:
    app = create_app(SandboxConfig(fault_seed=fault_seed, fault_rates={"429": 0.2, "503": 0.1, "504": 0.1}))
    client = app.test_client()
    headers = bearer(delegated_tokens(client)["access_token"])
    return [client.get("/v1.0/me", headers=headers).status_code for _ in range(count)]


def test_fault_injection_is_deterministic_by_seed() -> None:
    first, again, other = statuses_with_faults(7), statuses_with_faults(7), statuses_with_faults(8)
    assert first == again
    assert first != other
    assert {429, 503, 504, 200} <= set(first)
    assert 8 <= sum(status != 200 for status in first) <= 24  # 40% of 40, give or take


def test_injected_errors_are_graph_shaped(app: Flask) -> None:
    client = app.test_client()
    headers = bearer(delegated_tokens(client)["access_token"])
    state = state_of(app)
    for kind, code in (
        ("429", "ApplicationThrottled"),
        ("503", "ServiceNotAvailable"),
        ("504", "UnknownError"),
    ):
        state.set_faults({kind: 1.0}, retry_after=[2.5])
        response = client.get("/v1.0/me", headers=headers)
        assert response.status_code == int(kind)
        assert response.get_json()["error"]["code"] == code
        assert response.headers["request-id"]
        if kind in ("429", "503"):
            assert response.headers["Retry-After"] == "3"  # whole seconds, as Graph sends
    state.set_faults({})
    assert client.get("/v1.0/me", headers=headers).status_code == 200


def test_faults_can_target_one_path_and_method(app: Flask) -> None:
    client = app.test_client()
    headers = bearer(delegated_tokens(client)["access_token"])
    configured = client.post(
        "/_sandbox/faults", json={"rates": {"503": 1.0}, "paths": ["/v1.0/*/sendMail"], "methods": ["POST"]}
    )
    assert configured.status_code == 200
    assert client.get("/v1.0/me/messages?$top=1", headers=headers).status_code == 200
    assert client.post(SEND_PATH, headers=headers, json=mail_to(OTHER_USER, "x")).status_code == 503
    assert "x" not in inbox_subjects(app, OTHER_USER)
    log = client.get("/_sandbox/faults").get_json()["log"]
    assert [(r["path"], r["kind"], r["phase"]) for r in log] == [(SEND_PATH, "503", "before")]


def test_after_faults_apply_the_request_then_fail(app: Flask) -> None:
    client = app.test_client()
    headers = bearer(delegated_tokens(client)["access_token"])
    state_of(app).set_faults({"504_after": 1.0}, paths=[SEND_PATH])
    response = client.post(SEND_PATH, headers=headers, json=mail_to(OTHER_USER, "Sent once"))
    assert response.status_code == 504
    assert inbox_subjects(app, OTHER_USER).count("Sent once") == 1  # processed despite the 504
    record = state_of(app).faults.log[-1]
    assert (record.kind, record.phase) == ("504_after", "after")
    assert state_of(app).request_log[record.index].fault == "504_after"


def test_drop_closes_the_connection_before_processing(app: Flask, server: SandboxServer) -> None:
    headers = bearer(delegated_tokens(app.test_client())["access_token"])
    server.state.set_faults({"drop": 1.0}, paths=[SEND_PATH])
    with httpx.Client(base_url=server.url, headers=headers, timeout=5) as http:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            http.post(SEND_PATH, json=mail_to(OTHER_USER, "Dropped early"))
        assert http.get("/v1.0/me").status_code == 200  # the server is fine afterwards
    assert "Dropped early" not in inbox_subjects(app, OTHER_USER)
    assert server.state.request_log[-2].status == 0


def test_drop_after_processing(app: Flask, server: SandboxServer) -> None:
    headers = bearer(delegated_tokens(app.test_client())["access_token"])
    server.state.set_faults({"drop_after": 1.0}, paths=[SEND_PATH])
    with (
        httpx.Client(base_url=server.url, headers=headers, timeout=5) as http,
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
    ):
        http.post(SEND_PATH, json=mail_to(OTHER_USER, "Dropped late"))
    assert inbox_subjects(app, OTHER_USER).count("Dropped late") == 1
    assert server.state.faults.log[-1].phase == "after"


def test_slow_answers(app: Flask) -> None:
    client = app.test_client()
    headers = bearer(delegated_tokens(client)["access_token"])
    state_of(app).set_faults({"slow": 1.0}, slow_seconds=0.05)
    started = time.monotonic()
    assert client.get("/v1.0/me", headers=headers).status_code == 200
    assert time.monotonic() - started >= 0.05


def test_admin_endpoints_over_http(server: SandboxServer) -> None:
    with httpx.Client(base_url=server.url, timeout=5) as http:
        info = http.get("/_sandbox/").json()
        assert info["graph_url"] == server.graph_url and info["client_id"] == seed.CLIENT_ID
        assert http.post("/_sandbox/faults", json={"429": 0.5, "seed": 3}).json()["settings"]["rates"] == {
            "429": 0.5
        }
        assert http.post("/_sandbox/faults", json={"rates": {"boom": 1}}).status_code == 400
        http.get("/v1.0/me")
        assert http.get("/_sandbox/requests").json()["requests"][-1]["path"] == "/v1.0/me"
        assert http.post("/_sandbox/reset").json() == {"reset": True}
        assert http.get("/_sandbox/requests").json()["requests"] == []
        assert server.state.faults.settings.rates == {}


def test_identity_faults_only_when_their_path_is_named(app: Flask) -> None:
    client = app.test_client()
    state_of(app).set_faults({"503": 1.0})  # default scope: Graph paths only
    assert app_token(client)
    state_of(app).set_faults({"503": 1.0}, paths=[f"/{seed.TENANT_ID}/oauth2/v2.0/token"], retry_after=[0.01])
    response = client.post(f"/{seed.TENANT_ID}/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "0"  # whole seconds; a test's 10 ms rounds to 0
    body = response.get_json()
    assert body["error"] == "temporarily_unavailable" and body["error_codes"] == [90033]
