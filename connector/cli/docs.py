"""``docs build``: the reference docs generated from the manifest (``connector.docs``)."""

from __future__ import annotations

from pathlib import Path

import click

from connector.cli._common import fail, load_manifest, main
from connector.errors import ConnectorError


@main.group()
def docs() -> None:
    """Reference docs generated from the manifest."""


@docs.command("build")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write into (default: schemas/reference of the project, pruning stale pages).",
)
def docs_build(output: Path | None) -> None:
    """Write the reference (connections, actions by group, data sources, triggers) as Markdown."""
    from connector.docs import REFERENCE_DIR, write

    try:
        manifest = load_manifest()
        directory = output or manifest.root / REFERENCE_DIR
        written = write(manifest, directory, prune=output is None)
    except ConnectorError as exc:
        fail(exc)
    except OSError as exc:
        fail(ConnectorError(f"cannot write the docs to {exc.filename}: {exc.strerror}"))
    click.echo(f"wrote {len(written)} pages to {directory}", err=True)
    click.echo(str(directory / "README.md"))
