"""The seeded tenant (size, determinism, realism), app creation cost, reset, and the server wrapper."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from flask.testing import FlaskClient

from sandbox import seed
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.conftest import OTHER_USER, bearer, delegated_tokens, state_of

ANCHOR = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


def first_ids(config: SandboxConfig, count: int = 5) -> list[str]:
    box = state_of(create_app(config)).mailbox(seed.USERS[0]["id"])
    return [m["id"] for m in list(box.messages.values())[:count]]


def test_constants_describe_a_usable_tenant() -> None:
    for value in (seed.TENANT_ID, seed.CLIENT_ID, *(u["id"] for u in seed.DIRECTORY)):
        assert str(uuid.UUID(value)) == value
    assert len(seed.USERS) >= 3
    assert seed.USERS[0]["userPrincipalName"] == seed.DEFAULT_USER
    assert all(u["userPrincipalName"].endswith("@" + seed.TENANT_DOMAIN) for u in seed.DIRECTORY)
    assert seed.SHARED_MAILBOX_USER["mail"] == seed.SHARED_MAILBOX
    assert all(u["jobTitle"] and u["displayName"] for u in seed.USERS)


def test_tenant_size_and_realism() -> None:
    state = state_of(create_app(SandboxConfig(anchor=ANCHOR)))
    messages = [m for box in state.mailboxes.values() for m in box.messages.values()]
    assert len(messages) >= 5000
    assert len(state.mailboxes) == len(seed.DIRECTORY)
    received = [datetime.fromisoformat(m["receivedDateTime"].replace("Z", "+00:00")) for m in messages]
    assert min(received) >= ANCHOR - timedelta(days=366) and max(received) < ANCHOR
    senders = Counter(m["from"]["emailAddress"]["address"].split("@")[1] for m in messages if m.get("from"))
    assert senders[seed.TENANT_DOMAIN] > 500 and len(senders) > 10  # colleagues and outsiders
    ratio = sum(not m["isRead"] for m in messages) / len(messages)
    assert 0.02 < ratio < 0.4
    assert sum(m["hasAttachments"] for m in messages) > 200
    assert {m["importance"] for m in messages} == {"low", "normal", "high"}
    assert sum(bool(m["categories"]) for m in messages) > 300
    assert {m["flag"]["flagStatus"] for m in messages} == {"notFlagged", "flagged", "complete"}
    assert {m["body"]["contentType"] for m in messages} == {"html", "text"}
    assert all(m["bodyPreview"] and len(m["bodyPreview"]) <= 255 for m in messages)
    assert all(re.fullmatch(r"<[^@<>]+@[^@<>]+>", m["internetMessageId"]) for m in messages)
    conversations = Counter(m["conversationId"] for m in messages)
    assert max(conversations.values()) > 1
    assert len({m["id"] for m in messages}) == len(messages)


def test_generation_is_deterministic() -> None:
    assert first_ids(SandboxConfig(seed=1, anchor=ANCHOR)) == first_ids(SandboxConfig(seed=1, anchor=ANCHOR))
    assert first_ids(SandboxConfig(seed=1, anchor=ANCHOR)) != first_ids(SandboxConfig(seed=2, anchor=ANCHOR))
    small = state_of(create_app(SandboxConfig(messages_per_user=20, anchor=ANCHOR)))
    assert all(len(box.messages) == 20 for box in small.mailboxes.values())


def test_apps_do_not_share_changes(client: FlaskClient, user_headers: dict[str, str]) -> None:
    message = client.get("/v1.0/me/mailFolders/inbox/messages?$top=1", headers=user_headers).get_json()[
        "value"
    ][0]
    assert client.delete(f"/v1.0/me/messages/{message['id']}", headers=user_headers).status_code == 204
    fresh = create_app().test_client()
    headers = bearer(delegated_tokens(fresh)["access_token"])
    assert fresh.get(f"/v1.0/me/messages/{message['id']}", headers=headers).status_code == 200


def test_reset_restores_the_seeded_data_and_keeps_tokens(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    before = client.get("/v1.0/me/mailFolders/inbox", headers=user_headers).get_json()["totalItemCount"]
    send = client.post(
        "/v1.0/me/sendMail",
        headers=user_headers,
        json={
            "message": {
                "subject": "to myself",
                "toRecipients": [{"emailAddress": {"address": seed.DEFAULT_USER}}],
            }
        },
    )
    assert send.status_code == 202
    assert (
        client.get("/v1.0/me/mailFolders/inbox", headers=user_headers).get_json()["totalItemCount"]
        == before + 1
    )
    client.post("/_sandbox/reset")
    assert (
        client.get("/v1.0/me/mailFolders/inbox", headers=user_headers).get_json()["totalItemCount"] == before
    )


def test_server_wrapper() -> None:
    server = SandboxServer(SandboxConfig(messages_per_user=50))
    with server:
        assert server.url.startswith("http://127.0.0.1:") and server.graph_url == server.url + "/v1.0"
        config = httpx.get(f"{server.url}/common/v2.0/.well-known/openid-configuration").json()
        assert config["token_endpoint"] == f"{server.url}/common/oauth2/v2.0/token"
        assert server.state.mailbox(OTHER_USER["id"]).messages
    assert server.app.extensions
