"""The manifest as one JSON document with every referenced schema inlined (for a workflow builder),
and the permission policy a builder renders as a three-way switch per category."""

from __future__ import annotations

import json
from typing import Any

from connector.manifest import Entry, Manifest
from connector.policy import CATEGORIES, CATEGORY_MEANINGS, DEFAULT_POLICY, PRESETS, SETTINGS, Policy

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
    exported["policy"] = export_policy(manifest)
    return exported


SETTING_LABELS = {"allow": "Always allow", "approve": "Needs approval", "disabled": "Disabled"}


def export_policy(manifest: Manifest, current: Policy | None = None) -> dict[str, Any]:
    """The policy as a builder needs it: the settings with their labels, each category with its
    meaning, actions and default, the presets, and the policy in force (``current``)."""
    actions: dict[str, list[str]] = {category: [] for category in CATEGORIES}
    for entry in manifest.actions.values():
        actions[entry["category"]].append(entry.key)
    return {
        "settings": [{"value": value, "label": SETTING_LABELS[value]} for value in SETTINGS],
        "categories": [
            {
                "key": category,
                "label": category.capitalize(),
                "description": CATEGORY_MEANINGS[category],
                "default": DEFAULT_POLICY.setting(category),
                "actions": actions[category],
            }
            for category in CATEGORIES
        ],
        "judged_by_request": ["raw_request", "batch_request"],
        "presets": {name: preset.to_dict() for name, preset in PRESETS.items()},
        "current": (current or DEFAULT_POLICY).to_dict(),
    }
