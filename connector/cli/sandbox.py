"""``sandbox``: serve the local Graph + identity platform emulator; ``sandbox reset``; the banner
that tells a new user who is seeded there and what to try next."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import click

from connector.cli._common import fail, main, stop_on_sigterm
from connector.errors import ConnectorError

SANDBOX_URL_ENV = "OUTLOOK_CONNECTOR_SANDBOX_URL"
DEFAULT_URL = "http://127.0.0.1:8765"


def banner(url: str, info: dict[str, Any], *, connection: str | None = None) -> list[str]:
    """What a person needs to start with a sandbox at ``url``: its seeded users and next steps.
    ``connection``: the name of a connection already made to it (else: how to make one)."""
    users = [f"{upn} (default)" if upn == info["default_user"] else upn for upn in info["users"]]
    name = connection or "try"
    lines = [
        f"Graph sandbox at {url}/v1.0 (identity platform at {url}; controls under {url}/_sandbox/)",
        f"seeded users: {', '.join(users)}",
        f"shared mailbox: {info['shared_mailbox']}",
        "next:",
    ]
    if connection is None:
        lines.append(f"  outlook-connector connect {name} --sandbox {url} [--user UPN] [--app-only]")
    lines += [
        f"  outlook-connector run get_current_user --connection {name}",
        f"  outlook-connector run send_message --connection {name} --input"
        f' \'{{"to": ["{info["default_user"]}"], "subject": "Hello"}}\'',
        f"  outlook-connector triggers poll poll_changes --connection {name} --every 5",
        f"  outlook-connector sandbox reset --url {url}",
    ]
    return lines


@main.group("sandbox", invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--seed", default=42, show_default=True, type=int, help="Seed of the generated tenant.")
@click.option(
    "--https-only",
    is_flag=True,
    help="Refuse http:// notification URLs, as Graph does (by default a local http receiver may subscribe).",
)
@click.option(
    "--latency",
    is_flag=True,
    help="Answer after Graph's typical per-request times (so throttling limits bite as on Graph).",
)
@click.pass_context
def sandbox_command(
    ctx: click.Context, host: str, port: int, seed: int, https_only: bool, latency: bool
) -> None:
    """Serve the local Microsoft Graph + identity platform emulator (until Ctrl-C)."""
    if ctx.invoked_subcommand is not None:
        return
    from connections.sandbox import sandbox_info
    from sandbox.config import LatencyModel, SandboxConfig
    from sandbox.server import SandboxServer

    config = SandboxConfig(
        seed=seed, http_notification_urls=not https_only, latency=LatencyModel() if latency else None
    )
    try:
        server = SandboxServer(config, host=host, port=port).start()
    except OSError as exc:
        fail(ConnectorError(f"cannot listen on {host}:{port}: {exc.strerror}"))
    try:
        with stop_on_sigterm(), contextlib.suppress(KeyboardInterrupt):  # Ctrl-C at any point stops it
            for line in banner(server.url, sandbox_info(server.url)):
                click.echo(line, err=True)
            click.echo("Ctrl-C stops the sandbox", err=True)
            threading.Event().wait()
    finally:
        server.stop()


@sandbox_command.command("reset")
@click.option(
    "--url",
    envvar=SANDBOX_URL_ENV,
    default=DEFAULT_URL,
    show_default=True,
    help=f"The running sandbox (${SANDBOX_URL_ENV}).",
)
def sandbox_reset(url: str) -> None:
    """Restore a running sandbox's seeded mailboxes and its default faults (its tokens keep working)."""
    import httpx

    try:
        httpx.post(url.rstrip("/") + "/_sandbox/reset", timeout=30).raise_for_status()
    except httpx.HTTPError as exc:
        fail(ConnectorError(f"cannot reset the sandbox at {url}: {exc}"))
    click.echo(f"sandbox at {url} reset to its seeded data", err=True)
