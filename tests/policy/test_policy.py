"""The policy itself: defaults, presets, parsing, request classification, granted scopes."""

from __future__ import annotations

import json

import pytest

from connector.errors import InputValidationError
from connector.export import export_manifest
from connector.manifest import PROJECT_ROOT, load_manifest
from connector.mcp.tools import Catalog, parse_toolsets
from connector.policy import (
    CATEGORIES,
    CATEGORY_MEANINGS,
    DEFAULT_POLICY,
    PRESETS,
    Policy,
    granted_scopes,
    judge,
)
from connector.request_categories import classify_request

MANIFEST = load_manifest()


def setting(policy: Policy, key: str, raw_input: object = None) -> str:
    return judge(policy, MANIFEST.action(key), raw_input or {}).setting


def test_defaults_read_allowed_sending_asks_the_rest_disabled() -> None:
    assert setting(DEFAULT_POLICY, "list_messages") == "allow"
    assert setting(DEFAULT_POLICY, "send_message") == "approve"
    assert setting(DEFAULT_POLICY, "reply_to_message") == "approve"
    for key in ("create_draft", "update_message", "move_message", "delete_message", "create_subscription"):
        assert setting(DEFAULT_POLICY, key) == "disabled", key
    read_only = PRESETS["read_only"]
    assert setting(read_only, "get_message") == "allow" and setting(read_only, "send_message") == "disabled"


@pytest.mark.parametrize(
    ("key", "category"),
    [
        ("update_message", "draft"),
        ("delete_category", "delete"),
        ("move_message", "categorize"),
        ("copy_message", "categorize"),
        ("create_category", "categorize"),
        ("update_category", "categorize"),
        ("send_message", "send"),
        ("reply_to_message", "send"),
        ("forward_message", "send"),
        ("send_draft", "send"),
    ],
)
def test_categories_follow_the_agent_products_groups(key: str, category: str) -> None:
    assert MANIFEST.action(key)["category"] == category


def test_the_manifest_schema_and_export_say_what_each_category_means() -> None:
    schema = json.loads((PROJECT_ROOT / "schemas" / "manifest.schema.json").read_text(encoding="utf-8"))
    described = schema["properties"]["actions"]["items"]["properties"]["category"]["description"]
    for category in CATEGORIES:
        assert f"{category}:" in described
    exported = export_manifest(MANIFEST)["policy"]
    assert [c["key"] for c in exported["categories"]] == list(CATEGORIES)
    assert [s["label"] for s in exported["settings"]] == ["Always allow", "Needs approval", "Disabled"]
    send = next(c for c in exported["categories"] if c["key"] == "send")
    assert send["default"] == "approve" and "send_message" in send["actions"]
    assert send["description"] == CATEGORY_MEANINGS["send"]


def test_overrides_win_over_their_category() -> None:
    policy = DEFAULT_POLICY.changed(
        ["send_message=allow", "draft=allow", "update_message=disabled"], MANIFEST
    )
    assert setting(policy, "send_message") == "allow"
    assert setting(policy, "reply_to_message") == "approve"
    assert setting(policy, "create_draft") == "allow" and setting(policy, "update_message") == "disabled"
    assert setting(policy.changed(["send_message=inherit"], MANIFEST), "send_message") == "approve"


def test_a_bad_policy_names_every_field() -> None:
    with pytest.raises(InputValidationError) as caught:
        Policy.from_dict(
            {"categories": {"read": "yes", "mail": "allow"}, "overrides": {"nope": "allow"}, "extra": 1},
            MANIFEST,
        )
    assert {e.path for e in caught.value.errors} == {
        "categories.read",
        "categories.mail",
        "overrides.nope",
        "extra",
    }
    with pytest.raises(InputValidationError) as caught:
        DEFAULT_POLICY.changed(["send", "allowed_permissions=maybe"], MANIFEST)
    assert {e.path for e in caught.value.errors} == {"send", "allowed_permissions"}


