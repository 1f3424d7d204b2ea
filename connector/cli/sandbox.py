"""``sandbox``: serve the local Graph + identity platform emulator."""

from __future__ import annotations

import click

from connector.cli._common import main


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
