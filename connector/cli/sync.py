"""``triggers sync ID``: catch up an instance now (webhook or polling)."""

from __future__ import annotations

import sys

import click

from connector.cli._common import fail, open_store, runtime_for, stop_on_sigterm
from connector.cli.polling import print_progress
from connector.cli.triggers import trigger_service, triggers
from connector.errors import ConnectorError


@triggers.command("sync")
@click.argument("instance_id")
@click.option(
    "--renew-within-hours",
    default=24.0,
    show_default=True,
    help="Renew a subscription that expires within this many hours (webhook instances).",
)
def triggers_sync(instance_id: str, renew_within_hours: float) -> None:
    """Sync INSTANCE_ID now: a delta catch-up from its cursor (a poll for a polling instance) and a
    renewal of a subscription about to expire. Events go to stdout as JSON lines, the summary (the
    count of new changes delivered, subscriptions renewed) to stderr."""
    from datetime import timedelta

    store = open_store()
    try:
        with stop_on_sigterm(), runtime_for(store) as runtime:
            report = trigger_service(store, runtime, None).sync(
                instance_id, renew_margin=timedelta(hours=renew_within_hours), progress=print_progress
            )
    except ConnectorError as exc:
        fail(exc)
    except KeyboardInterrupt:
        click.echo("stopped; the next sync continues from the stored cursor", err=True)
        sys.exit(130)
    renewed = len(report.renewed) + len(report.recreated)
    click.echo(
        f"sync {instance_id}: {report.status}, {report.delivered} new change(s) delivered"
        + (f", {renewed} subscription(s) renewed" if renewed else "")
        + (" (a worker is renewing it now)" if report.renewal_skipped else ""),
        err=True,
    )