@pytest.mark.parametrize(
    ("method", "path", "category"),
    [
        ("GET", "/me/messages?$top=5", "read"),
        ("POST", "/me/sendMail", "send"),
        ("POST", "/users/a%40b.com/messages/AAMk%2F1/reply", "send"),
        ("POST", "/me/messages/AAMk1/microsoft.graph.forward", "send"),
        ("POST", "/me/events/E1/accept", "send"),
        ("POST", "/me/messages/AAMk1/send", "send"),
        ("DELETE", "/me/messages/AAMk1", "delete"),
        ("DELETE", "/me/outlook/masterCategories/C1", "delete"),
        ("POST", "/me/messages/AAMk1/move", "categorize"),
        ("POST", "/me/outlook/masterCategories", "categorize"),
        ("PATCH", "/me/messages/AAMk1", "draft"),
        ("POST", "/me/messages/AAMk1/createReply", "draft"),
        ("POST", "/me/mailFolders", "draft"),
        ("POST", "/subscriptions", "admin"),
        ("PATCH", "/me/mailboxSettings", "admin"),
        ("POST", "/me/someUnknownThing", "admin"),
    ],
)
def test_a_graph_request_is_judged_by_what_it_does(method: str, path: str, category: str) -> None:
    assert classify_request(method, path) == category


def test_raw_and_batch_requests_take_the_strictest_request_and_overrides_only_tighten() -> None:
    policy = DEFAULT_POLICY.changed(["delete=approve"], MANIFEST)
    batch = {
        "requests": [
            {"id": "1", "url": "/me/messages"},
            {"id": "2", "method": "DELETE", "url": "/me/messages/AAMk1"},
            {"id": "3", "method": "POST", "url": "/me/messages/AAMk1/move", "body": {"destinationId": "x"}},
        ]
    }
    found = judge(policy, MANIFEST.action("batch_request"), batch)
    assert (found.category, found.setting) == ("categorize", "disabled")
    reads = {"requests": [{"id": "1", "url": "/me/messages"}, {"id": "2", "url": "/me/mailFolders"}]}
    assert setting(policy, "batch_request", reads) == "allow"
    nested = {"method": "POST", "path": "/$batch", "body": batch}
    assert setting(policy, "raw_request", nested) == "disabled"
    opened = policy.changed(["raw_request=allow"], MANIFEST)
    assert setting(opened, "raw_request", {"method": "DELETE", "path": "/me/messages/1"}) == "approve"
    closed = policy.changed(["raw_request=disabled"], MANIFEST)
    assert setting(closed, "raw_request", {"path": "/me/messages"}) == "disabled"


def test_allowed_permissions_hides_actions_the_granted_scopes_do_not_cover() -> None:
    granted = granted_scopes(
        "openid profile offline_access https://graph.microsoft.com/Mail.ReadWrite User.Read"
    )
    assert granted == frozenset({"mail.readwrite", "user.read"})
    assert granted_scopes("https://graph.microsoft.com/.default") is None
    policy = DEFAULT_POLICY.changed(["allowed_permissions=true", "draft=allow"], MANIFEST)
    assert judge(policy, MANIFEST.action("list_messages"), {}, granted).setting == "allow"  # Mail.Read
    assert judge(policy, MANIFEST.action("create_draft"), {}, granted).setting == "allow"
    refused = judge(policy, MANIFEST.action("send_message"), {}, granted)
    assert refused.setting == "disabled" and "Mail.Send" in refused.reason
    assert judge(policy, MANIFEST.action("list_events"), {}, granted).setting == "disabled"
    catalog = Catalog(MANIFEST, parse_toolsets("all"))
    names = {t.name for t in catalog.tools(policy, granted)}
    assert "list_messages" in names and "send_message" not in names and "list_events" not in names
    assert "send_message" in {t.name for t in catalog.tools(DEFAULT_POLICY, granted)}


def test_compact_schemas_accept_and_refuse_exactly_what_the_committed_ones_do() -> None:
    import jsonschema_rs

    from connector.mcp.tools import compact_schema

    probes: list[object] = [None, "x", 0, 3, -1, 1.5, True, [], ["a"], {}, {"a": 1}]
    for entry in MANIFEST.actions.values():
        for name, output in (("input_schema", False), ("output_schema", True)):
            schema = entry.schema(name)
            original = jsonschema_rs.validator_for(schema)
            compact = jsonschema_rs.validator_for(compact_schema(schema, output=output))
            for prop in schema.get("properties", {}):
                for value in probes:
                    instance = {prop: value}
                    assert original.is_valid(instance) == compact.is_valid(instance), (entry.key, prop, value)
