"""The MCP server: tools/list and tools/call over the runtime, with approvals asked of a person.

Every call goes through ``Runtime.run_action`` with the caller ``mcp`` and the principal, so the
connection's policy, approvals and audit apply exactly as for any other front door. A call that
needs approval is asked of the person through MCP elicitation when the client supports it
(approve -> the call runs at once; decline -> the approval is denied); otherwise the tool answers
with the pending approval, a person approves it out of band (``outlook-connector approvals approve
ID``) and the agent repeats the call with ``approval_id``. The agent has no tool to approve.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from mcp import types
from mcp.server.lowlevel import Server

from connector.audit import Caller
from connector.errors import ConfigurationError, ConnectorError, FieldError, InputValidationError
from connector.manifest import Entry
from connector.mcp.tools import (
    APPROVAL_FIELD,
    DESCRIBE_TOOL,
    FIND_TOOL,
    OPTIONS_TOOL,
    RUN_TOOL,
    Catalog,
    compact_schema,
    result_text,
    trim_bodies,
)
from connector.policy import ApprovalRequired, Policy, PolicyError, judge

if TYPE_CHECKING:
    from connections.base import Connection
    from connector.runtime import Runtime
    from connector.store import Principal as Member

PRINCIPAL_STATE = "outlook_connector_principal"
"""Key of the authenticated ``Principal`` in an HTTP request's ASGI state."""
INSTRUCTIONS = (
    "Outlook mail and calendar through Microsoft Graph. Reads are usually allowed; some actions need a"
    " person's approval (you then get an approval id to repeat the call with, once approved) and"
    " disabled ones are not listed. Use get_options to list folders, messages or calendars to pick ids."
)


@dataclass(frozen=True)
class Principal:
    """Who the agent acts for, and the connection (mailbox access) that person's calls use.
    ``member``: the tenant and user the calls act as (their connection, policies, approvals and
    audit are that tenant's); None: the process's own binding, if any."""

    name: str
    connection: str
    member: Member | None = None


class Connections:
    """Connections by name, loaded once from a store (or given), shared by every session."""

    def __init__(self, load: Callable[[str], Connection], given: dict[str, Connection] | None = None) -> None:
        self._load = load
        self._cache: dict[str, Connection] = dict(given or {})
        self._lock = threading.Lock()

    def get(self, name: str) -> Connection:
        with self._lock:
            connection = self._cache.get(name)
            if connection is None:
                connection = self._cache[name] = self._load(name)
            return connection


