"""``actions describe``, ``data-sources describe`` and ``triggers describe``: an entry as a person
reads it (a table of inputs and a ready-to-copy example input), or as JSON (``--json``)."""

from __future__ import annotations

import json
import re
import shlex
from typing import TYPE_CHECKING, Any

import click

from connector.cli._common import print_json, print_table

if TYPE_CHECKING:
    from connector.manifest import Entry

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
COMMANDS = {"actions": "run", "data_sources": "data-sources run", "triggers": "triggers listen"}


def describe(entry: Entry, as_json: bool) -> None:
    """Print ``entry``: its manifest entry with schemas inlined (``as_json``) or a readable page."""
    if as_json:
        from connector.export import export_entry

        print_json(export_entry(entry))
        return
    from connector.schema_fields import example_input, fields

    click.echo(f"{entry.key}: {entry['label']}")
    click.echo(" ".join(str(entry["description"]).split()))
    facts = [(name, entry.get(name)) for name in ("group", "category", "kind") if entry.get(name)]
    hints = [name.replace("_", "-") for name in ("read_only", "idempotent", "destructive") if entry.get(name)]
    if hints:
        facts.append(("hints", ", ".join(hints)))
    permissions = entry.get("permissions") or {}
    facts += [(f"{kind} permissions", " ".join(names)) for kind, names in permissions.items() if names]
    if entry.get("docs_url"):
        facts.append(("docs", entry["docs_url"]))
    click.echo()
    for name, value in facts:
        click.echo(f"{name + ':':<25}{value}")
    schema = entry.schema("input_schema")
    rows = fields(schema, entry.get("data_sources") or {})
    click.echo()
    if rows:
        click.echo("Inputs:")
        print_table(
            ["NAME", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION"],
            [[row.name, row.type, "yes" if row.required else "", row.default, _about(row)] for row in rows],
        )
    else:
        click.echo("Inputs: none")
    example: Any = entry["example_input"] if "example_input" in entry.data else example_input(schema)
    text = json.dumps(example, ensure_ascii=False)
    click.echo()
    click.echo("Example input (ready to copy):")
    command = "triggers poll" if entry.get("kind") == "polling" else COMMANDS[entry.kind]
    click.echo(f"  outlook-connector {command} {entry.key} --input {shlex.quote(text)}")
    if PLACEHOLDER.search(text):
        click.echo(
            f"  (names in braces stand for sandbox objects: `outlook-connector run {entry.key} --example`"
            " fills them in and runs it)"
        )


def _about(row: Any) -> str:
    notes = "; ".join(row.notes)
    if row.description and notes:
        return f"{row.description} ({notes})"
    return row.description or notes
