"""The manifest as one JSON document with every referenced schema inlined (for a workflow builder)."""

from __future__ import annotations

import json
from typing import Any

from connector.manifest import Entry, Manifest

FILE_FIELDS = ("config_schema", "input_schema", "output_schema", "event_schema", "example_output")


def export_entry(entry: Entry) -> dict[str, Any]:
    """The entry with its schema and example files replaced by their JSON."""
    out = dict(entry.data)
    for name in FILE_FIELDS:
        if name in out:
            out[name] = json.loads(entry.path(name).read_text(encoding="utf-8"))
    return out


def export_manifest(manifest: Manifest) -> dict[str, Any]:
    exported: dict[str, Any] = {
        "manifest_version": manifest.data["manifest_version"],
        "connector": manifest.connector,
    }
    for section in manifest.SECTIONS:
        exported[section] = [export_entry(entry) for entry in manifest.sections[section].values()]
    return exported
