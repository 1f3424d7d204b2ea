"""``policy show|set``, ``approvals list|approve|deny``, ``audit`` and ``mcp`` (the agent side)."""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from connector.cli._common import (
    CONNECTION_ENV,
    cli_caller,
    connection_for_run,
    did_you_mean,
    ephemeral_sandbox,
    fail,
    iso,
    known_connection,
    known_key,
    listen_error,
    load_manifest,
    main,
    open_store,
    print_json,
    read_file_option,
    shown_name,
    user_error,
)
from connector.errors import ConnectorError

if TYPE_CHECKING:
    from connector.manifest import Manifest
    from connector.policy import Policy
    from connector.store import Store

_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


# -- policy ----------------------------------------------------------------------------------------
@main.group()
def policy() -> None:
    """Show or change the permission policy (per connection, with a default)."""


def _effective(store: Store, connection: str | None) -> tuple[Policy, str]:
    from connector.policy import DEFAULT_POLICY, Policy

    manifest = load_manifest()
    sources = [(connection, f"connection {connection!r}")] if connection else []
    for name, source in [*sources, (None, "the stored default")]:
        data = store.get_policy(name)
        if data is not None:
            return Policy.from_dict(data, manifest), source
    return DEFAULT_POLICY, "the built-in default"


@policy.command("show")
@click.option("--connection", "-c", "connection", help="A connection's policy (default: the default policy).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def policy_show(connection: str | None, as_json: bool) -> None:
    """The policy in force: each category's setting, the per-action overrides, and where it comes from."""
    store = open_store()
    if connection:
        known_connection(store, connection)
    try:
        current, source = _effective(store, connection)
    except ConnectorError as exc:
        fail(exc)
    if as_json:
        print_json({**current.to_dict(), "source": source})
        return
    from connector.policy import CATEGORY_MEANINGS

    click.echo(f"policy of {f'connection {connection!r}' if connection else 'the default'} (from {source})")
    for category, setting in current.to_dict()["categories"].items():
        click.echo(f"  {category:<11} {setting:<9} {CATEGORY_MEANINGS[category]}")
    for key, setting in current.to_dict()["overrides"].items():
        click.echo(f"  override    {key} = {setting}")
    click.echo(f"  allowed_permissions = {str(current.allowed_permissions).lower()}")


@policy.command("set")
@click.argument("assignments", nargs=-1)
@click.option("--connection", "-c", "connection", help="Set this connection's policy (default: the default).")
@click.option(
    "--preset",
    type=click.Choice(["default", "read_only", "approve_writes", "open"]),
    help="Start from a preset instead of the current policy.",
)
@click.option("--reset", is_flag=True, help="Forget the stored policy (falls back to the default).")
def policy_set(assignments: tuple[str, ...], connection: str | None, preset: str | None, reset: bool) -> None:
    """Change the policy: CATEGORY=allow|approve|disabled, ACTION=allow|approve|disabled|inherit,
    allowed_permissions=true|false. Example: policy set draft=allow send_message=approve"""
    from connector.policy import PRESETS

    store = open_store()
    if connection and not (reset and store.get_policy(connection) is not None):
        known_connection(store, connection)  # a deleted connection's policy may still be reset
    manifest = load_manifest()
    for assignment in assignments:
        _check_assignment(assignment, manifest)
    try:
        if reset:
            store.delete_policy(connection)
        else:
            base = PRESETS[preset] if preset else _effective(store, connection)[0]
            store.set_policy(connection, base.changed(assignments, manifest).to_dict())
        current, source = _effective(store, connection)
    except ConnectorError as exc:
        fail(exc)
    print_json({**current.to_dict(), "source": source})


def _check_assignment(text: str, manifest: Manifest) -> None:
    """``NAME=SETTING`` with a known name and setting, else one line naming the nearest ones."""
    from connector.policy import CATEGORIES, SETTINGS

    name, sep, value = (part.strip() for part in text.partition("="))
    if not sep or not name:
        user_error(f"policy change {text!r} must be NAME=SETTING (for example draft=allow)")
    if name == "allowed_permissions":
        known_key("allowed_permissions value", value, ["true", "false"])
    elif name in CATEGORIES:
        known_key(f"setting for {name}", value, SETTINGS)
    elif name in manifest.actions:
        known_key(f"setting for {name}", value, [*SETTINGS, "inherit"])
    else:
        names = [*CATEGORIES, "allowed_permissions", *manifest.actions]
        user_error(
            f"unknown category or action {name!r}{did_you_mean(name, names)};"
            f" categories: {', '.join(CATEGORIES)}; `outlook-connector actions list` lists the actions"
        )


# -- approvals -------------------------------------------------------------------------------------
@main.group()
def approvals() -> None:
    """Pending approvals: list them, approve or deny one (a person's decision, never the agent's)."""


@approvals.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also decided, used and expired approvals.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def approvals_list(show_all: bool, as_json: bool) -> None:
    """Approvals waiting for a decision (with --all: every approval of the last day)."""
    now = time.time()
    items = open_store().list_approvals(status=None if show_all else "pending")
    rows = [a.summary_dict() for a in items if show_all or a.expires_at > now]
    if as_json:
        print_json([_iso_times(row, "created_at", "expires_at") for row in rows])
        return
    if not rows:
        click.echo("no pending approvals", err=True)
    for row in rows:
        left = max(0, int(row["expires_at"] - now))
        click.echo(
            f"{row['id']}  {row['status']:<8} {shown_name(row['connection']):<16} {left // 60:>2} min left"
        )
        click.echo(f"    {row['summary']}")


def _decide(approval_id: str, approve: bool) -> None:
    from connector.runtime import Runtime

    store = open_store()
    known = store.list_approvals(status=None)
    if approval_id not in {a.id for a in known}:
        pending = [a.id for a in known if a.status == "pending"]
        user_error(
            f"no approval {approval_id!r}{did_you_mean(approval_id, pending)};"
            " `outlook-connector approvals list` lists the pending ones"
        )
    caller = cli_caller()
    try:
        decided = Runtime(load_manifest(), store=store).gate.decide(
            approval_id, approve, f"{caller.principal or 'cli'} (CLI)"
        )
    except ConnectorError as exc:
        fail(exc)
    print_json(_iso_times(decided.summary_dict(), "created_at", "expires_at"))


@approvals.command("approve")
@click.argument("approval_id")
def approvals_approve(approval_id: str) -> None:
    """Approve pending approval APPROVAL_ID: the agent may then run that exact call once."""
    _decide(approval_id, True)


@approvals.command("deny")
@click.argument("approval_id")
def approvals_deny(approval_id: str) -> None:
    """Deny pending approval APPROVAL_ID."""
    _decide(approval_id, False)


# -- audit -----------------------------------------------------------------------------------------
def parse_since(text: str | None, now: float) -> float | None:
    """``24h``, ``7d``, ``30m`` ago, or an ISO date/time (UTC when no offset)."""
    if not text:
        return None
    match = _RELATIVE.match(text.strip())
    if match:
        return now - float(match.group(1)) * _UNITS[match.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        user_error(f"--since takes 24h, 7d, 30m or an ISO date such as 2026-12-01, not {text!r}")
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@main.command()
@click.option("--connection", "-c", "connection", help="Only this connection's records.")
@click.option("--action", "action", help="Only this action's records.")
@click.option("--since", help="Only records since: 24h, 7d, 30m ago, or an ISO date (UTC).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the latest N records.")
def audit(connection: str | None, action: str | None, since: str | None, limit: int | None) -> None:
    """The audit log as JSON lines, oldest first (kept 90 days)."""
    store = open_store()
    if action is not None:
        manifest = load_manifest()
        keys = [*manifest.actions, *manifest.data_sources, *manifest.triggers]
        known_key("action", action, keys, listing="actions list")
    records = store.list_audit(
        connection=connection, action=action, since=parse_since(since, time.time()), limit=limit
    )
    if connection is not None and not records:
        known_connection(store, connection)  # no records: a misspelt name? (a deleted one has records)
    for record in records:
        click.echo(json.dumps(_iso_times(record.to_dict(), "at"), separators=(",", ":"), ensure_ascii=False))
    click.echo(f"{len(records)} records", err=True)


def _iso_times(row: dict[str, Any], *names: str) -> dict[str, Any]:
    """``row`` with its epoch-seconds fields ``names`` as ISO 8601 UTC, as the CLI prints times."""
    return {**row, **{name: iso(row[name]) for name in names if name in row}}


# -- mcp -------------------------------------------------------------------------------------------
@main.command("mcp")
@click.option(
    "--connection",
    "-c",
    "connection_name",
    help=f"stdio: the connection the agent uses (default: ${CONNECTION_ENV} or the only one).",
)
@click.option("--sandbox", "use_sandbox", is_flag=True, help="stdio: use a sandbox started on the spot.")
@click.option("--tools", "toolsets", help="Tool sets: mail, calendar, contacts, settings, subscriptions,"
              " advanced, or all (default: mail).")  # fmt: skip
@click.option(
    "--discovery", is_flag=True, help="List four meta-tools (find, describe, run, options) instead."
)
@click.option("--http", "use_http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP: the address to listen on.")
@click.option(
    "--port", default=8766, show_default=True, type=click.IntRange(0, 65535), help="HTTP: the port."
)
@click.option("--callers", "callers_file", help="HTTP: the callers JSON file (name, key_sha256, connection).")
@click.option("--shared-connection", help="HTTP: the connection of callers that name none (they share it).")
def mcp_command(
    connection_name: str | None,
    use_sandbox: bool,
    toolsets: str | None,
    discovery: bool,
    use_http: bool,
    host: str,
    port: int,
    callers_file: str | None,
    shared_connection: str | None,
) -> None:
    """Serve the actions to an AI agent over MCP, under the connection's policy."""
    from connector.mcp import Catalog, parse_toolsets
    from connector.mcp.tools import TOOLSETS

    for name in (toolsets or "").split(","):
        if name.strip():
            known_key("tool set", name.strip(), [*TOOLSETS, "all"])
    try:
        catalog = Catalog(load_manifest(), parse_toolsets(toolsets), discovery)
        if use_http:
            _serve_http(catalog, host, port, callers_file, shared_connection)
        else:
            _serve_stdio(catalog, connection_name, use_sandbox)
    except ConnectorError as exc:
        fail(exc)


def _serve_stdio(catalog: Any, connection_name: str | None, use_sandbox: bool) -> None:
    from connector.audit import Caller
    from connector.mcp import AgentServer, Connections, Principal, serve_stdio
    from connector.runtime import Runtime

    with (
        ephemeral_sandbox(preset=None) if use_sandbox else connection_for_run(connection_name, False) as (
            connection,
            store,
        )
    ):
        who = cli_caller().principal or "local"
        runtime = Runtime(catalog.manifest, store=store, caller=Caller("mcp", who))
        connections = Connections(lambda name: connection, {connection.name: connection})
        agent = AgentServer(runtime, catalog, connections, principal=Principal(who, connection.name))
        click.echo(f"serving MCP on stdio for connection {connection.name!r}", err=True)
        if use_sandbox and store.path is not None:
            click.echo(
                "approvals of this sandbox session (its store goes when it ends):"
                f" OUTLOOK_CONNECTOR_HOME={store.path.parent} outlook-connector approvals list",
                err=True,
            )
        try:
            serve_stdio(agent)
        finally:
            runtime.close()


def _serve_http(
    catalog: Any, host: str, port: int, callers_file: str | None, shared_connection: str | None
) -> None:
    from connections.registry import load_connection
    from connector.mcp import AgentServer, Connections
    from connector.mcp.http import HttpServer, KeyTable, http_app
    from connector.runtime import Runtime

    if not callers_file:
        raise click.UsageError("--http needs --callers FILE: no credential, no access")
    text = read_file_option(callers_file, "--callers")
    try:
        data = json.loads(text)
    except ValueError as exc:
        user_error(f"--callers {callers_file}: not valid JSON ({exc})")
    keys = KeyTable.parse(data, shared_connection)
    store = open_store()
    for member, name in sorted({(p.member, p.connection) for _, p in keys.callers}, key=repr):
        # a caller with a misspelt connection would fail at each call; a tenant's caller: its tenant's
        known_connection(store if member is None else store.for_principal(member), name)
    if shared_connection:
        sharing = [p.name for _, p in keys.callers if p.connection == shared_connection]
        click.echo(
            f"warning: {len(sharing)} caller(s) share connection {shared_connection!r} and all act as its"
            " mailbox; give each person their own connection unless that is intended",
            err=True,
        )
    runtime = Runtime(catalog.manifest, store=store)
    agent = AgentServer(runtime, catalog, Connections(lambda name: load_connection(store, name)))
    try:
        server = HttpServer(http_app(agent, keys), host, port)
    except OSError as exc:
        listen_error(f"--host {host} --port {port}", exc)
    click.echo(f"serving MCP (streamable HTTP) at {server.url} for {len(keys.callers)} caller(s)", err=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        sys.exit(0)
    finally:
        runtime.close()
