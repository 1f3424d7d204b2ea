"""Polling triggers (``triggers.polling``): ``triggers poll|pause|resume|cancel``."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from connector.cli._common import (
    CONNECTION_ENV,
    complete_keys,
    connection_for_run,
    did_you_mean,
    fail,
    iso,
    load_manifest,
    open_store,
    print_json,
    read_json_option,
    runtime_for,
    stop_on_sigterm,
    user_error,
)
from connector.cli.triggers import backfill_option, triggers
from connector.errors import ConnectorError

if TYPE_CHECKING:
    from connector.store import Store, TriggerInstance


def print_progress(progress: Any) -> None:
    """One progress line on stderr per page (redrawn in place on a terminal); a backfill's shows
    its rate and ETA: ``backfill [####----] 150/412 items (36%), 6 pages, 150 delivered, 75 items/s,
    ETA 4 s``."""
    if progress.backfill:
        if progress.total:
            share = min(100, int(progress.items * 100 / progress.total))
            bar = "#" * (share // 4) + "-" * (25 - share // 4)
            line = f"backfill [{bar}] {progress.items}/{progress.total} items ({share}%)"
            line += f", {progress.pages} pages"
        else:
            line = f"backfill: {progress.items} items, {progress.pages} pages"
        line += f", {progress.delivered} delivered"
        if progress.rate:
            line += f", {progress.rate:.0f} items/s"
        if progress.eta_seconds is not None and not progress.caught_up:
            line += f", ETA {_duration(progress.eta_seconds)}"
    else:
        line = f"poll: {progress.items} items read, {progress.delivered} delivered, {progress.pages} pages"
    if sys.stderr.isatty():
        click.echo("\r" + line, err=True, nl=progress.caught_up)
    else:
        click.echo(line, err=True)


def _duration(seconds: float) -> str:
    """``42 s``, ``7 min``, ``3 h 5 min``."""
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _polling_summary(instance: Any) -> dict[str, Any]:
    return {
        "id": instance.id,
        "trigger": instance.trigger_key,
        "connection": instance.connection_name,
        "status": instance.status,
        "backfill": [w["backfill"] for w in instance.state.get("watches", []) if w.get("backfill")],
    }


@triggers.command("poll")
@click.argument("target", shell_complete=complete_keys("triggers"))
@click.option("--input", "-i", "input_json", help="With a trigger KEY: its input JSON, or @file.json.")
@click.option("--connection", "-c", "connection_name", help="With a trigger KEY: connection name.")
@click.option(
    "--sandbox",
    "use_sandbox",
    is_flag=True,
    help="With a trigger KEY: poll a sandbox started on the spot (its instance ends with the command).",
)
@click.option(
    "--new", "always_new", is_flag=True, help="With a trigger KEY: a new instance even if one matches."
)
@backfill_option("First poll only: deliver the existing items of this range first (progress on stderr).")
@click.option("--every", type=float, help="Poll again every N seconds until Ctrl-C (else poll once).")
def triggers_poll(
    target: str,
    input_json: str | None,
    connection_name: str | None,
    use_sandbox: bool,
    always_new: bool,
    backfill: str | None,
    every: float | None,
) -> None:
    """Poll instance TARGET, or polling trigger TARGET (e.g. poll_changes) through the instance with
    the same connection and input (created on first use), for changes; each event is printed on
    stdout as a JSON line. Ctrl-C, `triggers pause ID` or `triggers cancel ID` (a backfill) stop it
    between pages; the next poll continues from there."""
    from triggers import polling

    store = open_store()
    triggers_known = load_manifest().triggers
    if target not in triggers_known and store.get_trigger_instance(target) is None:
        ids = [i.id for i in store.list_trigger_instances()]
        hint = did_you_mean(target, [*triggers_known, *ids])
        user_error(
            f"{target!r} is neither a trigger key nor a trigger instance{hint};"
            " `outlook-connector triggers list` lists the instances"
        )
    try:
        with stop_on_sigterm(), runtime_for(store) as runtime:
            if target not in runtime.manifest.triggers:
                if input_json is not None or use_sandbox or always_new:
                    user_error(
                        "--input, --sandbox and --new apply to a trigger KEY, not to an existing instance"
                    )
                _poll_loop(store, runtime, target, backfill, every)
                return
            raw_input = read_json_option(input_json, "--input") or {}
            configured = connection_name or os.environ.get(CONNECTION_ENV) or store.list_connections()
            use_sandbox = use_sandbox or not configured  # no connection: a sandbox, as `run` does
            with connection_for_run(connection_name, use_sandbox, sandbox_in_store=True) as (
                connection,
                store,
            ):
                instance = (
                    None
                    if (always_new or use_sandbox)
                    else _matching(store, target, connection.name, raw_input)
                )
                if instance is None:
                    instance = polling.create_instance(store, runtime, target, connection.name, raw_input)
                    click.echo(f"created polling instance {instance.id} of {target}", err=True)
                else:
                    click.echo(
                        f"polling instance {instance.id} of {target} (created {iso(instance.created_at)};"
                        " --new makes another)",
                        err=True,
                    )
                try:
                    _poll_loop(store, runtime, instance.id, backfill, every)
                finally:
                    if use_sandbox:  # its sandbox ends with this command
                        store.delete_trigger_instance(instance.id)
    except ConnectorError as exc:
        fail(exc)


def _matching(store: Store, trigger_key: str, connection_name: str, raw_input: Any) -> TriggerInstance | None:
    """The oldest instance of ``trigger_key`` on that connection with exactly this input."""
    matches = [
        instance
        for instance in store.list_trigger_instances()
        if instance.trigger_key == trigger_key
        and instance.connection_name == connection_name
        and dict(instance.config) == raw_input
    ]
    return min(matches, key=lambda instance: instance.created_at, default=None)


def _poll_loop(
    store: Store, runtime: Any, instance_id: str, backfill: str | None, every: float | None
) -> None:
    """Poll once, or every ``every`` seconds until Ctrl-C; a summary line per poll on stderr."""
    import threading

    from triggers import polling
    from triggers.delivery import JsonLinesDelivery

    delivery = JsonLinesDelivery(sys.stdout)
    stop = threading.Event()
    try:
        while True:
            report = polling.poll(
                store, runtime, delivery, instance_id, backfill=backfill, progress=print_progress
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


def _polling_command(action: str, instance_id: str) -> None:
    from triggers import polling

    store = open_store()
    try:
        if action == "cancel":
            with runtime_for(store) as runtime:
                instance = polling.cancel(store, runtime, instance_id)
        else:
            change = polling.pause if action == "pause" else polling.resume
            instance = change(store, instance_id)
    except ConnectorError as exc:
        fail(exc)
    print_json(_polling_summary(instance))


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
