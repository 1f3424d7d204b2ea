"""The form schema: local refs inlined, nullable fields made optional, choices that can stay unset."""

from __future__ import annotations

from typing import Any

from connector.manifest import load_manifest
from connector.ui.forms import catalogue, form_schema, step


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def _nullable(node: Any) -> bool:
    if isinstance(node, dict):
        options = node.get("anyOf") or []
        if any(isinstance(o, dict) and o.get("type") == "null" for o in options):
            return True
        return any(_nullable(v) for v in node.values())
    return isinstance(node, list) and any(_nullable(v) for v in node)


def test_every_step_form_has_no_refs_and_no_null_options() -> None:
    manifest = load_manifest()
    entries = [*manifest.actions.values(), *manifest.triggers.values()]
    for entry in entries:
        schema = form_schema(entry.schema("input_schema"))
        assert not _refs(schema), entry.key
        assert not _nullable(schema), entry.key
        assert "$defs" not in schema


def test_nullable_field_keeps_its_title_description_and_loses_the_null_default() -> None:
    schema = form_schema(
        {
            "type": "object",
            "properties": {
                "limit": {
                    "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
                    "default": None,
                    "title": "Limit",
                    "description": "At most this many.",
                }
            },
        }
    )
    assert schema["properties"]["limit"] == {
        "type": "integer",
        "minimum": 1,
        "title": "Limit",
        "description": "At most this many.",
    }


def test_refs_are_inlined_and_a_recursive_ref_stops() -> None:
    schema = form_schema(
        {
            "$defs": {
                "Recipient": {
                    "type": "object",
                    "title": "Recipient",
                    "properties": {"address": {"type": "string"}},
                },
                "Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}},
            },
            "type": "object",
            "properties": {
                "to": {"type": "array", "items": {"$ref": "#/$defs/Recipient"}},
                "tree": {"$ref": "#/$defs/Node"},
            },
        }
    )
    assert schema["properties"]["to"]["items"]["properties"] == {"address": {"type": "string"}}
    assert schema["properties"]["tree"]["properties"]["child"] == {"type": "object", "title": "Node"}


def test_optional_choice_without_default_can_stay_unset_and_required_one_cannot() -> None:
    schema = form_schema(
        {
            "type": "object",
            "required": ["kind"],
            "properties": {
                "kind": {"enum": ["a", "b"], "type": "string"},
                "body": {
                    "anyOf": [{"enum": ["text", "html"], "type": "string"}, {"type": "null"}],
                    "default": None,
                },
                "importance": {"enum": ["low", "normal"], "type": "string", "default": "normal"},
            },
        }
    )
    props = schema["properties"]
    assert props["kind"]["enum"] == ["a", "b"]
    assert props["body"]["enum"] == ["", "text", "html"]
    assert props["body"]["options"]["enum_titles"] == ["(not set)", "text", "html"]
    assert props["importance"]["enum"] == ["low", "normal"]


def test_examples_become_placeholders_date_times_plain_text_and_booleans_check_boxes() -> None:
    schema = form_schema(
        {
            "type": "object",
            "properties": {
                "since": {"type": "string", "format": "date-time", "examples": ["2026-01-01T00:00:00Z"]},
                "to": {"type": "string", "format": "email"},
                "urgent": {"type": "boolean", "default": False},
                "reminder": {"anyOf": [{"type": "boolean"}, {"type": "null"}], "default": None},
            },
        }
    )
    since = schema["properties"]["since"]
    assert "format" not in since
    assert since["options"]["inputAttributes"]["placeholder"] == "e.g. 2026-01-01T00:00:00Z"
    assert schema["properties"]["to"]["format"] == "email"
    assert schema["properties"]["urgent"] == {"type": "boolean", "default": False, "format": "checkbox"}
    # no default: not a check box (unticked would send false), a select that can stay blank
    assert schema["properties"]["reminder"] == {"type": "boolean", "options": {"enum_titles": ["yes", "no"]}}


def test_catalogue_groups_every_action_and_the_triggers() -> None:
    manifest = load_manifest()
    groups = catalogue(manifest)
    names = [g["name"] for g in groups]
    assert names[-1] == "triggers" and names[:-1] == sorted(names[:-1])
    keys = {e["key"] for g in groups for e in g["entries"] if e["kind"] == "action"}
    assert keys == set(manifest.actions)
    assert {e["key"] for e in groups[-1]["entries"]} == set(manifest.triggers)


def test_step_names_its_data_sources_and_paging_field() -> None:
    manifest = load_manifest()
    listed = step(manifest.action("list_messages"), "action", manifest)
    assert listed["data_sources"] == {"folder_id": "select_mail_folder"}
    assert listed["pages_with"] == "page_link"
    assert step(manifest.action("send_message"), "action", manifest)["pages_with"] is None


def test_a_picker_takes_the_forms_values_of_its_data_sources_other_inputs() -> None:
    manifest = load_manifest()
    moved = step(manifest.action("move_message"), "action", manifest)
    assert moved["data_source_inputs"]["select_mail_folder"] == ["user_id"]
    assert "folder_id" not in moved["data_source_inputs"]["select_message"]  # not a field of the step
    updated = step(manifest.action("update_event"), "action", manifest)
    assert updated["data_source_inputs"]["select_event"] == ["time_zone", "user_id"]
