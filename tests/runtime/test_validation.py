"""Field-path errors from JSON Schema validation."""

from __future__ import annotations

from connector.validation import SchemaValidator, format_path

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["to", "subject"],
    "properties": {
        "subject": {"type": "string"},
        "top": {"type": "integer", "minimum": 1, "maximum": 1000},
        "to": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["address"],
                "properties": {"address": {"type": "string", "format": "email"}},
            },
        },
    },
}


def test_format_path() -> None:
    assert format_path(["to", 0, "address"]) == "to[0].address"
    assert format_path([]) == "(root)"


def test_every_failing_field_is_named_with_its_reason() -> None:
    errors = SchemaValidator(SCHEMA).errors({"to": [{"address": "nope"}, {}], "top": 0, "colour": "x"})
    rendered = [str(e) for e in errors]
    assert "subject: is required" in rendered
    assert "to[1].address: is required" in rendered
    assert "colour: is not a known field" in rendered
    assert any(r.startswith("to[0].address: ") and "email" in r for r in rendered)
    assert any(r.startswith("top: ") and "minimum" in r for r in rendered)


def test_valid_input_has_no_errors() -> None:
    assert SchemaValidator(SCHEMA).errors({"to": [{"address": "a@contoso.com"}], "subject": "hi"}) == []
