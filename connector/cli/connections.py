"""``connect`` and ``connections list|test|delete``."""

from __future__ import annotations

from typing import Any

import click

from connector.cli._common import (
    did_you_mean,
    fail,
    known_connection,
    load_manifest,
    main,
    open_store,
    print_json,
    print_table,
    read_json_option,
    runtime_for,
    shown_name,
    user_error,
)
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
    "--config",
    "config_json",
    help="Connection settings JSON, or @file.json (`outlook-connector connections types` shows them).",
)
@click.option(
    "--sandbox",
    "sandbox_url",
    help="Connect to a running sandbox at this URL instead (e.g. http://127.0.0.1:8765, or the"
    " .../v1.0 URL that `sandbox` and `triggers listen` print).",
)
@click.option("--app-only", is_flag=True, help="With --sandbox: an app-only (client credentials) connection.")
@click.option(
    "--user",
    help="With --sandbox: sign in as this seeded user (app-only: its default mailbox); "
    "`outlook-connector sandbox` lists them.",
)
@click.option("--no-browser", is_flag=True, help="Print the sign-in URL instead of opening a browser.")
@click.option(
    "--login-hint", help="The account to sign in as (pre-filled on the sign-in page; the sandbox's user)."
)
@click.option(
    "--shared-scopes",
    is_flag=True,
    help="Also ask for Mail.ReadWrite.Shared, Mail.Send.Shared and Calendars.ReadWrite.Shared (to add"
    " shared mailboxes with --via later).",
)
@click.option("--shared-mailbox", help="Add this shared mailbox (address), signing in with --via's account.")
@click.option("--via", help="With --shared-mailbox: the saved connection whose sign-in opens it.")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace connection NAME although trigger instances use it (they then act as the new account).",
)
def connect(
    name: str,
    type_key: str | None,
    config_json: str | None,
    sandbox_url: str | None,
    app_only: bool,
    user: str | None,
    no_browser: bool,
    login_hint: str | None,
    shared_scopes: bool,
    shared_mailbox: str | None,
    via: str | None,
    replace: bool,
) -> None:
    """Create connection NAME: sign in through the browser (authorization code), or client credentials,
    or a shared mailbox opened with another connection's sign-in (--shared-mailbox ADDR --via CONN).
    The browser sign-in asks which account to use, so several accounts can be connected."""
    if (shared_mailbox is None) != (via is None):
        raise click.UsageError("--shared-mailbox and --via go together")
    if sandbox_url:
        sandbox_url = sandbox_root(sandbox_url)
    store = open_store()
    users = _instances_using(store, name)
    if users and not replace:
        user_error(
            f"connection {name!r} exists and trigger instances use it ({', '.join(users)}); add --replace"
            " to replace it (they will act as the new account), or choose another name"
        )
    try:
        if shared_mailbox is not None and via is not None:
            if type_key or config_json or sandbox_url:
                raise click.UsageError(
                    "--shared-mailbox takes no --type, --config or --sandbox: --via signs in"
                )
            _connect_shared(store, name, via, shared_mailbox)
            return
        if sandbox_url:
            from connections.sandbox import sandbox_connection

            as_user = user or login_hint
            if app_only:
                connection = sandbox_connection(store, sandbox_url, "app", name=name, user=as_user)
            else:
                connection = sandbox_connection(store, sandbox_url, "delegated", name=name, user=as_user)
        else:
            if user is not None:
                raise click.UsageError("--user applies to --sandbox connections")
            if type_key is None:
                raise click.UsageError("--type is required (or --sandbox URL)")
            from connections.registry import connect_interactively, connection_type

            config = read_json_option(config_json, "--config")
            if shared_scopes:
                config = _with_shared_scopes(config, connection_type(type_key).signs_in)
            connection = connect_interactively(
                store, name, type_key, config, open_browser=browser_opener(no_browser), login_hint=login_hint
            )
        account = _note_account(store, connection)
    except ConnectorError as exc:
        fail(exc)
    click.echo(
        f"connection {name!r} saved{f' (acts as {account})' if account else ''}; try: outlook-connector run"
        f" get_current_user --connection {name}",
        err=True,
    )


def _with_shared_scopes(config: Any, signs_in: bool) -> Any:
    from connections.config import DEFAULT_SCOPES
    from connections.shared_mailbox import SHARED_SCOPES

    if not signs_in:
        raise click.UsageError(
            "--shared-scopes applies to a sign-in (oauth2_code), not to app-only connections"
        )
    if not isinstance(config, dict):
        return config  # the connection settings' own check names the problem
    return {**config, "scopes": f"{config.get('scopes') or DEFAULT_SCOPES} {SHARED_SCOPES}"}


def _note_account(store: Any, connection: Any) -> str | None:
    """Ask Graph who the new connection acts as, and remember it for `connections list`."""
    from connections.registry import note_account

    try:
        with runtime_for(store) as runtime:
            user = runtime.run_action("get_current_user", {}, connection)
    except ConnectorError as exc:  # app-only without a default mailbox, no User.Read...: not fatal
        click.echo(f"note: could not read the account's address ({exc.message})", err=True)
        return None
    address = user.get("mail") or user.get("userPrincipalName")
    note_account(store, connection.name, address)
    return str(address) if address else None


