"""The local runner: ``outlook-connector ...``.

Exit codes: 0 success, 2 invalid input (or usage), 1 any other failure. Output JSON goes to
stdout, messages to stderr. Heavy modules (Flask, authlib, the sandbox) are imported only by the
commands that need them, to keep ``run`` quick to start.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from connector.errors import ConnectorError, InputValidationError

if TYPE_CHECKING:
    from connections.base import Connection
    from connector.manifest import Manifest
    from connector.store import Store

CONNECTION_ENV = "OUTLOOK_CONNECTOR_CONNECTION"


def _fail(error: ConnectorError) -> NoReturn:
    if isinstance(error, InputValidationError):
        click.echo(f"error: {error.message.partition(':')[0]}:", err=True)
        for field_error in error.errors:
            click.echo(f"  {field_error}", err=True)
    else:
        click.echo(f"error: {error.message}", err=True)
    sys.exit(error.exit_code)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _read_json_option(value: str | None, what: str) -> Any:
    """``'{"a": 1}'`` or ``@file.json`` (``@-`` for stdin) -> parsed JSON."""
    if value is None:
        return {}
    text = value
    if value.startswith("@"):
        source = value[1:]
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"{what} is not valid JSON: {exc}") from None


def _manifest() -> Manifest:
    from connector.manifest import load_manifest

    return load_manifest()


def _store() -> Store:
    from connector.store import Store

    return Store()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="outlook-connector")
def main() -> None:
    """Run Microsoft Outlook (Graph) actions and triggers locally, or serve the Graph sandbox."""
    # This process uses no pydantic plugins; looking them up (entry points) costs a quick start ~7 ms.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


# -- manifest --------------------------------------------------------------------------------------
@main.group()
def manifest() -> None:
    """Check or export the connector manifest."""


@manifest.command("validate")
def manifest_validate() -> None:
    """Check manifest.yaml: schema, unique keys, schema files, handlers, committed schemas."""
    from connector.manifest import load_manifest
    from connector.schemas import stale_files

    try:
        loaded = load_manifest(check=False)
        problems = [str(p) for p in loaded.problems(deep=True)]
        if not problems:
            problems = [
                f"{path.relative_to(loaded.root)}: differs from its models (run python -m connector.schemas)"
                for path in stale_files(loaded)
            ]
    except ConnectorError as exc:
        _fail(exc)
    if problems:
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        click.echo(f"error: manifest has {len(problems)} problem(s)", err=True)
        sys.exit(1)
    counts = ", ".join(f"{len(loaded.sections[s])} {s.replace('_', ' ')}" for s in loaded.SECTIONS)
    click.echo(f"manifest OK: {counts}")


@manifest.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write to a file.")
def manifest_export(output: str | None) -> None:
    """The whole manifest as JSON with every schema inlined (for a workflow builder)."""
    from connector.export import export_manifest

    try:
        text = json.dumps(export_manifest(_manifest()), indent=2, ensure_ascii=False)
    except ConnectorError as exc:
        _fail(exc)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)


# -- actions ---------------------------------------------------------------------------------------
@main.group()
def actions() -> None:
    """List and describe actions."""


@actions.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def actions_list(as_json: bool) -> None:
    """Every action: key, group, category and label."""
    entries = list(_manifest().actions.values())
    if as_json:
        _print_json([{k: e[k] for k in ("key", "label", "group", "category")} for e in entries])
        return
    width = max(len(e.key) for e in entries)
    for entry in sorted(entries, key=lambda e: (e["group"], e.key)):
        click.echo(f"{entry.key:<{width}}  {entry['group']:<14} {entry['category']:<10} {entry['label']}")
    click.echo(f"{len(entries)} actions", err=True)


@actions.command("describe")
@click.argument("key")
def actions_describe(key: str) -> None:
    """An action's manifest entry with its input and output schemas."""
    from connector.export import export_entry

    try:
        _print_json(export_entry(_manifest().action(key)))
    except ConnectorError as exc:
        _fail(exc)


