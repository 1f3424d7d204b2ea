"""A real MCP client (the SDK's) over streamable HTTP: each caller's key picks its own connection."""

from __future__ import annotations

import json
from typing import Any

import httpx
from mcp import types

from connector.mcp.http import HttpServer, KeyTable
from connector.store import Store
from sandbox import seed
from sandbox.server import SandboxServer
from tests.mcp.conftest import KEYS, OTHER_USER, answer, http_session, run_session


def error_of(result: types.CallToolResult) -> dict[str, Any]:
    assert result.isError, result
    data: dict[str, Any] = json.loads(result.content[0].text)  # type: ignore[union-attr]
    return data


def test_no_credential_no_access(http_server: HttpServer) -> None:
    ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    for auth in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": f"Basic {KEYS['alice']}"}):
        answered = httpx.post(http_server.url, json=ping, headers={**headers, **auth}, timeout=10)
        assert answered.status_code == 401


def test_each_caller_acts_as_their_own_connection_and_is_audited(
    http_server: HttpServer, store: Store
) -> None:
    async def scenario() -> None:
        for name, expected in (("alice", seed.DEFAULT_USER), ("bob", OTHER_USER)):
            async with http_session(http_server, KEYS[name]) as client:
                tools = {tool.name: tool for tool in (await client.list_tools()).tools}
                assert tools["get_current_user"].annotations.readOnlyHint is True  # type: ignore[union-attr]
                assert "delete_message" not in tools
                me = await client.call_tool("get_current_user", {})
                assert me.structuredContent is not None
                assert me.structuredContent["userPrincipalName"].lower() == expected.lower()

    run_session(scenario)
    records = store.list_audit(action="get_current_user")
    assert [(r.caller, r.principal, r.connection, r.decision) for r in records] == [
        ("mcp", "alice", "work", "allowed"),
        ("mcp", "bob", "other", "allowed"),
    ]
    assert all(r.request_id for r in records)  # Graph's request-id of the answer


def test_refusals_field_errors_and_both_approval_paths_over_http(
    http_server: HttpServer, sandbox: SandboxServer, store: Store
) -> None:
    yes, seen = answer(True)
    message = {"to": [OTHER_USER], "subject": "Over HTTP", "body": "<p>Hello <b>there</b></p>"}

    async def scenario() -> None:
        async with http_session(http_server, KEYS["alice"], elicit=yes) as client:
            refused = error_of(await client.call_tool("delete_message", {"message_id": "AAMk1"}))
            assert refused["decision"] == "disabled"
            bad = error_of(await client.call_tool("send_message", {"to": [5], "subject": 5}))
            assert {e["path"] for e in bad["errors"]} >= {"to[0]", "subject"}
            sent = await client.call_tool("send_message", message)
            assert not sent.isError, sent.content
        async with http_session(http_server, KEYS["alice"]) as client:  # no elicitation: out of band
            pending = error_of(await client.call_tool("send_message", {**message, "subject": "Later"}))
            approval_id = pending["approval_id"]
            http_server_gate_decide(store, approval_id)
            sent = await client.call_tool(
                "send_message", {**message, "subject": "Later", "approval_id": approval_id}
            )
            assert not sent.isError, sent.content

    run_session(scenario)
    assert "Hello there" in seen[0]
    mailbox = sandbox.state.mailbox_by_address(OTHER_USER)
    assert mailbox is not None
    subjects = [m["subject"] for m in mailbox.messages_in(mailbox.well_known["inbox"])]
    assert subjects.count("Over HTTP") == 1 and subjects.count("Later") == 1


def http_server_gate_decide(store: Store, approval_id: str) -> None:
    """What an embedding host does for a person who approved in its own UI."""
    from connector.runtime import Runtime

    with Runtime(store=store) as runtime:
        decided = runtime.gate.decide(approval_id, True, "host-user-42 (host UI)")
    assert decided.status == "approved"


def test_the_callers_file_is_checked_field_by_field() -> None:
    from connector.errors import InputValidationError

    try:
        KeyTable.parse({"callers": [{"name": "", "key_sha256": "abc"}, "x"]})
    except InputValidationError as exc:
        paths = {e.path for e in exc.errors}
    else:
        raise AssertionError("a bad callers file was accepted")
    assert paths == {"callers[0].name", "callers[0].key_sha256", "callers[0].connection", "callers[1]"}
    shared = KeyTable.parse({"callers": [{"name": "a", "key_sha256": "00" * 32}]}, shared_connection="team")
    assert shared.callers[0][1].connection == "team"
