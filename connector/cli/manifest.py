"""``manifest validate`` and ``manifest export``."""

from __future__ import annotations

import json
import sys

import click

from connector.cli._common import fail, load_manifest, main, write_text_option
from connector.errors import ConnectorError


@main.group()
def manifest() -> None:
    """Check or export the connector manifest."""


@manifest.command("validate")
def manifest_validate() -> None:
    """Check manifest.yaml: schema, unique keys, schema files, handlers, committed schemas and
    reference docs."""
    from connector.docs import REFERENCE_DIR, stale_pages
    from connector.manifest import load_manifest as load
    from connector.schemas import stale_files

    try:
        loaded = load(check=False)
        problems = [str(p) for p in loaded.problems(deep=True)]
        if not problems:
            problems = [
                f"{path.relative_to(loaded.root)}: differs from its models (run python -m connector.schemas)"
                for path in stale_files(loaded)
            ]
        reference = loaded.root / REFERENCE_DIR
        if not problems and reference.is_dir():
            problems = [
                f"{REFERENCE_DIR / page}: stale reference page (run outlook-connector docs build)"
                for page in stale_pages(loaded, reference)
            ]
    except ConnectorError as exc:
        fail(exc)
    if problems:
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        click.echo(f"error: manifest has {len(problems)} problem(s)", err=True)
        sys.exit(1)
    counts = ", ".join(f"{len(loaded.sections[s])} {s.replace('_', ' ')}" for s in loaded.SECTIONS)
    click.echo(f"manifest OK: {counts}")


@manifest.command("export")
@click.option("--output", "-o", help="Write to this file.")
def manifest_export(output: str | None) -> None:
    """The whole manifest as JSON with every schema inlined (for a workflow builder)."""
    from connector.export import export_manifest

    try:
        text = json.dumps(export_manifest(load_manifest()), indent=2, ensure_ascii=False)
    except ConnectorError as exc:
        fail(exc)
    if output:
        write_text_option(output, text + "\n", "--output")
    else:
        click.echo(text)