# -- run -------------------------------------------------------------------------------------------
def _run_options(command: Any) -> Any:
    """The options of ``run`` and ``data-sources run``: input, connection, mailbox, sandbox."""
    options = [
        click.argument("key"),
        click.option("--input", "-i", "input_json", help="Input JSON, or @file.json (@- for stdin)."),
        click.option(
            "--connection",
            "-c",
            "connection_name",
            help=f"Connection name (default: ${CONNECTION_ENV}, the only one, or a sandbox).",
        ),
        click.option("--user-id", help="Act on this mailbox (UPN or id): a shared mailbox or another user."),
        click.option(
            "--sandbox", "use_sandbox", is_flag=True, help="Run against a sandbox started on the spot."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command()
@_run_options
@click.option(
    "--example",
    is_flag=True,
    help="Run the action's example input (from the manifest) on a sandbox started on the spot.",
)
def run(
    key: str,
    input_json: str | None,
    connection_name: str | None,
    user_id: str | None,
    use_sandbox: bool,
    example: bool,
) -> None:
    """Run action KEY and print its output as JSON."""
    if example and (input_json is not None or connection_name is not None):
        _fail(
            ConnectorError("--example runs on a sandbox started on the spot; drop --input and --connection")
        )
    _run_entry("actions", key, input_json, connection_name, user_id, use_sandbox or example, example)


def _run_entry(
    section: str,
    key: str,
    input_json: str | None,
    connection_name: str | None,
    user_id: str | None,
    use_sandbox: bool,
    example: bool = False,
) -> None:
    """Run an action or a data source on the chosen connection (or a sandbox) and print its output.

    ``example``: the input is the action's manifest example, whose placeholders (``{first_message_id}``)
    name objects of the freshly seeded sandbox.
    """
    from connector.runtime import Runtime

    raw_input = _read_json_option(input_json, "--input")
    try:
        runtime = Runtime(_manifest())
        if section == "actions":
            runtime.manifest.action(key)  # unknown key: fail before any set-up
            run_entry = runtime.run_action
        else:
            runtime.data_source(key)
            run_entry = runtime.run_data_source
        with _connection_for_run(connection_name, use_sandbox) as (connection, store):
            runtime.store = store
            if example:
                from sandbox.record_examples import fill, placeholders

                raw_input = fill(
                    runtime.manifest.action(key)["example_input"], placeholders(runtime, connection)
                )
            try:
                result = run_entry(key, raw_input, connection, user_id=user_id)
            finally:
                runtime.close()
    except ConnectorError as exc:
        _fail(exc)
    _print_json(result)


@contextlib.contextmanager
def _connection_for_run(name: str | None, use_sandbox: bool) -> Iterator[tuple[Connection, Store]]:
    name = name or os.environ.get(CONNECTION_ENV)
    if not use_sandbox:
        store = _store()
        if name is None:
            names = [record.name for record in store.list_connections()]
            if len(names) > 1:
                raise ConnectorError(
                    f"several connections are configured ({', '.join(names)}); choose one with --connection"
                )
            name = names[0] if names else None
        if name is not None:
            from connections.registry import load_connection

            yield load_connection(store, name), store
            return
    with _ephemeral_sandbox() as pair:
        yield pair


@contextlib.contextmanager
def _ephemeral_sandbox() -> Iterator[tuple[Connection, Store]]:
    """A sandbox started on the spot, with a delegated connection to it in a throw-away store."""
    import tempfile

    from connections.sandbox import sandbox_connection
    from connector.store import Store
    from sandbox.server import SandboxServer

    click.echo(
        "note: no connection configured; running against a Graph sandbox started on the spot", err=True
    )
    with tempfile.TemporaryDirectory(prefix="outlook-connector-") as home, SandboxServer() as server:
        store = Store(Path(home) / "state.db")
        try:
            yield sandbox_connection(store, server.url, "delegated"), store
        finally:
            store.close()


# -- data sources ----------------------------------------------------------------------------------
@main.group("data-sources")
def data_sources() -> None:
    """List and run data sources (the options of a builder's dropdowns)."""


@data_sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_sources_list(as_json: bool) -> None:
    """Every data source: key and label."""
    entries = list(_manifest().data_sources.values())
    if as_json:
        _print_json([{k: e[k] for k in ("key", "label", "description")} for e in entries])
        return
    width = max((len(e.key) for e in entries), default=0)
    for entry in sorted(entries, key=lambda e: e.key):
        click.echo(f"{entry.key:<{width}}  {entry['label']}")
    click.echo(f"{len(entries)} data sources", err=True)


@data_sources.command("run")
@_run_options
def data_sources_run(
    key: str, input_json: str | None, connection_name: str | None, user_id: str | None, use_sandbox: bool
) -> None:
    """One page of data source KEY's options, as JSON; pass its next_cursor back as "cursor" in --input."""
    _run_entry("data_sources", key, input_json, connection_name, user_id, use_sandbox)


# -- connections -----------------------------------------------------------------------------------
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
    store = _store()
    try:
        if sandbox_url:
            from connections.sandbox import sandbox_connection

            sandbox_connection(store, sandbox_url.rstrip("/"), "app" if app_only else "delegated", name=name)
        else:
            if type_key is None:
                raise click.UsageError("--type is required (or --sandbox URL)")
            from connections.registry import connect_interactively

            config = _read_json_option(config_json, "--config")
            connect_interactively(store, name, type_key, config, open_browser=_browser_opener(no_browser))
    except ConnectorError as exc:
        _fail(exc)
    click.echo(
        f"connection {name!r} saved; try: outlook-connector run get_current_user --connection {name}",
        err=True,
    )


def _browser_opener(no_browser: bool) -> Any:
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

    store = _store()
    now = time.time()
    rows = []
    for record in store.list_connections():
        state = health(record.last_success_at, record.last_error, record.last_error_at, now)
        rows.append({**connection_summary(record), "status": state.status, "status_detail": state.message})
    if as_json:
        _print_json(rows)
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

    store = _store()
    try:
        connection = load_connection(store, name)
        with Runtime(_manifest(), store=store) as runtime:
            try:
                user = runtime.run_action("get_current_user", {}, connection)
            except ConnectorError as exc:
                store.record_health(name, ok=False, error=exc.message)
                raise
        store.record_health(name, ok=True)
    except ConnectorError as exc:
        _fail(exc)
    _print_json({"ok": True, "connection": name, "acts_as": user.get("userPrincipalName") or user.get("id")})


@connections.command("delete")
@click.argument("name")
def connections_delete(name: str) -> None:
    """Forget connection NAME and its tokens."""
    store = _store()
    if not store.delete_connection(name):
        click.echo(f"error: no connection named {name!r}", err=True)
        sys.exit(1)
    click.echo(f"connection {name!r} deleted", err=True)


# -- triggers --------------------------------------------------------------------------------------
PUBLIC_URL_ENV = "OUTLOOK_CONNECTOR_PUBLIC_URL"


@main.group()
def triggers() -> None:
    """Trigger instances: enable, list, renew, disable; listen locally; run the worker."""


def _trigger_service(store: Store, runtime: Any, public_url: str | None) -> Any:
    """A TriggerService printing each event as one JSON line on stdout."""
    from triggers.delivery import JsonLinesDelivery
    from triggers.service import TriggerService

    return TriggerService(store, runtime, JsonLinesDelivery(sys.stdout), public_url=public_url)


def _instance_summary(instance: Any) -> dict[str, Any]:
    """What `triggers list` shows of an instance (never its clientState or keys)."""
    import time

    from triggers.health import health

    state = health(instance.last_success_at, instance.last_error, instance.last_error_at, time.time())
    return {
        "id": instance.id,
        "trigger": instance.trigger_key,
        "connection": instance.connection_name,
        "status": instance.status,
        "health": state.status,
        "health_detail": state.message,
        "config": dict(instance.config),
        "subscriptions": [
            {"id": w.get("subscription_id"), "resource": w.get("resource"), "expires_at": w.get("expires_at")}
            for w in instance.state.get("watches", [])
        ],
    }


def _runtime_for(store: Store) -> Any:
    from connector.runtime import Runtime

    return Runtime(_manifest(), store=store)


@triggers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def triggers_list(as_json: bool) -> None:
    """Trigger instances with their health."""
    rows = [_instance_summary(i) for i in _store().list_trigger_instances()]
    if as_json:
        _print_json(rows)
        return
    if not rows:
        click.echo("no trigger instances; `outlook-connector triggers enable KEY ...` creates one", err=True)
    for row in rows:
        detail = row["health_detail"] or ""
        click.echo(
            f"{row['id']}  {row['trigger']:<24} {row['connection']:<16} {row['status']:<8}"
            f" {row['health']:<12} {detail}"
        )


@triggers.command("enable")
@click.argument("key")
@click.option("--input", "-i", "input_json", help="Trigger input JSON, or @file.json (@- for stdin).")
@click.option("--connection", "-c", "connection_name", help="Connection name (default: the only one).")
@click.option(
    "--public-url", envvar=PUBLIC_URL_ENV, help=f"Where Graph reaches the receiver (${PUBLIC_URL_ENV})."
)
def triggers_enable(
    key: str, input_json: str | None, connection_name: str | None, public_url: str | None
) -> None:
    """Enable trigger KEY: create its subscriptions to the receiver at --public-url (run `serve`)."""
    raw_input = _read_json_option(input_json, "--input")
    if not public_url:
        raise click.UsageError(f"--public-url (or ${PUBLIC_URL_ENV}) is required")
    if not (connection_name or os.environ.get(CONNECTION_ENV) or _store().list_connections()):
        # an instance must outlive this command: no sandbox started on the spot (try `triggers listen`)
        raise click.UsageError("no connection configured; create one with `outlook-connector connect NAME`")
    try:
        with (
            _connection_for_run(connection_name, False) as (connection, store),
            _runtime_for(store) as runtime,
        ):
            instance = _trigger_service(store, runtime, public_url).enable(key, connection.name, raw_input)
    except ConnectorError as exc:
        _fail(exc)
    _print_json(_instance_summary(instance))


@triggers.command("disable")
@click.argument("instance_id")
def triggers_disable(instance_id: str) -> None:
    """Delete trigger instance INSTANCE_ID's subscriptions and state."""
    store = _store()
    try:
        with _runtime_for(store) as runtime:
            found = _trigger_service(store, runtime, None).disable(instance_id)
    except ConnectorError as exc:
        _fail(exc)
    if not found:
        click.echo(f"error: no trigger instance {instance_id!r}", err=True)
        sys.exit(1)
    click.echo(f"trigger instance {instance_id} disabled", err=True)


@triggers.command("renew")
@click.option("--margin-hours", default=12.0, show_default=True, help="Renew what expires within this.")
def triggers_renew(margin_hours: float) -> None:
    """Renew subscriptions about to expire (recreating lost ones, with a delta catch-up), once."""
    from datetime import timedelta

    store = _store()
    try:
        with _runtime_for(store) as runtime:
            report = _trigger_service(store, runtime, None).renew_due(timedelta(hours=margin_hours))
    except ConnectorError as exc:
        _fail(exc)
    _print_json(report.to_json())
    if report.failed:
        sys.exit(1)


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the command like Ctrl-C (so instances are cleaned up)."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@triggers.command("listen")
@click.argument("key")
@click.option("--input", "-i", "input_json", help="Trigger input JSON, or @file.json (@- for stdin).")
@click.option("--connection", "-c", "connection_name", help="Connection name (default: the only one).")
@click.option("--sandbox", "use_sandbox", is_flag=True, help="Listen to a sandbox started on the spot.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface the receiver listens on.")
@click.option("--port", default=0, show_default=True, type=int, help="Receiver port (0: any free port).")
@click.option("--public-url", help="Where Graph reaches the receiver (default: http://HOST:PORT).")
@click.option("--keep", is_flag=True, help="Leave the instance enabled on exit.")
def triggers_listen(
    key: str,
    input_json: str | None,
    connection_name: str | None,
    use_sandbox: bool,
    host: str,
    port: int,
    public_url: str | None,
    keep: bool,
) -> None:
    """Enable trigger KEY, receive its notifications here and print each event as a JSON line
    until Ctrl-C; then disable it (unless --keep)."""
    import threading

    from triggers.worker import Receiver, Worker

    raw_input = _read_json_option(input_json, "--input")
    try:
        with (
            _stop_on_sigterm(),
            _connection_for_run(connection_name, use_sandbox) as (connection, store),
            _runtime_for(store) as runtime,
        ):
            wake = threading.Event()
            with Receiver(store, host, port, on_enqueued=lambda _: wake.set()) as receiver:
                service = _trigger_service(store, runtime, public_url or receiver.url)
                instance = service.enable(key, connection.name, raw_input)
                worker = Worker(service, poll_every=1.0, wake=wake)
                if use_sandbox:
                    click.echo(f"sandbox: {connection.graph_base_url}", err=True)
                click.echo(
                    f"listening: trigger {key} instance {instance.id} at {receiver.url}"
                    f" (Ctrl-C stops{'' if keep else ' and disables it'})",
                    err=True,
                )
                try:
                    with worker:
                        worker.wait()
                except KeyboardInterrupt:
                    pass
                finally:
                    service.process_all()
                    if not keep:
                        service.disable(instance.id)
                        click.echo(f"trigger instance {instance.id} disabled", err=True)
    except ConnectorError as exc:
        _fail(exc)


@triggers.command("worker")
@click.option("--renew-every", default=600.0, show_default=True, help="Seconds between renewal passes.")
def triggers_worker(renew_every: float) -> None:
    """Process queued notifications and renew subscriptions (beside a receiver under gunicorn)."""
    from triggers.worker import Worker

    store = _store()
    try:
        with _stop_on_sigterm(), _runtime_for(store) as runtime:
            worker = Worker(_trigger_service(store, runtime, None), renew_every=renew_every)
            click.echo("trigger worker running (Ctrl-C stops)", err=True)
            try:
                with worker:
                    worker.wait()
            except KeyboardInterrupt:
                pass
    except ConnectorError as exc:
        _fail(exc)


# -- polling triggers (triggers.polling) ----------------------------------------------------------
def _poll_progress(progress: Any) -> None:
    """One progress line on stderr per page (redrawn in place on a terminal)."""
    if progress.backfill:
        if progress.total:
            share = min(100, int(progress.items * 100 / progress.total))
            bar = "#" * (share // 4) + "-" * (25 - share // 4)
            line = f"backfill [{bar}] {progress.items}/{progress.total} items ({share}%)"
            line += f", {progress.pages} pages"
        else:
            line = f"backfill: {progress.items} items, {progress.pages} pages"
    else:
        line = f"poll: {progress.items} items read, {progress.delivered} delivered, {progress.pages} pages"
    line += f", {progress.delivered} delivered" if progress.backfill else ""
    if sys.stderr.isatty():
        click.echo("\r" + line, err=True, nl=progress.caught_up)
    else:
        click.echo(line, err=True)


def _polling_summary(instance: Any) -> dict[str, Any]:
    return {
        "id": instance.id,
        "trigger": instance.trigger_key,
        "connection": instance.connection_name,
        "status": instance.status,
        "backfill": [w["backfill"] for w in instance.state.get("watches", []) if w.get("backfill")],
    }


@triggers.command("poll")
@click.argument("target")
@click.option("--input", "-i", "input_json", help="With a trigger KEY: its input JSON, or @file.json.")
@click.option("--connection", "-c", "connection_name", help="With a trigger KEY: connection name.")
@click.option(
    "--backfill",
    type=click.Choice(["30d", "90d", "12m", "all"]),
    help="First poll only: deliver the existing items of this range first (progress on stderr).",
)
@click.option("--every", type=float, help="Poll again every N seconds until Ctrl-C (else poll once).")
def triggers_poll(
    target: str,
    input_json: str | None,
    connection_name: str | None,
    backfill: str | None,
    every: float | None,
) -> None:
    """Poll instance TARGET (or a new instance of polling trigger TARGET, e.g. poll_changes) for
    changes; each event is printed on stdout as a JSON line. Ctrl-C, `triggers pause ID` or
    `triggers cancel ID` (a backfill) stop it between pages; the next poll continues from there."""
    import threading

    from triggers import polling
    from triggers.delivery import JsonLinesDelivery

    store = _store()
    try:
        with _stop_on_sigterm(), _runtime_for(store) as runtime:
            instance_id = target
            if target in runtime.manifest.triggers:
                raw_input = _read_json_option(input_json, "--input") or {}
                with _connection_for_run(connection_name, False) as (connection, _):
                    created = polling.create_instance(store, runtime, target, connection.name, raw_input)
                instance_id = created.id
                click.echo(f"created polling instance {instance_id} of {target}", err=True)
            elif input_json is not None:
                raise click.UsageError("--input applies to a trigger KEY, not to an existing instance")
            delivery = JsonLinesDelivery(sys.stdout)
            stop = threading.Event()
            try:
                while True:
                    report = polling.poll(
                        store, runtime, delivery, instance_id, backfill=backfill, progress=_poll_progress
                    )
                    backfill = None
                    click.echo(
                        f"poll {instance_id}: {report.status}, {report.delivered} delivered"
                        f" ({report.items} items, {report.pages} pages)",
                        err=True,
                    )
                    if report.status == "paused":
                        click.echo(f"paused: `outlook-connector triggers resume {instance_id}`", err=True)
                    if every is None or stop.wait(every):
                        break
            except KeyboardInterrupt:
                click.echo("stopped; the next poll continues from the stored cursor", err=True)
    except ConnectorError as exc:
        _fail(exc)


def _polling_command(action: str, instance_id: str) -> None:
    from triggers import polling

    store = _store()
    try:
        if action == "cancel":
            with _runtime_for(store) as runtime:
                instance = polling.cancel(store, runtime, instance_id)
        else:
            change = polling.pause if action == "pause" else polling.resume
            instance = change(store, instance_id)
    except ConnectorError as exc:
        _fail(exc)
    _print_json(_polling_summary(instance))


@triggers.command("pause")
@click.argument("instance_id")
def triggers_pause(instance_id: str) -> None:
    """Pause instance INSTANCE_ID: a running poll stops after its page, keeping its cursor."""
    _polling_command("pause", instance_id)


@triggers.command("resume")
@click.argument("instance_id")
def triggers_resume(instance_id: str) -> None:
    """Resume a paused instance: the next `triggers poll` continues from its stored cursor."""
    _polling_command("resume", instance_id)


@triggers.command("cancel")
@click.argument("instance_id")
def triggers_cancel(instance_id: str) -> None:
    """End INSTANCE_ID's backfill: its cursor moves to now (the rest of the backfill is skipped)."""
    _polling_command("cancel", instance_id)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--public-url", envvar=PUBLIC_URL_ENV, help=f"Where Graph reaches this server (${PUBLIC_URL_ENV})."
)
@click.option("--renew-every", default=600.0, show_default=True, help="Seconds between renewal passes.")
def serve_command(host: str, port: int, public_url: str | None, renew_every: float) -> None:
    """Receiver, processor and renewer in one process; events go to stdout as JSON lines."""
    import threading

    from triggers.worker import Receiver, Worker

    store = _store()
    try:
        with _stop_on_sigterm(), _runtime_for(store) as runtime:
            wake = threading.Event()
            with Receiver(store, host, port, on_enqueued=lambda _: wake.set()) as receiver:
                service = _trigger_service(store, runtime, public_url or receiver.url)
                worker = Worker(service, renew_every=renew_every, wake=wake)
                click.echo(f"receiving trigger notifications at {receiver.url} (Ctrl-C stops)", err=True)
                try:
                    with worker:
                        worker.wait()
                except KeyboardInterrupt:
                    pass
    except ConnectorError as exc:
        _fail(exc)


# -- sandbox ---------------------------------------------------------------------------------------
@main.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--seed", default=42, show_default=True, type=int, help="Seed of the generated tenant.")
def sandbox_command(host: str, port: int, seed: int) -> None:
    """Serve the local Microsoft Graph + identity platform emulator."""
    from sandbox.config import SandboxConfig
    from sandbox.server import serve

    click.echo(f"Graph sandbox on http://{host}:{port}/v1.0 (identity on http://{host}:{port})", err=True)
    serve(host, port, SandboxConfig(seed=seed))


if __name__ == "__main__":
    main()
