"""The manifest's triggers: complete entries, committed schemas that match the models, examples that
validate and plan, and events as the host receives them matching the event schema."""

from __future__ import annotations

import json

import pytest

from connector.export import export_manifest
from connector.manifest import Entry, load_manifest
from connector.schemas import generated_schemas, render
from connector.validation import validator_for_file
from triggers.delivery import TriggerEvent
from triggers.plan import TriggerPlan

MANIFEST = load_manifest()
KEYS = ["mail_message_webhook", "calendar_event_webhook", "new_attachment_webhook", "webhook", "poll_changes"]


def test_the_five_triggers_are_registered() -> None:
    assert sorted(MANIFEST.triggers) == sorted(KEYS)
    assert {k: e["kind"] for k, e in MANIFEST.triggers.items()} == {
        **{k: "webhook" for k in KEYS[:4]},
        "poll_changes": "polling",
    }
    assert MANIFEST.problems(deep=True) == []


@pytest.mark.parametrize("key", KEYS)
def test_schemas_are_generated_from_the_models(key: str) -> None:
    entry = MANIFEST.triggers[key]
    for name, schema in generated_schemas(entry).items():
        assert entry.path(name).read_text(encoding="utf-8") == render(schema), (
            "run python -m connector.schemas"
        )


@pytest.mark.parametrize("key", KEYS)
def test_examples_validate_and_the_event_matches_the_event_schema(key: str) -> None:
    entry: Entry = MANIFEST.triggers[key]
    assert entry.validator("input_schema").errors(entry["example_input"]) == []
    assert entry.validator("event_schema").errors(entry["example_event"]) == []
    assert entry["example_event"]["trigger_key"] == key
    for field, source in (entry.get("data_sources") or {}).items():
        assert field in entry.schema("input_schema")["properties"] and source in MANIFEST.data_sources


def test_a_delivered_event_matches_the_event_schema() -> None:
    event = TriggerEvent(
        "i", "poll_changes", "k", "created", "m1", {"id": "m1"}, "delta", 1.0, 1.0, "message"
    )
    validator = validator_for_file(MANIFEST.triggers["poll_changes"].path("event_schema"))
    assert validator.errors(json.loads(json.dumps(event.to_json()))) == []
    assert validator.errors({**event.to_json(), "change_type": "moved"}) != []


def test_export_inlines_trigger_schemas() -> None:
    exported = {t["key"]: t for t in export_manifest(MANIFEST)["triggers"]}
    assert exported["poll_changes"]["input_schema"]["properties"]["resource"]["enum"] == [
        "messages",
        "events",
    ]
    assert exported["poll_changes"]["event_schema"]["title"] == "Trigger event"


def test_handlers_return_plans() -> None:
    from connector.context import ActionContext

    class _Conn:
        default_mailbox = "ops@contoso.com"
        app_only = True

    for key in KEYS:
        entry = MANIFEST.triggers[key]
        from connector.runtime import _input_model

        params = _input_model(entry).model_validate(entry["example_input"])
        plan = entry.handler(ActionContext(graph=None, connection=_Conn()), params)  # type: ignore[arg-type]
        assert isinstance(plan, TriggerPlan) and plan.watches
        assert all(w.resource.startswith("users/ops%40contoso.com/") for w in plan.watches)
