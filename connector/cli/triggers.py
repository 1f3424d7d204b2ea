"""``triggers list|enable|disable|renew|listen|worker`` and ``serve`` (the webhook side)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from connector.cli._common import (
    CONNECTION_ENV,
    PUBLIC_URL_ENV,
    complete_keys,
    connection_for_run,
    did_you_mean,
    fail,
    iso,
    known_key,
    load_manifest,
    main,
    open_store,
    print_json,
    print_table,
    read_json_option,
    runtime_for,
    shown_name,
    stop_on_sigterm,
    user_error,
)
from connector.errors import ConnectorError

if TYPE_CHECKING:
    from connector.store import Store


@main.group()
def triggers() -> None:
    """Trigger instances: enable, list, renew, disable; listen locally; run the worker."""


def trigger_service(store: Store, runtime: Any, public_url: str | None, deliver_to: str = "stdout") -> Any:
    """A TriggerService printing each event as one JSON line on stdout (``deliver_to="store"``:
    sealing it into the store's outbox, exactly once, for a host that reads it from there)."""
    from triggers.delivery import Delivery, JsonLinesDelivery, OutboxDelivery
    from triggers.service import TriggerService

    delivery: Delivery = OutboxDelivery(store) if deliver_to == "store" else JsonLinesDelivery(sys.stdout)
    return TriggerService(store, runtime, delivery, public_url=public_url)


_DELIVER_TO_HELP = (
    "Where events go: stdout (JSON lines; at least once, a repeat after a crash keeps its"
    " dedupe_key) or store (the store's outbox, exactly once: the host reads it with"
    " `triggers outbox` or TriggerService.events_after)."
)


def instance_summary(instance: Any) -> dict[str, Any]:
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
        "created_at": iso(instance.created_at),
        "last_success_at": iso(instance.last_success_at),
        "subscriptions": [
            {
                "id": w.get("subscription_id"),
                "resource": w.get("resource"),
                "expires_at": iso(w.get("expires_at")),
            }
            for w in instance.state.get("watches", [])
        ],
        "backfill": _backfills(instance, time.time()),
    }


def _backfills(instance: Any, now: float) -> list[dict[str, Any]]:
    """Each watch's backfill (range, status, items of total, rate, ETA), if it had one."""
    from triggers.polling import backfill_progress

    found = []
    for index, watch in enumerate(instance.state.get("watches", [])):
        backfill = watch.get("backfill")
        if not backfill:
            continue
        running = backfill.get("status") == "running"
        at = now if running else float(backfill.get("finished_at") or now)
        step = backfill_progress(instance.id, index, backfill, not running, at)
        found.append(
            {
                **{k: backfill.get(k) for k in ("range", "since", "status", "total", "items", "delivered")},
                "rate": None if step.rate is None else round(step.rate, 1),
                "eta_seconds": None if step.eta_seconds is None else round(step.eta_seconds),
            }
        )
    return found


