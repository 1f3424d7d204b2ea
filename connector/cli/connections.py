"""``connect`` and ``connections list|test|delete``."""

from __future__ import annotations

import sys
from typing import Any

import click

from connector.cli._common import fail, load_manifest, main, open_store, print_json, read_json_option
from connector.errors import ConnectorError


@main.command()
@click.argument("name")
@click.option(
    "--type",
    "type_key",
    type=click.Choice(["oauth2_code", "oauth2_code_legacy", "client_credentials"]),
    help="Connection type (not needed with --sandbox).",
)
@click.option(
    "--config", "config_json", help="Connection settings JSON, or @file.json (see `connections types`)."
)
@click.option(
    "--sandbox",
    "sandbox_url",
    help="Connect to a running sandbox at this URL instead (e.g. http://127.0.0.1:8765).",
)
@click.option("--app-only", is_flag=True, help="With --sandbox: an app-only (client credentials) connection.")
@click.option("--no-browser", is_flag=True, help="Print the sign-in URL instead of opening a browser.")
def connect(
    name: str,
    type_key: str | None,
    config_json: str | None,
    sandbox_url: str | None,
    app_only: bool,
    no_browser: bool,
) -> None:
    """Create connection NAME: sign in through the browser (authorization code), or client credentials."""
    store = open_store()
    try:
        if sandbox_url:
            from connections.sandbox import sandbox_connection

            sandbox_connection(store, sandbox_url.rstrip("/"), "app" if app_only else "delegated", name=name)
        else:
            if type_key is None:
                raise click.UsageError("--type is required (or --sandbox URL)")
            from connections.registry import connect_interactively

            config = read_json_option(config_json, "--config")
            connect_interactively(store, name, type_key, config, open_browser=browser_opener(no_browser))
    except ConnectorError as exc:
        fail(exc)
    click.echo(
        f"connection {name!r} saved; try: outlook-connector run get_current_user --connection {name}",
        err=True,
    )


def browser_opener(no_browser: bool) -> Any:
    def open_url(url: str) -> None:
        click.echo(f"Sign in at: {url}", err=True)
        if not no_browser:
            import webbrowser

            webbrowser.open(url)

    return open_url


@main.group()
def connections() -> None:
    """List, test and delete saved connections."""


@connections.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def connections_list(as_json: bool) -> None:
    """Saved connections with their health: healthy, never synced, stale (no success in 25 h), error."""
    import time

    from connections.registry import connection_summary
    from triggers.health import health

    store = open_store()
    now = time.time()
    rows = []
    for record in store.list_connections():
        state = health(record.last_success_at, record.last_error, record.last_error_at, now)
        rows.append({**connection_summary(record), "status": state.status, "status_detail": state.message})
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no connections; `outlook-connector connect NAME ...` creates one", err=True)
    for row in rows:
        detail = row["status_detail"] or row.get("detail") or ""
        click.echo(f"{row['name']:<20} {row['type']:<20} {row['status']:<12} {detail}")


@connections.command("test")
@click.argument("name")
def connections_test(name: str) -> None:
    """Call Graph with connection NAME and report who it acts as."""
    from connections.registry import load_connection
    from connector.runtime import Runtime

    store = open_store()
    try:
        connection = load_connection(store, name)
        with Runtime(load_manifest(), store=store) as runtime:
            try:
                user = runtime.run_action("get_current_user", {}, connection)
            except ConnectorError as exc:
                store.record_health(name, ok=False, error=exc.message)
                raise
        store.record_health(name, ok=True)
    except ConnectorError as exc:
        fail(exc)
    print_json({"ok": True, "connection": name, "acts_as": user.get("userPrincipalName") or user.get("id")})


@connections.command("delete")
@click.argument("name")
def connections_delete(name: str) -> None:
    """Forget connection NAME and its tokens."""
    store = open_store()
    if not store.delete_connection(name):
        click.echo(f"error: no connection named {name!r}", err=True)
        sys.exit(1)
    click.echo(f"connection {name!r} deleted", err=True)