class AgentServer:
    """One MCP server (``self.server``) over a runtime. ``principal`` fixes who calls (stdio);
    without it each HTTP request must carry an authenticated principal (``connector.mcp.http``)."""

    def __init__(
        self,
        runtime: Runtime,
        catalog: Catalog,
        connections: Connections,
        *,
        principal: Principal | None = None,
    ) -> None:
        self.runtime = runtime
        self.catalog = catalog
        self.connections = connections
        self.principal = principal
        try:
            version = importlib.metadata.version("outlook-connector")
        except importlib.metadata.PackageNotFoundError:
            version = "0"
        self.server: Server[Any, Any] = Server(
            "outlook-connector", version=version, instructions=INSTRUCTIONS
        )
        self.server.list_tools()(self._list_tools)  # type: ignore[no-untyped-call]
        self.server.call_tool(validate_input=False)(self._call_tool)
        self._members: dict[Member, Connections] = {}
        self._members_lock = threading.Lock()

    # -- who is calling ------------------------------------------------------------------------
    def _who(self) -> Principal:
        if self.principal is not None:
            return self.principal
        request = self.server.request_context.request
        scope = getattr(request, "scope", None) or {}
        principal = (scope.get("state") or {}).get(PRINCIPAL_STATE)
        if not isinstance(principal, Principal):
            raise ConfigurationError("this request carries no credential; no credential, no access")
        return principal

    def _runtime(self, who: Principal) -> Runtime:
        """The runtime the caller's calls run on: bound to its member's tenant, if it has one."""
        return self.runtime if who.member is None else self.runtime.for_principal(who.member)

    def _connections(self, who: Principal) -> Connections:
        """Where the caller's connection is found: its tenant's connections, if it has a member."""
        if who.member is None:
            return self.connections
        with self._members_lock:
            found = self._members.get(who.member)
            if found is None:
                from connections.registry import load_connection

                store = self._runtime(who).store
                assert store is not None  # for_principal refuses a runtime without one
                found = self._members[who.member] = Connections(lambda name: load_connection(store, name))
            return found

    async def _policy(self, who: Principal) -> tuple[Policy, frozenset[str] | None]:
        gate = self._runtime(who).gate

        def read() -> tuple[Policy, frozenset[str] | None]:
            policy = gate.policy_for(who.connection)
            return policy, gate.scopes(who.connection) if policy.allowed_permissions else None

        return await anyio.to_thread.run_sync(read)

    # -- handlers ------------------------------------------------------------------------------
    async def _list_tools(self) -> list[types.Tool]:
        policy, scopes = await self._policy(self._who())
        return self.catalog.tools(policy, scopes)

    async def _call_tool(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        try:
            who = self._who()
            if name == OPTIONS_TOOL:
                return await self._options(who, arguments)
            if self.catalog.discovery:
                return await self._meta(who, name, arguments)
            entry = self._entry(name)
            raw_input = dict(arguments)
            approval = raw_input.pop(APPROVAL_FIELD, None)
            return await self._run(who, entry, raw_input, approval)
        except ConnectorError as exc:
            return error_result(exc)

    def _entry(self, key: str) -> Entry:
        entry = self.catalog.manifest.actions.get(key)
        if entry is None or entry["group"] not in self.catalog.groups:
            raise ConfigurationError(f"unknown tool {key!r}")
        return entry

    async def _options(self, who: Principal, arguments: dict[str, Any]) -> types.CallToolResult:
        key = str(arguments.get("data_source", ""))
        raw_input = arguments.get("input") or {}
        connection = await self._connection(who)
        call = functools.partial(
            self._runtime(who).run_data_source, key, raw_input, connection, caller=Caller("mcp", who.name)
        )
        return ok_result(await anyio.to_thread.run_sync(call))

    async def _meta(self, who: Principal, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        if name not in (FIND_TOOL, DESCRIBE_TOOL, RUN_TOOL):
            raise ConfigurationError(f"unknown tool {name!r}; in discovery mode use {RUN_TOOL}")
        policy, scopes = await self._policy(who)
        if name == FIND_TOOL:
            found = self.catalog.find(policy, scopes, str(arguments.get("query", "")))
            return ok_result({"actions": found})
        key = str(arguments.get("key", ""))
        entry = self._entry(key)
        if name == DESCRIBE_TOOL:
            if entry not in self.catalog.entries(policy, scopes):
                raise PolicyError(
                    f"{key} is disabled by the policy",
                    action=key,
                    category=entry["category"],
                    decision="disabled",
                )
            return ok_result(
                {
                    "key": key,
                    "label": entry["label"],
                    "description": entry["description"],
                    "category": entry["category"],
                    "setting": judge(policy, entry, {}).setting,
                    "read_only": bool(entry.get("read_only")),
                    "destructive": bool(entry.get("destructive")),
                    "input_schema": compact_schema(entry.schema("input_schema")),
                }
            )
        raw_input = arguments.get("input") or {}  # run_action: judged (and audited) like any call
        if not isinstance(raw_input, dict):
            raise InputValidationError([FieldError("input", "must be an object")])
        return await self._run(who, entry, raw_input, arguments.get(APPROVAL_FIELD))

    async def _connection(self, who: Principal) -> Connection:
        return await anyio.to_thread.run_sync(self._connections(who).get, who.connection)

    async def _run(
        self, who: Principal, entry: Entry, raw_input: dict[str, Any], approval: Any
    ) -> types.CallToolResult:
        if approval is not None and not isinstance(approval, str):
            raise InputValidationError([FieldError(APPROVAL_FIELD, "must be a string")])
        connection = await self._connection(who)
        runtime = self._runtime(who)

        def run(approval_id: str | None) -> dict[str, Any]:
            return runtime.run_action(
                entry.key, raw_input, connection, approval=approval_id, caller=Caller("mcp", who.name)
            )

        try:
            result = await anyio.to_thread.run_sync(run, approval)
        except ApprovalRequired as pending:
            if not self._can_elicit():
                return pending_result(pending)
            if not await self._ask(who, pending):
                raise PolicyError(
                    f"{entry.key} was not run: {who.name} declined it",
                    action=entry.key,
                    category=pending.category,
                    decision="denied",
                ) from None
            result = await anyio.to_thread.run_sync(run, pending.approval.id)
        return ok_result(trim_bodies(entry, raw_input, result) if self.catalog.trim else result)

    # -- approvals -----------------------------------------------------------------------------
    def _can_elicit(self) -> bool:
        params = self.server.request_context.session.client_params
        return params is not None and params.capabilities.elicitation is not None

    async def _ask(self, who: Principal, pending: ApprovalRequired) -> bool:
        """Ask the person through the client; record their answer as the approval's decision."""
        context = self.server.request_context
        approval = pending.approval
        answer = await context.session.elicit_form(
            message=f"The agent wants to run this {approval.category} action:\n{approval.summary}\n"
            f"Run it? (approval {approval.id}, for this exact call only)",
            requestedSchema={
                "type": "object",
                "properties": {
                    "approve": {
                        "type": "boolean",
                        "title": "Run it",
                        "description": "Yes: run this call once.",
                    }
                },
                "required": ["approve"],
            },
            related_request_id=context.request_id,
        )
        approved = answer.action == "accept" and (answer.content or {}).get("approve") is True
        gate = self._runtime(who).gate
        await anyio.to_thread.run_sync(
            functools.partial(gate.decide, approval.id, approved, f"{who.name} (MCP elicitation)")
        )
        return approved


def ok_result(data: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=result_text(data))], structuredContent=data
    )


def error_result(exc: ConnectorError) -> types.CallToolResult:
    """A tool error the model can act on: the message, and each invalid field by path."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=result_text(exc.to_dict()))], isError=True
    )


def pending_result(pending: ApprovalRequired) -> types.CallToolResult:
    approval = pending.approval
    data = {
        "status": "approval_required",
        "approval_id": approval.id,
        "summary": approval.summary,
        "expires_at": approval.expires_at,
        "next": "Not run. Ask the person to approve it (`outlook-connector approvals approve"
        f" {approval.id}`), then repeat this exact call with {APPROVAL_FIELD} = {approval.id!r}.",
    }
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=result_text(data))], isError=True
    )