def _connect_shared(store: Any, name: str, via: str, mailbox: str) -> None:
    from connections.shared_mailbox import add_shared_mailbox

    with runtime_for(store) as runtime:
        add_shared_mailbox(store, runtime.client_for, name, via=via, mailbox=mailbox)
    click.echo(
        f"shared mailbox {mailbox} saved as connection {name!r} (signs in through {via!r}); try:"
        f" outlook-connector run list_messages --connection {name}",
        err=True,
    )


def sandbox_root(url: str) -> str:
    """The sandbox's root URL from what a user may paste: ``http://127.0.0.1:8765`` or the
    ``.../v1.0`` Graph URL the sandbox prints; anything else is a user error."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        user_error(f"--sandbox {url!r} is not a URL; give the sandbox's address, e.g. http://127.0.0.1:8765")
    path = parts.path.rstrip("/")
    if path.lower().endswith("/v1.0"):
        path = path[: -len("/v1.0")]
    if path or parts.query or parts.fragment:
        user_error(f"--sandbox {url!r}: give the sandbox's address (http://HOST:PORT or its /v1.0 URL)")
    return f"{parts.scheme}://{parts.hostname}{f':{port}' if port else ''}"


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

    from connections.registry import account_of, connection_summary
    from triggers.health import Health, health, worst

    store = open_store()
    now = time.time()
    instances: dict[str, list[Health]] = {}
    for instance in store.list_trigger_instances():
        found = health(instance.last_success_at, instance.last_error, instance.last_error_at, now)
        instances.setdefault(instance.connection_name, []).append(found)
    rows = []
    for record in store.list_connections():
        own = health(record.last_success_at, record.last_error, record.last_error_at, now)
        # with trigger instances, the worst of theirs (and the connection's own error, if any)
        states = instances.get(record.name)
        state = worst([*states, *([own] if own.status == "error" else [])]) if states else own
        rows.append(
            {
                **connection_summary(record),
                "account": account_of(store, record),
                "status": state.status,
                "status_detail": state.message,
                "trigger_instances": len(states or []),
            }
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no connections; `outlook-connector connect NAME ...` creates one", err=True)
        return
    print_table(
        ["NAME", "TYPE", "ACCOUNT", "STATUS", "LAST SUCCESS", "DETAIL"],
        [
            [
                shown_name(r["name"]),
                r["type"],
                r["account"] or "-",
                r["status"],
                r["last_success_at"] or "-",
                r["status_detail"] or r.get("detail"),
            ]
            for r in rows
        ],
    )


@connections.command("types")
def connections_types() -> None:
    """The connection types and the settings each takes (its --config JSON Schema)."""
    import json

    manifest = load_manifest()
    print_json(
        [
            {
                "type": entry.key,
                "label": entry["label"],
                "description": entry.get("description"),
                "config_schema": json.loads(entry.path("config_schema").read_text(encoding="utf-8")),
            }
            for entry in manifest.sections["connections"].values()
        ]
    )


@connections.command("test")
@click.argument("name")
def connections_test(name: str) -> None:
    """Call Graph with connection NAME and report who it acts as.

    A connection with a default mailbox (a shared mailbox, or app-only) reads that mailbox's inbox,
    which its mail permissions allow; reading the mailbox's user needs directory permissions
    (User.Read.All) such a connection need not have. Otherwise: the signed-in user's profile."""
    from connections.registry import load_connection
    from connector.runtime import Runtime

    store = open_store()
    known_connection(store, name)
    try:
        connection = load_connection(store, name)
        with Runtime(load_manifest(), store=store) as runtime:
            try:
                if connection.default_mailbox:
                    runtime.run_action("get_mail_folder", {"folder_id": "inbox"}, connection)
                    acts_as = connection.default_mailbox
                    account: str | None = acts_as
                else:
                    user = runtime.run_action("get_current_user", {}, connection)
                    acts_as = str(user.get("userPrincipalName") or user.get("id"))
                    account = str(user.get("mail") or user.get("userPrincipalName") or "") or None
            except ConnectorError as exc:
                store.record_health(name, ok=False, error=exc.message)
                raise
        store.record_health(name, ok=True)
    except ConnectorError as exc:
        fail(exc)
    from connections.registry import note_account

    note_account(store, name, account)
    print_json({"ok": True, "connection": name, "acts_as": acts_as})


@connections.command("delete")
@click.argument("name")
def connections_delete(name: str) -> None:
    """Forget connection NAME and its tokens, and the shared mailboxes that sign in through it;
    their trigger instances are disabled first (subscriptions deleted while the sign-in works)."""
    from connections.registry import delete_connection
    from connections.shared_mailbox import dependents

    store = open_store()
    if store.connection_revision(name) is None:
        known = [record.name for record in store.list_connections()]
        user_error(f"no connection named {name!r}{did_you_mean(name, known)}")
    _disable_instances(store, [*dependents(store, name), name])
    for removed in delete_connection(store, name):
        click.echo(f"connection {removed!r} deleted", err=True)


def _instances_using(store: Any, name: str) -> list[str]:
    return sorted(i.id for i in store.list_trigger_instances() if i.connection_name == name)


def _disable_instances(store: Any, names: list[str]) -> None:
    from connector.cli.triggers import trigger_service

    using = [i for i in store.list_trigger_instances() if i.connection_name in names]
    if not using:
        return
    with runtime_for(store) as runtime:
        service = trigger_service(store, runtime, None)
        for instance in using:
            service.disable(instance.id)
            click.echo(f"trigger instance {instance.id} of {instance.connection_name!r} disabled", err=True)
