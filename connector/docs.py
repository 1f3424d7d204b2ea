"""Reference docs (Markdown) generated from the manifest, in the shape of a connector reference:
connections with their fields; every action with its description, inputs (type, default, notes),
permissions, category and an example payload; data sources; triggers.

    python -m connector.docs                 # rewrite schemas/reference/
    python -m connector.docs --check         # list stale pages; exit 1 if any (a test does the same)
    outlook-connector docs build [-o DIR]    # the same pages into another directory
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from connector.manifest import Entry, Manifest, load_manifest
from connector.schema_fields import Field, fields, nested_objects

REFERENCE_DIR = Path("schemas") / "reference"
GROUP_TITLES = {"raw": "Raw requests", "mail_folders": "Mail folders"}
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
PLACEHOLDER_NOTE = (
    "Names in braces (`{first_message_id}`) stand for objects of the sandbox's seeded mailbox; "
    "`outlook-connector run KEY --example` fills them in."
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _json_block(value: Any) -> list[str]:
    return ["```json", json.dumps(value, indent=2, ensure_ascii=False), "```"]


def _group_title(group: str) -> str:
    return GROUP_TITLES.get(group, group.replace("_", " ").capitalize())


def _input_table(rows: Iterable[Field]) -> list[str]:
    lines = ["| Input | Default | Notes |", "| --- | --- | --- |"]
    for row in rows:
        name = f"**{_cell(row.label)}** `{row.name}`<br>{_cell(row.type)}" + (
            " / Required" if row.required else ""
        )
        default = f"`{_cell(row.default)}`" if row.default else ""
        notes = "<br>".join(_cell(n) for n in (row.description, *row.notes) if n)
        lines.append(f"| {name} | {default} | {notes} |")
    return lines


def _inputs(entry: Entry, schema_field: str = "input_schema") -> list[str]:
    schema = entry.schema(schema_field)
    rows = fields(schema, entry.get("data_sources") or {})
    if not rows:
        return ["No inputs.", ""]
    lines = [*_input_table(rows), ""]
    for name, nested in nested_objects(schema).items():
        lines += [f"`{name}` objects:", "", *_input_table(nested), ""]
    return lines


def _permissions(entry: Entry) -> str:
    permissions = entry.get("permissions") or {}
    parts = [f"{kind} {', '.join(f'`{p}`' for p in names)}" for kind, names in permissions.items() if names]
    return "; ".join(parts) or "none"


def _facts(entry: Entry, *extra: str) -> list[str]:
    facts = [f"Key: `{entry.key}`", *extra, f"Permissions: {_permissions(entry)}"]
    if entry.get("docs_url"):
        facts.append(f"Graph docs: <{entry['docs_url']}>")
    return [f"- {fact}" for fact in facts] + [""]


def _connections(entry: Entry) -> str:
    return "Connections: " + ", ".join(f"`{c}`" for c in entry["connections"])


def _description(entry: Entry) -> list[str]:
    return [" ".join(str(entry["description"]).split()), ""]


def _examples(entry: Entry, payload: Any, payload_title: str) -> list[str]:
    lines: list[str] = []
    if "example_input" in entry.data:
        example = entry["example_input"]
        lines += ["Example input:", "", *_json_block(example), ""]
        if PLACEHOLDER.search(json.dumps(example)):
            lines += [PLACEHOLDER_NOTE, ""]
    if payload is not None:
        lines += [f"{payload_title}:", "", *_json_block(payload), ""]
    return lines


def action_page(group: str, entries: list[Entry]) -> str:
    lines = [f"# {_group_title(group)} actions", ""]
    for entry in entries:
        hints = [h.replace("_", "-") for h in ("read_only", "idempotent", "destructive") if entry.get(h)]
        extra = [
            f"Category: `{entry['category']}`" + (f" ({', '.join(hints)})" if hints else ""),
            _connections(entry),
        ]
        payload = json.loads(entry.path("example_output").read_text(encoding="utf-8"))
        lines += [f"## {entry['label']}", "", *_description(entry), *_facts(entry, *extra)]
        lines += ["### Inputs", "", *_inputs(entry), *_examples(entry, payload, "Example payload")]
    return "\n".join(lines).rstrip() + "\n"


def connections_page(manifest: Manifest) -> str:
    lines = ["# Connections", ""]
    for entry in manifest.connections.values():
        flags = [name.replace("_", "-") for name in ("default", "deprecated", "app_only") if entry.get(name)]
        lines += [f"## {entry['label']}", "", *_description(entry), f"- Key: `{entry.key}`"]
        if flags:
            lines.append(f"- {', '.join(flags).capitalize()}")
        lines += ["", "### Fields", "", *_inputs(entry, "config_schema")]
    return "\n".join(lines).rstrip() + "\n"


def data_sources_page(manifest: Manifest) -> str:
    users: dict[str, list[str]] = {}
    for section in ("actions", "triggers"):
        for entry in manifest.sections[section].values():
            for source in dict.fromkeys((entry.get("data_sources") or {}).values()):
                users.setdefault(source, []).append(entry.key)
    lines = ["# Data sources", "", "Each returns one page of `{options: [{key, label}], next_cursor}`.", ""]
    for entry in manifest.data_sources.values():
        used_by = ", ".join(f"`{key}`" for key in users.get(entry.key, [])) or "none"
        lines += [f"## {entry['label']}", "", *_description(entry), *_facts(entry, f"Used by: {used_by}")]
        lines += ["### Inputs", "", *_inputs(entry)]
    return "\n".join(lines).rstrip() + "\n"


def triggers_page(manifest: Manifest) -> str:
    lines = ["# Triggers", ""]
    for entry in manifest.triggers.values():
        extra = [f"Kind: {entry['kind']}", _connections(entry)]
        example = _examples(entry, entry.get("example_event"), "Example event")
        lines += [f"## {entry['label']}", "", *_description(entry), *_facts(entry, *extra)]
        lines += ["### Inputs", "", *_inputs(entry), *example]
    return "\n".join(lines).rstrip() + "\n"


def _groups(manifest: Manifest) -> dict[str, list[Entry]]:
    groups: dict[str, list[Entry]] = {}
    for entry in manifest.actions.values():
        groups.setdefault(entry["group"], []).append(entry)
    return groups


def index_page(manifest: Manifest) -> str:
    info = manifest.connector
    lines = [
        f"# {info['label']} connector reference",
        "",
        " ".join(str(info["description"]).split()),
        "",
        f"Connector key: `{info['key']}` · version {info['version']}. Generated from `manifest.yaml` by "
        "`outlook-connector docs build`; do not edit by hand.",
        "",
        f"- [Connections](connections.md): {len(manifest.connections)}",
        f"- [Triggers](triggers.md): {len(manifest.triggers)}",
        f"- [Data sources](data-sources.md): {len(manifest.data_sources)}",
        f"- Actions: {len(manifest.actions)}",
        "",
        "| Action | Key | Category | Description |",
        "| --- | --- | --- | --- |",
    ]
    for group, entries in _groups(manifest).items():
        for entry in entries:
            summary = " ".join(str(entry["description"]).split())
            anchor = _anchor(entry["label"])
            link = f"[{entry['label']}](actions/{group}.md#{anchor})"
            lines.append(f"| {link} | `{entry.key}` | {entry['category']} | {_cell(summary)} |")
    return "\n".join(lines) + "\n"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes."""
    kept = "".join(c for c in heading.lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def build(manifest: Manifest) -> dict[Path, str]:
    """Relative path -> Markdown text of every reference page."""
    pages = {
        Path("README.md"): index_page(manifest),
        Path("connections.md"): connections_page(manifest),
        Path("triggers.md"): triggers_page(manifest),
        Path("data-sources.md"): data_sources_page(manifest),
    }
    for group, entries in _groups(manifest).items():
        pages[Path("actions") / f"{group}.md"] = action_page(group, entries)
    return pages


def stale_pages(manifest: Manifest, directory: Path) -> list[Path]:
    """Pages missing, different or left over in ``directory`` compared with what ``build`` writes."""
    pages = build(manifest)
    stale = [p for p, text in pages.items() if _read(directory / p) != text]
    present = {p.relative_to(directory) for p in directory.rglob("*.md")} if directory.is_dir() else set()
    return stale + sorted(present - set(pages))


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def write(manifest: Manifest, directory: Path, *, prune: bool = False) -> list[Path]:
    """Write every page into ``directory``; the paths written. ``prune`` also deletes the other
    Markdown files there (pages of entries that are gone): only for the committed reference."""
    pages = build(manifest)
    if prune and directory.is_dir():
        for leftover in {p.relative_to(directory) for p in directory.rglob("*.md")} - set(pages):
            (directory / leftover).unlink()
    for relative, text in pages.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [directory / p for p in pages]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only list stale pages; exit 1 if any")
    args = parser.parse_args(argv)
    manifest = load_manifest()
    directory = manifest.root / REFERENCE_DIR
    if args.check:
        stale = stale_pages(manifest, directory)
        for path in stale:
            print(f"stale {REFERENCE_DIR / path}")
        return 1 if stale else 0
    for path in write(manifest, directory, prune=True):
        print(f"wrote {path.relative_to(manifest.root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