@triggers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def triggers_list(as_json: bool) -> None:
    """Trigger instances with their health."""
    rows = [instance_summary(i) for i in open_store().list_trigger_instances()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        keys = ", ".join(load_manifest().triggers)
        click.echo(
            f"no trigger instances; `outlook-connector triggers listen KEY --sandbox` tries one ({keys})",
            err=True,
        )
        return
    print_table(
        ["ID", "TRIGGER", "CONNECTION", "STATUS", "HEALTH", "CREATED", "DETAIL"],
        [
            [
                r["id"],
                r["trigger"],
                shown_name(r["connection"]),
                r["status"],
                r["health"],
                r["created_at"],
                r["health_detail"],
            ]
            for r in rows
        ],
    )


@triggers.command("describe")
@click.argument("key", shell_complete=complete_keys("triggers"))
@click.option("--json", "as_json", is_flag=True, help="The manifest entry with its schemas, as JSON.")
def triggers_describe(key: str, as_json: bool) -> None:
    """Trigger KEY: its inputs (name, type, required, default, description) and an example input."""
    from connector.cli._describe import describe

    manifest = load_manifest()
    describe(manifest.triggers[known_key("trigger", key, manifest.triggers)], as_json)


BACKFILL_CHOICES = ("30d", "90d", "12m", "all")
"""The backfill ranges (``triggers.polling.BACKFILL_RANGES``; not imported: it loads the runtime)."""


def backfill_option(help_text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--backfill RANGE`` for the commands that start a trigger instance."""
    return click.option("--backfill", type=click.Choice(BACKFILL_CHOICES), help=help_text)


@triggers.command("enable")
@click.argument("key", shell_complete=complete_keys("triggers"))
@click.option("--input", "-i", "input_json", help="Trigger input JSON, or @file.json (@- for stdin).")
@click.option("--connection", "-c", "connection_name", help="Connection name (default: the only one).")
@click.option(
    "--public-url", envvar=PUBLIC_URL_ENV, help=f"Where Graph reaches the receiver (${PUBLIC_URL_ENV})."
)
@backfill_option("Also deliver the existing items of this range (`triggers sync ID` shows its progress).")
def triggers_enable(
    key: str,
    input_json: str | None,
    connection_name: str | None,
    public_url: str | None,
    backfill: str | None,
) -> None:
    """Enable trigger KEY: create its subscriptions to the receiver at --public-url (run `serve`)."""
    known_key("trigger", key, load_manifest().triggers)
    raw_input = read_json_option(input_json, "--input")
    if not public_url:
        user_error(f"--public-url (or ${PUBLIC_URL_ENV}) is required")
    if not (connection_name or os.environ.get(CONNECTION_ENV) or open_store().list_connections()):
        # an instance must outlive this command: no sandbox started on the spot (try `triggers listen`)
        user_error("no connection configured; create one with `outlook-connector connect NAME`")
    try:
        with (
            connection_for_run(connection_name, False) as (connection, store),
            runtime_for(store) as runtime,
        ):
            service = trigger_service(store, runtime, public_url)
            instance = service.enable(key, connection.name, raw_input, backfill=backfill)
    except ConnectorError as exc:
        fail(exc)
    print_json(instance_summary(instance))


@triggers.command("disable")
@click.argument("instance_id")
def triggers_disable(instance_id: str) -> None:
    """Delete trigger instance INSTANCE_ID's subscriptions and state."""
    store = open_store()
    try:
        with runtime_for(store) as runtime:
            found = trigger_service(store, runtime, None).disable(instance_id)
    except ConnectorError as exc:
        fail(exc)
    if not found:
        ids = [i.id for i in store.list_trigger_instances()]
        user_error(f"no trigger instance {instance_id!r}{did_you_mean(instance_id, ids)}")
    click.echo(f"trigger instance {instance_id} disabled", err=True)


@triggers.command("renew")
@click.option("--margin-hours", default=12.0, show_default=True, help="Renew what expires within this.")
def triggers_renew(margin_hours: float) -> None:
    """Renew subscriptions about to expire (recreating lost ones, with a delta catch-up), once."""
    from datetime import timedelta

    store = open_store()
    try:
        with runtime_for(store) as runtime:
            report = trigger_service(store, runtime, None).renew_due(timedelta(hours=margin_hours))
    except ConnectorError as exc:
        fail(exc)
    print_json(report.to_json())
    if report.failed:
        sys.exit(1)


@triggers.command("listen")
@click.argument("key", shell_complete=complete_keys("triggers"))
@click.option("--input", "-i", "input_json", help="Trigger input JSON, or @file.json (@- for stdin).")
@click.option("--connection", "-c", "connection_name", help="Connection name (default: the only one).")
@click.option("--sandbox", "use_sandbox", is_flag=True, help="Listen to a sandbox started on the spot.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface the receiver listens on.")
@click.option("--port", default=0, show_default=True, type=int, help="Receiver port (0: any free port).")
@click.option("--public-url", help="Where Graph reaches the receiver (default: http://HOST:PORT).")
@click.option("--keep", is_flag=True, help="Leave the instance enabled on exit.")
@backfill_option("Also deliver the existing items of this range first.")
def triggers_listen(
    key: str,
    input_json: str | None,
    connection_name: str | None,
    use_sandbox: bool,
    host: str,
    port: int,
    public_url: str | None,
    keep: bool,
    backfill: str | None,
) -> None:
    """Enable trigger KEY, receive its notifications here and print each event as a JSON line
    until Ctrl-C; then disable it (unless --keep)."""
    import threading

    from triggers.worker import Receiver, Worker

    known_key("trigger", key, load_manifest().triggers)
    raw_input = read_json_option(input_json, "--input")
    try:
        with (
            stop_on_sigterm(),
            connection_for_run(connection_name, use_sandbox, sandbox_in_store=True) as (connection, store),
            runtime_for(store) as runtime,
        ):
            wake = threading.Event()
            with Receiver(store, host, port, on_enqueued=lambda _: wake.set()) as receiver:
                service = trigger_service(store, runtime, public_url or receiver.url)
                instance = service.enable(key, connection.name, raw_input, backfill=backfill)
                worker = Worker(service, poll_every=1.0, wake=wake)  # its first pass runs the backfill
                try:  # from here on, Ctrl-C (even right after the "listening" line) cleans up
                    if use_sandbox:
                        click.echo(f"sandbox: {connection.graph_base_url}", err=True)
                    click.echo(
                        f"listening: trigger {key} instance {instance.id} at {receiver.url}"
                        f" (Ctrl-C stops{'' if keep else ' and disables it'})",
                        err=True,
                    )
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
        fail(exc)


@triggers.command("events")
@click.argument("instance_id")
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="At most this many."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def triggers_events(instance_id: str, limit: int, as_json: bool) -> None:
    """What instance INSTANCE_ID delivered, newest first (kept a week), and what still waits in its queue."""
    store = open_store()
    if store.get_trigger_instance(instance_id) is None:
        fail(
            ConnectorError(
                f"no trigger instance {instance_id!r}; `outlook-connector triggers list` shows them"
            )
        )
    rows = [
        {"delivered_at": iso(at), "item_id": item, "change": change}
        for item, change, at in _delivered(store, instance_id, limit)
    ]
    pending = store.pending_notification_count(instance_id)
    if as_json:
        print_json({"instance": instance_id, "delivered": rows, "pending": pending})
        return
    if rows:
        print_table(
            ["DELIVERED", "CHANGE", "ITEM"], [[r["delivered_at"], r["change"], r["item_id"]] for r in rows]
        )
    click.echo(
        f"{len(rows)} delivered (newest first, last 7 days); {pending} notifications waiting", err=True
    )


def _delivered(store: Store, instance_id: str, limit: int) -> list[tuple[str, str, float]]:
    """(item id, change, delivered at) from the delivered keys (``instance\nitem\nchange``)."""
    found = []
    for key, at in store.list_delivered(instance_id, limit):
        parts = key.split("\n")
        item = parts[1] if len(parts) > 1 else key
        found.append((item, parts[2] if len(parts) > 2 else "", at))
    return found


_CATCH_UP_HELP = (
    "Catch up (delta) every webhook instance not caught up for this many hours, so a notification"
    " lost while the receiver was down arrives within it on a quiet mailbox (0: never)."
)


def _catch_up_every(hours: float) -> Any:
    from datetime import timedelta

    return timedelta(hours=hours) if hours > 0 else None


def _worker_options(command: Callable[..., None]) -> Callable[..., None]:
    """--renew-every, --catch-up-hours and --deliver-to: what a worker takes (`triggers worker`, `serve`)."""
    for option in reversed(
        (
            click.option(
                "--renew-every", default=600.0, show_default=True, help="Seconds between renewal passes."
            ),
            click.option("--catch-up-hours", default=24.0, show_default=True, help=_CATCH_UP_HELP),
            click.option(
                "--deliver-to",
                type=click.Choice(["stdout", "store"]),
                default="stdout",
                show_default=True,
                help=_DELIVER_TO_HELP,
            ),
        )
    ):
        command = option(command)
    return command


@triggers.command("worker")
@_worker_options
def triggers_worker(renew_every: float, catch_up_hours: float, deliver_to: str) -> None:
    """Process queued notifications and renew subscriptions (beside a receiver under gunicorn)."""
    from triggers.worker import Worker

    store = open_store()
    try:
        with stop_on_sigterm(), runtime_for(store) as runtime:
            worker = Worker(
                trigger_service(store, runtime, None, deliver_to),
                renew_every=renew_every,
                catch_up_every=_catch_up_every(catch_up_hours),
            )
            click.echo("trigger worker running (Ctrl-C stops)", err=True)
            try:
                with worker:
                    worker.wait()
            except KeyboardInterrupt:
                pass
    except ConnectorError as exc:
        fail(exc)


@triggers.command("outbox")
@click.option(
    "--after", default=0, show_default=True, type=click.IntRange(0), help="Events after this position."
)
@click.option(
    "--limit", default=100, show_default=True, type=click.IntRange(1, 10_000), help="At most this many."
)
@click.option("--prune", is_flag=True, help="Then forget the events printed (the host has them).")
def triggers_outbox(after: int, limit: int, prune: bool) -> None:
    """Events a `triggers worker --deliver-to store` sealed into the store, in commit order: one JSON
    line each, {"position": N, "event": {...}}; pass the last position as --after next time."""
    import json

    store = open_store()
    try:
        rows = store.read_trigger_events(after, limit)
        for row in rows:
            line = {"position": row.seq, "event": row.event}
            sys.stdout.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
        sys.stdout.flush()
        if prune and rows:
            store.prune_trigger_events(through=rows[-1].seq)
    except ConnectorError as exc:
        fail(exc)
    click.echo(f"{len(rows)} event(s){f'; last position {rows[-1].seq}' if rows else ''}", err=True)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--public-url", envvar=PUBLIC_URL_ENV, help=f"Where Graph reaches this server (${PUBLIC_URL_ENV})."
)
@_worker_options
def serve_command(
    host: str, port: int, public_url: str | None, renew_every: float, catch_up_hours: float, deliver_to: str
) -> None:
    """Receiver, processor and renewer in one process; events go to stdout as JSON lines (or the
    store's outbox: --deliver-to store)."""
    import threading

    from triggers.worker import Receiver, Worker

    store = open_store()
    try:
        with stop_on_sigterm(), runtime_for(store) as runtime:
            wake = threading.Event()
            with Receiver(store, host, port, on_enqueued=lambda _: wake.set()) as receiver:
                service = trigger_service(store, runtime, public_url or receiver.url, deliver_to)
                worker = Worker(
                    service,
                    renew_every=renew_every,
                    wake=wake,
                    catch_up_every=_catch_up_every(catch_up_hours),
                )
                click.echo(f"receiving trigger notifications at {receiver.url} (Ctrl-C stops)", err=True)
                try:
                    with worker:
                        worker.wait()
                except KeyboardInterrupt:
                    pass
    except ConnectorError as exc:
        fail(exc)
