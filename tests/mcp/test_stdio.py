"""A real MCP client (the SDK's) talks to `outlook-connector mcp` over stdio, on the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from mcp import types

from connector.cli import main
from connector.store import Store
from sandbox import seed
from sandbox.server import SandboxServer
from tests.mcp.conftest import OTHER_USER, answer, run_session, stdio_session


def error_of(result: types.CallToolResult) -> dict[str, Any]:
    assert result.isError, result
    data: dict[str, Any] = json.loads(result.content[0].text)  # type: ignore[union-attr]
    return data


def delivered(sandbox: SandboxServer, subject: str) -> int:
    mailbox = sandbox.state.mailbox_by_address(OTHER_USER)
    assert mailbox is not None
    return sum(1 for m in mailbox.messages_in(mailbox.well_known["inbox"]) if m["subject"] == subject)


def send_input(subject: str) -> dict[str, Any]:
    return {"to": [OTHER_USER], "subject": subject, "body": "Line one of the body.\nLine two."}


def test_lists_allowed_tools_with_annotations_and_schemas(home: Path) -> None:
    async def scenario() -> None:
        async with stdio_session(home) as client:
            tools = {tool.name: tool for tool in (await client.list_tools()).tools}
            assert "list_messages" in tools and "send_message" in tools and "get_options" in tools
            assert "delete_message" not in tools and "create_draft" not in tools  # disabled by default
            assert "list_contacts" not in tools and "list_events" not in tools  # default tool set: mail
            listing = tools["list_messages"]
            assert listing.title == "List Mail Messages"
            assert listing.annotations is not None and listing.annotations.readOnlyHint is True
            assert listing.outputSchema is not None and "messages" in listing.outputSchema["properties"]
            assert "approval_id" not in listing.inputSchema["properties"]
            sending = tools["send_message"]
            assert sending.annotations is not None
            assert sending.annotations.readOnlyHint is False and sending.annotations.openWorldHint is True
            assert (
                sending.annotations.destructiveHint is False and sending.annotations.idempotentHint is False
            )
            assert "approval_id" in sending.inputSchema["properties"]  # send needs approval by default

    run_session(scenario)


def test_runs_read_actions_with_bodies_trimmed_unless_selected(home: Path) -> None:
    async def scenario() -> None:
        async with stdio_session(home) as client:
            page = await client.call_tool("list_messages", {"folder_id": "inbox", "top": 25})
            assert not page.isError and page.structuredContent is not None
            messages = page.structuredContent["messages"]
            assert len(messages) == 25
            assert all("body" not in m and m["bodyPreview"] for m in messages)  # the preview stands in
            full = await client.call_tool(
                "list_messages", {"folder_id": "inbox", "top": 3, "select": ["subject", "body"]}
            )
            assert full.structuredContent is not None
            assert any(len(m["body"]["content"]) > 200 for m in full.structuredContent["messages"])
            folders = await client.call_tool("get_options", {"data_source": "select_mail_folder"})
            assert not folders.isError and folders.structuredContent is not None
            assert any(o["label"] == "Inbox" for o in folders.structuredContent["options"])

    run_session(scenario)


def test_a_disabled_action_is_refused_and_input_errors_name_each_field(home: Path, store: Store) -> None:
    async def scenario() -> None:
        async with stdio_session(home) as client:
            refused = error_of(await client.call_tool("delete_message", {"message_id": "AAMk1"}))
            assert refused["type"] == "PolicyError" and refused["decision"] == "disabled"
            raw = error_of(
                await client.call_tool("raw_request", {"method": "DELETE", "path": "/me/messages/AAMk1"})
            )
            assert (
                raw["type"] == "ConfigurationError" and "unknown tool" in raw["message"]
            )  # not in the tool sets
            bad = error_of(await client.call_tool("list_messages", {"top": 0, "colour": "red"}))
            assert {e["path"] for e in bad["errors"]} == {"top", "colour"}

    run_session(scenario)
    records = store.list_audit(action="delete_message")
    assert [(r.caller, r.decision, r.outcome) for r in records] == [("mcp", "disabled", "refused")]


def test_out_of_band_approval_runs_the_exact_call_once(home: Path, sandbox: SandboxServer) -> None:
    subject = "Approved out of band"

    async def scenario() -> None:
        async with stdio_session(home) as client:
            pending = error_of(await client.call_tool("send_message", send_input(subject)))
            assert pending["status"] == "approval_required"
            approval_id = pending["approval_id"]
            assert OTHER_USER in pending["summary"] and subject in pending["summary"]
            assert "Line one of the body." in pending["summary"]
            early = error_of(
                await client.call_tool("send_message", {**send_input(subject), "approval_id": approval_id})
            )
            assert "nobody has approved it yet" in early["message"]

            listed = CliRunner().invoke(main, ["approvals", "list", "--json"])
            assert [a["id"] for a in json.loads(listed.stdout)] == [approval_id]
            approved = CliRunner().invoke(main, ["approvals", "approve", approval_id])
            assert approved.exit_code == 0, approved.stderr

            altered = error_of(
                await client.call_tool(
                    "send_message", {**send_input("Another subject"), "approval_id": approval_id}
                )
            )
            assert "different call" in altered["message"]
            sent = await client.call_tool("send_message", {**send_input(subject), "approval_id": approval_id})
            assert not sent.isError, sent.content
            again = error_of(
                await client.call_tool("send_message", {**send_input(subject), "approval_id": approval_id})
            )
            assert "used already" in again["message"]

    run_session(scenario)
    assert delivered(sandbox, subject) == 1


def test_elicitation_asks_the_person_and_runs_or_not(
    home: Path, sandbox: SandboxServer, store: Store
) -> None:
    yes, seen = answer(True)
    no, _ = answer(False)

    async def scenario() -> None:
        async with stdio_session(home, elicit=yes) as client:
            sent = await client.call_tool("send_message", send_input("Approved in the client"))
            assert not sent.isError, sent.content
        async with stdio_session(home, elicit=no) as client:
            declined = error_of(await client.call_tool("send_message", send_input("Declined in the client")))
            assert declined["decision"] == "denied"

    run_session(scenario)
    assert "Approved in the client" in seen[0] and OTHER_USER in seen[0] and "Line one" in seen[0]
    assert delivered(sandbox, "Approved in the client") == 1
    assert delivered(sandbox, "Declined in the client") == 0
    decided = {a.status for a in store.list_approvals()}
    assert decided == {"used", "denied"}
    approved = [r for r in store.list_audit(action="send_message") if r.decision == "approved"]
    assert len(approved) == 1 and approved[0].approved_by.endswith("(MCP elicitation)")


def test_discovery_mode_lists_meta_tools_that_find_describe_and_run(home: Path) -> None:
    async def scenario() -> None:
        async with stdio_session(home, "--discovery") as client:
            names = sorted(tool.name for tool in (await client.list_tools()).tools)
            assert names == ["describe_action", "find_actions", "get_options", "run_action"]
            found = await client.call_tool("find_actions", {"query": "list mail messages"})
            assert found.structuredContent is not None
            keys = [a["key"] for a in found.structuredContent["actions"]]
            assert "list_messages" in keys and "delete_message" not in keys
            described = await client.call_tool("describe_action", {"key": "list_messages"})
            assert described.structuredContent is not None
            assert "folder_id" in described.structuredContent["input_schema"]["properties"]
            ran = await client.call_tool("run_action", {"key": "get_current_user", "input": {}})
            assert ran.structuredContent is not None
            assert ran.structuredContent["userPrincipalName"].lower() == seed.DEFAULT_USER.lower()
            hidden = error_of(
                await client.call_tool(
                    "run_action", {"key": "delete_message", "input": {"message_id": "AAMk1"}}
                )
            )
            assert hidden["decision"] == "disabled"

    run_session(scenario)
