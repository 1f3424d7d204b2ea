"""The agent front door: the connector's actions as MCP tools (official ``mcp`` SDK).

``tools`` turns manifest entries into tools under a policy; ``server`` answers tools/list and
tools/call through the runtime (policy, approvals, audit); ``http`` serves streamable HTTP to
authenticated callers; ``serve_stdio`` serves one local agent.
"""

from __future__ import annotations

import anyio

from connector.mcp.server import AgentServer, Connections, Principal
from connector.mcp.tools import Catalog, parse_toolsets

__all__ = ["AgentServer", "Catalog", "Connections", "Principal", "parse_toolsets", "serve_stdio"]


def serve_stdio(agent: AgentServer) -> None:
    """Serve one agent on stdin/stdout until it disconnects."""
    from mcp.server.stdio import stdio_server

    async def main() -> None:
        async with stdio_server() as (read, write):
            await agent.server.run(read, write, agent.server.create_initialization_options())

    anyio.run(main)
