"""An input JSON Schema as rows a person reads (name, type, required, default, notes), and a
ready-to-copy example input built from it. Used by the generated docs and ``describe`` commands."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    """One property of an object schema, described for a person."""

    name: str
    label: str
    type: str
    required: bool
    default: str  # JSON text, "" when there is none (or it is null)
    description: str
    notes: tuple[str, ...]  # allowed values, range, dropdown, example


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target: dict[str, Any] = root.get("$defs", {}).get(ref.removeprefix("#/$defs/"), {})
        return target
    return schema


def _ref_name(ref: str) -> str:
    name = ref.rsplit("/", 1)[-1]
    return name.removesuffix("Input") or name


def type_name(schema: dict[str, Any], root: dict[str, Any]) -> str:
    """``string``, ``integer``, ``string (email)``, ``array of Recipient``, ``string | Recipient``."""
    if "$ref" in schema:
        target = _resolve(schema, root)
        if "enum" in target:
            return type_name(target, root)
        return _ref_name(str(schema["$ref"]))
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        names = [type_name(option, root) for option in options if option.get("type") != "null"]
        return " | ".join(dict.fromkeys(names)) or "null"
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind if k != "null")
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, dict):
            return "array"
        item = type_name(items, root)
        return f"array of ({item})" if " | " in item else f"array of {item}"
    if kind is None:
        return "const" if "const" in schema else "any"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt and fmt != "password" else str(kind)


def _first_non_null(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The schema itself, or its one non-null ``anyOf`` branch (pydantic's ``X | None``)."""
    options = schema.get("anyOf")
    if options:
        concrete = [o for o in options if o.get("type") != "null"]
        if len(concrete) == 1:
            return {**_resolve(concrete[0], root), **{k: v for k, v in schema.items() if k != "anyOf"}}
    return _resolve(schema, root) if "$ref" in schema else schema


def _code(value: Any) -> str:
    return "`" + json.dumps(value, ensure_ascii=False) + "`"


def _notes(schema: dict[str, Any], root: dict[str, Any], data_source: str | None) -> tuple[str, ...]:
    inner = _first_non_null(schema, root)
    notes: list[str] = []
    if "enum" in inner:
        notes.append("one of " + ", ".join(_code(v) for v in inner["enum"] if v is not None))
    bounds = [
        f"{word} {inner[key]}"
        for key, word in (
            ("minimum", "min"),
            ("maximum", "max"),
            ("minLength", "min length"),
            ("maxLength", "max length"),
            ("minItems", "min items"),
            ("maxItems", "max items"),
        )
        if key in inner
    ]
    if bounds:
        notes.append(", ".join(bounds))
    if data_source:
        notes.append(f"options from data source `{data_source}`")
    if inner.get("writeOnly") or schema.get("secret"):
        notes.append("secret: never shown again")
    examples = schema.get("examples") or inner.get("examples")
    if examples:
        notes.append("example " + _code(examples[0]))
    return tuple(notes)


def fields(schema: dict[str, Any], data_sources: dict[str, str] | None = None) -> list[Field]:
    """The properties of an object ``schema`` in their declared order; ``data_sources`` maps an input
    to the data source that fills its dropdown (a manifest entry's ``data_sources``)."""
    return object_fields(schema, schema, data_sources or {})


def object_fields(
    schema: dict[str, Any], root: dict[str, Any], data_sources: dict[str, str] | None = None
) -> list[Field]:
    required = set(schema.get("required", []))
    rows = []
    for name, prop in (schema.get("properties") or {}).items():
        default = prop.get("default")
        rows.append(
            Field(
                name=name,
                label=str(prop.get("title") or name),
                type=type_name(prop, root),
                required=name in required,
                default="" if default is None else json.dumps(default, ensure_ascii=False),
                description=" ".join(str(prop.get("description") or "").split()),
                notes=_notes(prop, root, (data_sources or {}).get(name)),
            )
        )
    return rows


def nested_objects(schema: dict[str, Any]) -> dict[str, list[Field]]:
    """The object types an input refers to (``$defs``), by display name, with their fields."""
    found: dict[str, list[Field]] = {}
    for name, definition in (schema.get("$defs") or {}).items():
        if definition.get("type") == "object" and definition.get("properties"):
            found[_ref_name("#/$defs/" + name)] = object_fields(definition, schema)
    return found


FORMAT_SAMPLES = {"email": "someone@example.com", "date-time": "2026-01-01T09:00:00Z", "date": "2026-01-01"}


def _sample(schema: dict[str, Any], root: dict[str, Any], name: str) -> Any:
    inner = _first_non_null(schema, root)
    if "anyOf" in inner:  # several kinds accepted: sample the first
        return _sample(inner["anyOf"][0], root, name)
    for key in ("examples", "enum"):
        if inner.get(key):
            return inner[key][0]
    if inner.get("default") is not None:
        return inner["default"]
    kind = inner.get("type")
    if kind == "object":
        return example_input(inner, root)
    if kind == "array":
        items = inner.get("items")
        return [_sample(items, root, name)] if isinstance(items, dict) else []
    if kind in ("integer", "number"):
        return inner.get("minimum", 1)
    if kind == "boolean":
        return False
    return FORMAT_SAMPLES.get(str(inner.get("format")), f"<{name}>")


def example_input(schema: dict[str, Any], root: dict[str, Any] | None = None) -> dict[str, Any]:
    """An input with every required field filled from its example, first allowed value or default:
    for entries whose manifest carries no ``example_input``."""
    root = root if root is not None else schema
    return {name: _sample(schema["properties"][name], root, name) for name in schema.get("required", [])}
