"""connector.schema_fields: JSON Schema -> readable input rows and a ready-to-copy example."""

from __future__ import annotations

import pytest

from connector.manifest import load_manifest
from connector.schema_fields import example_input, fields, type_name

SCHEMA = {
    "$defs": {
        "RecipientInput": {
            "type": "object",
            "properties": {"address": {"type": "string", "format": "email"}},
            "required": ["address"],
        },
        "Colour": {"enum": ["red", "blue"], "type": "string"},
    },
    "type": "object",
    "properties": {
        "to": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/RecipientInput"}]}},
        "top": {"type": "integer", "default": 10, "minimum": 1, "maximum": 50, "title": "Page size"},
        "folder_id": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "colour": {"$ref": "#/$defs/Colour"},
        "when": {"type": "string", "format": "date-time"},
    },
    "required": ["to", "when", "colour"],
}


def test_type_names() -> None:
    props = SCHEMA["properties"]
    assert type_name(props["to"], SCHEMA) == "array of (string | Recipient)"
    assert type_name(props["folder_id"], SCHEMA) == "string"
    assert type_name(props["colour"], SCHEMA) == "string"
    assert type_name(props["when"], SCHEMA) == "string (date-time)"


def test_fields_rows() -> None:
    rows = {row.name: row for row in fields(SCHEMA, {"folder_id": "select_mail_folder"})}
    assert list(rows) == ["to", "top", "folder_id", "colour", "when"]
    assert rows["to"].required and not rows["top"].required
    assert rows["top"].label == "Page size" and rows["top"].default == "10"
    assert "min 1, max 50" in rows["top"].notes
    assert rows["folder_id"].default == ""
    assert "options from data source `select_mail_folder`" in rows["folder_id"].notes
    assert 'one of `"red"`, `"blue"`' in rows["colour"].notes


def test_example_input_fills_required_fields() -> None:
    assert example_input(SCHEMA) == {"to": ["<to>"], "when": "2026-01-01T09:00:00Z", "colour": "red"}


@pytest.mark.parametrize("section", ["actions", "data_sources", "triggers"])
def test_built_examples_validate_against_every_entry_schema(section: str) -> None:
    for entry in load_manifest().sections[section].values():
        example = example_input(entry.schema("input_schema"))
        assert entry.validator("input_schema").errors(example) == [], entry.key
