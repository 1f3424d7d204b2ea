"""What the step form is rendered from: the catalogue by group, and an entry's input schema made
plain for the form library.

Pydantic writes optional fields as ``anyOf: [X, {"type": "null"}]`` and shared models under
``$defs``. A form library would render the first as a type switch and cannot follow ``$defs`` refs
(``@json-editor/json-editor`` knows only ``definitions``), so ``form_schema`` inlines local refs and
turns ``X or null`` into an optional ``X``. Nothing is special-cased per action: the same rules
apply to every schema, and the runtime still validates against the original one.
"""

from __future__ import annotations

from typing import Any

from connector.manifest import Entry, Manifest

SCALAR_TYPES = ("string", "integer", "number")
PLAIN_FORMATS = frozenset({"date-time", "date", "time"})
"""Formats rendered as text inputs with an example placeholder: the browser's own date widgets
drop the time zone or seconds that Graph's values carry."""


def catalogue(manifest: Manifest) -> list[dict[str, Any]]:
    """Actions by group (sorted by group, then label), then the triggers as one group."""
    groups: dict[str, list[dict[str, Any]]] = {}
    out: list[dict[str, Any]]
    for entry in manifest.actions.values():
        groups.setdefault(entry["group"], []).append(_summary(entry, "action"))
    out = [
        {"name": name, "entries": sorted(entries, key=lambda e: e["label"])}
        for name, entries in sorted(groups.items())
    ]
    triggers = [_summary(entry, "trigger") for entry in manifest.triggers.values()]
    if triggers:
        out.append({"name": "triggers", "entries": sorted(triggers, key=lambda e: e["label"])})
    return out


def _summary(entry: Entry, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "key": entry.key,
        "label": entry["label"],
        "description": entry.get("description", ""),
        "category": entry.get("category") or entry.get("kind", ""),
    }


PICKER_INPUTS = frozenset({"search", "cursor", "page_size"})
"""A data source's inputs that its picker fills itself."""


def step(entry: Entry, kind: str, manifest: Manifest) -> dict[str, Any]:
    """One step as the page renders it: its description, safety hints and form schema, and for
    each data source the step's fields it takes too (``select_message`` reads the ``folder_id``
    and ``user_id`` the form holds): the picker passes them along."""
    schema = entry.schema("input_schema")
    fields = set(schema.get("properties", {}))
    sources = dict(entry.get("data_sources") or {})
    follows = {
        key: sorted(
            fields
            & set(manifest.data_sources[key].schema("input_schema").get("properties", {})) - PICKER_INPUTS
        )
        for key in set(sources.values())
        if key in manifest.data_sources
    }
    return {
        **_summary(entry, kind),
        "docs_url": entry.get("docs_url"),
        "permissions": entry.get("permissions"),
        "hints": {name: entry.get(name) for name in ("read_only", "idempotent", "destructive")},
        "connections": entry.get("connections"),
        "data_sources": sources,
        "data_source_inputs": follows,
        "pages_with": "page_link" if "page_link" in schema.get("properties", {}) else None,
        "form_schema": form_schema(schema),
    }


def form_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its local ``$ref``s inlined and nullable ``anyOf``s made optional fields."""
    definitions: dict[str, Any] = schema.get("$defs", {})
    plain = _plain(schema, definitions, ())
    assert isinstance(plain, dict)
    return plain


def _plain(node: Any, definitions: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_plain(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        name = ref.removeprefix("#/$defs/")
        if name in seen or name not in definitions:  # a recursive model: stop at a free-form object
            return {"type": "object", "title": node.get("title", name)}
        merged = {**definitions[name], **{k: v for k, v in node.items() if k != "$ref"}}
        return _plain(merged, definitions, (*seen, name))
    out = {k: _plain(v, definitions, seen) for k, v in node.items() if k not in ("$defs", "$schema")}
    out = _optional(out)
    if isinstance(out.get("properties"), dict):
        _unset_choices(out["properties"], set(out.get("required", ())))
    if out.get("format") in PLAIN_FORMATS:
        out.pop("format")
    if out.get("type") == "boolean":
        if "default" in out:
            out["format"] = "checkbox"  # a check box rather than a true/false select
        else:  # an optional flag without a default: a select whose blank choice leaves it out
            out.setdefault("options", {})["enum_titles"] = ["yes", "no"]
    if out.get("type") in SCALAR_TYPES and out.get("examples"):
        out.setdefault("options", {}).setdefault("inputAttributes", {})["placeholder"] = (
            f"e.g. {out['examples'][0]}"
        )
    return out


def _unset_choices(properties: dict[str, Any], required: set[str]) -> None:
    """An optional choice with no default gets a first "not set" option (a select always shows a
    value; without it the first choice would be sent). The empty value is left out of the input."""
    for name, prop in properties.items():
        choices = prop.get("enum") if isinstance(prop, dict) else None
        if name in required or not isinstance(choices, list) or "default" in prop or "" in choices:
            continue
        prop["enum"] = ["", *choices]
        titles = prop.setdefault("options", {}).get("enum_titles") or [str(c) for c in choices]
        prop["options"]["enum_titles"] = ["(not set)", *titles]


def _optional(node: dict[str, Any]) -> dict[str, Any]:
    """``{anyOf: [X, null], title, default: null}`` -> ``{**X, title}`` (no null default)."""
    options = node.get("anyOf")
    if not isinstance(options, list):
        return node
    kept = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
    if len(kept) == len(options):
        return node
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    if rest.get("default", 0) is None:
        rest.pop("default")
    if len(kept) == 1 and isinstance(kept[0], dict):
        return {**kept[0], **rest}
    return {**rest, "anyOf": kept}
