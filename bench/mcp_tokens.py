"""Tokens an agent pays for the MCP server: the tools/list answer and a 25-message list_messages result.

    .venv/bin/python bench/mcp_tokens.py

Tokens are estimated without a tokenizer as UTF-8 bytes / 4 of the compact JSON the client
receives (``tools`` of tools/list; the text content of a tool result, which repeats its structured
content). Three set-ups, served by the real MCP server (``connector.mcp``) to the SDK's client over
an in-memory transport, on a sandbox mailbox:

- default:    ``outlook-connector mcp`` (tool set mail; the built-in default policy: reads allowed,
              sending asks, the rest disabled; list bodies trimmed to a preview)
- mail+calendar: ``outlook-connector mcp --tools mail,calendar`` (otherwise as default)
- discovery:  ``outlook-connector mcp --discovery`` (four meta-tools; results as in default)
- everything: every action as a tool (``--tools all`` under the ``open`` preset) and full bodies,
              as servers that expose every Graph operation do

Goals (from the issue): default tools/list under a tenth of the 199k tokens users report for the
Outlook MCP servers they use now; discovery under 2k tokens.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp.shared.memory import create_connected_server_and_client_session

from connections.sandbox import sandbox_connection
from connector.mcp import AgentServer, Catalog, Connections, Principal, parse_toolsets
from connector.policy import PRESETS, PolicyGate
from connector.runtime import Runtime
from connector.store import Store
from sandbox.server import SandboxServer

REPORTED_TOKENS = 199_000
"""The per-turn tools/list cost users of the popular Outlook MCP servers report."""
LIST_INPUT = {"folder_id": "inbox", "top": 25}


def tokens(data: Any) -> int:
    """UTF-8 bytes of the compact JSON, divided by 4."""
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")) // 4


async def measure(agent: AgentServer, discovery: bool) -> tuple[int, int, int]:
    """(tools, tools/list tokens, list_messages result tokens)."""
    async with create_connected_server_and_client_session(agent.server) as client:
        listed = await client.list_tools()
        listing = [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed.tools]
        if discovery:
            result = await client.call_tool("run_action", {"key": "list_messages", "input": LIST_INPUT})
        else:
            result = await client.call_tool("list_messages", LIST_INPUT)
        assert not result.isError, result.content
        assert result.structuredContent is not None and len(result.structuredContent["messages"]) == 25
        text = result.content[0].text  # type: ignore[union-attr]
        return len(listed.tools), tokens(listing), len(text.encode("utf-8")) // 4


def main() -> int:
    with SandboxServer() as server, tempfile.TemporaryDirectory() as home:
        store = Store(Path(home) / "state.db")
        connection = sandbox_connection(store, server.url, "delegated", name="bench")
        principal = Principal("bench", connection.name)
        connections = Connections(lambda name: connection, {connection.name: connection})
        figures: dict[str, tuple[int, int, int]] = {}
        open_gate = PolicyGate(policy=PRESETS["open"])
        setups = {  # runtime, tool sets, discovery, trimmed bodies
            "default": (Runtime(store=store), None, False, True),
            "mail+cal": (Runtime(store=store), "mail,calendar", False, True),
            "discovery": (Runtime(store=store), None, True, True),
            "everything": (Runtime(store=store, gate=open_gate), "all", False, False),
        }
        for name, (runtime, toolsets, discovery, trim) in setups.items():
            catalog = Catalog(runtime.manifest, parse_toolsets(toolsets), discovery, trim)
            agent = AgentServer(runtime, catalog, connections, principal=principal)
            figures[name] = anyio.run(measure, agent, discovery)
            runtime.close()
        store.close()

    everything = figures["everything"]
    print("tokens = UTF-8 bytes of the compact JSON / 4 (no tokenizer)")
    header = f"{'set-up':<11} {'tools':>5} {'tools/list':>11} {'vs all':>7} {'vs 199k':>8}"
    print(f"{header} {'25 messages':>12} {'vs all':>7}")
    for name, (count, listing, result) in figures.items():
        ratios = f"{listing / everything[1]:>6.1%} {listing / REPORTED_TOKENS:>7.2%}"
        print(f"{name:<11} {count:>5} {listing:>11,} {ratios} {result:>12,} {result / everything[2]:>6.1%}")
    default_ok = figures["default"][1] < REPORTED_TOKENS / 10
    discovery_ok = figures["discovery"][1] < 2000
    print(f"goal default tools/list < {REPORTED_TOKENS // 10:,}: {'met' if default_ok else 'NOT met'}")
    print(f"goal discovery tools/list < 2,000: {'met' if discovery_ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
