"""One MCP HTTP server, callers of two tenants: each caller's connection 'work' is its own
tenant's, and its calls see only that tenant's policies, approvals and audit records (a real
SDK client over streamable HTTP; the sandbox's mailboxes)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import types

from connections.sandbox import sandbox_connection
from connector.errors import InputValidationError
from connector.mcp.http import HttpServer, KeyTable
from connector.policy import PRESETS
from connector.store import Principal, Store, stored_name
from sandbox import seed
from sandbox.server import SandboxServer
from tests.mcp.conftest import OTHER_USER, http_session, run_session, serve_agent

ALICE, BOB = Principal("tenant-a", "alice@a.example"), Principal("tenant-b", "bob@b.example")
KEYS = {"alice": "alice-key-5e0b", "bob": "bob-key-a91c", "host": "host-key-0d2e"}


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _error(result: types.CallToolResult) -> dict[str, Any]:
    assert result.isError, result
    data: dict[str, Any] = json.loads(result.content[0].text)  # type: ignore[union-attr]
    return data


@pytest.fixture
def tenants_server(home: Path, store: Store, sandbox: SandboxServer) -> Iterator[HttpServer]:
    """Tenant a's 'work' is the default user's mailbox, tenant b's 'work' another user's; the
    host's own 'work' (the ``home`` fixture's) serves the caller without a tenant."""
    sandbox_connection(store.for_principal(ALICE), sandbox.url, "delegated", name="work")
    sandbox_connection(store.for_principal(BOB), sandbox.url, "delegated", name="work", user=OTHER_USER)
    store.for_principal(BOB).set_policy("work", PRESETS["approve_writes"].to_dict())
    keys = KeyTable.parse(
        {
            "callers": [
                {"name": "alice", "key_sha256": _sha(KEYS["alice"]), "connection": "work", **vars(ALICE)},
                {"name": "bob", "key_sha256": _sha(KEYS["bob"]), "connection": "work", **vars(BOB)},
                {"name": "host", "key_sha256": _sha(KEYS["host"]), "connection": "other"},
            ]
        }
    )
    with serve_agent(store, keys) as server:
        yield server


def test_callers_of_two_tenants_each_use_their_own_tenants_connection(
    tenants_server: HttpServer, store: Store
) -> None:
    message = {"to": [OTHER_USER], "subject": "Tenant a asks", "body": "hello"}
    seen: dict[str, Any] = {}

    async def scenario() -> None:
        for caller, expected in (("alice", seed.DEFAULT_USER), ("bob", OTHER_USER), ("host", OTHER_USER)):
            async with http_session(tenants_server, KEYS[caller]) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                seen[f"{caller}-tools"] = tools
                me = await client.call_tool("get_current_user", {})
                assert me.structuredContent is not None, me.content
                assert me.structuredContent["userPrincipalName"].lower() == expected.lower()
        async with http_session(tenants_server, KEYS["alice"]) as client:  # no elicitation: pending
            seen["pending"] = _error(await client.call_tool("send_message", message))
        async with http_session(tenants_server, KEYS["bob"]) as client:  # a's approval id is not b's
            for approval in (seen["pending"]["approval_id"], "no-such-approval-id"):
                answer = await client.call_tool("send_message", {**message, "approval_id": approval})
                seen[approval] = json.dumps(_error(answer)).replace(approval, "ID")

    run_session(scenario)
    # b's policy (writes need approval) is not a's (the default: deletes disabled)
    assert "delete_message" in seen["bob-tools"] and "delete_message" not in seen["alice-tools"]
    assert "delete_message" not in seen["host-tools"]
    approval_id = seen["pending"]["approval_id"]
    assert seen[approval_id] == seen["no-such-approval-id"]  # as if the id did not exist
    alice, bob = store.for_principal(ALICE), store.for_principal(BOB)
    assert [(a.id, a.connection) for a in alice.list_approvals()] == [(approval_id, "work")]
    assert bob.list_approvals() == [] and bob.get_approval(approval_id) is None
    assert [(r.principal, r.connection) for r in alice.list_audit(action="get_current_user")] == [
        ("alice", "work")
    ]
    assert [(r.principal, r.connection) for r in bob.list_audit(action="get_current_user")] == [
        ("bob", "work")
    ]
    host_records = [(r.principal, r.connection) for r in store.list_audit(action="get_current_user")]
    assert host_records == [
        ("alice", stored_name("tenant-a", "work")),
        ("bob", stored_name("tenant-b", "work")),
        ("host", "other"),
    ]


def test_a_callers_tenant_and_user_are_checked_field_by_field() -> None:
    digest = "00" * 32
    with pytest.raises(InputValidationError) as refused:
        KeyTable.parse(
            {
                "callers": [
                    {"name": "a", "key_sha256": digest, "connection": "w", "tenant": "t"},
                    {"name": "b", "key_sha256": digest, "connection": "w", "tenant": "t\x1fx", "user": ""},
                    {"name": "c", "key_sha256": digest, "connection": "w", "user": 5, "tenant": "t"},
                ]
            }
        )
    assert {(e.path, e.reason) for e in refused.value.errors} == {
        ("callers[0].user", "is required with tenant"),
        ("callers[1].tenant", "1 to 200 characters, no control characters"),
        ("callers[1].user", "1 to 200 characters, no control characters"),
        ("callers[2].user", "1 to 200 characters, no control characters"),
    }
    table = KeyTable.parse({"callers": [{"name": "d", "key_sha256": digest, "connection": "w", **vars(BOB)}]})
    assert table.callers[0][1].member == BOB
