"""The runtime enforces the stored policy for every call, before any request; approvals are for one
exact call, once, for a while."""

from __future__ import annotations

from typing import Any

import pytest

from connector.errors import ConfigurationError
from connector.policy import PRESETS, ApprovalRequired, PolicyError
from connector.runtime import Runtime
from connector.store import Store
from tests.policy.conftest import Clock
from tests.runtime.conftest import FakeGraph
from tests.support.connections import StaticConnection

MESSAGE = {
    "to": ["ana@contoso.com", "ben@contoso.com"],
    "cc": ["cy@contoso.com"],
    "subject": "Hi",
    "body": "x",
}


def refusal(
    runtime: Runtime, key: str, raw_input: Any, connection: StaticConnection, **kw: Any
) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        runtime.run_action(key, raw_input, connection, **kw)
    return caught.value


def test_a_disabled_action_is_refused_before_any_request(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, store: Store
) -> None:
    refused = refusal(runtime, "delete_message", {"message_id": "AAMk1"}, connection)
    assert refused.decision == "disabled" and "policy show" in refused.message
    assert graph.requests == []
    [record] = store.list_audit()
    assert (record.caller, record.principal, record.decision, record.outcome) == (
        "embedded",
        "host-7",
        "disabled",
        "refused",
    )


def test_raw_request_is_judged_by_what_it_does(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, store: Store
) -> None:
    runtime.run_action("raw_request", {"path": "/me/messages"}, connection)  # a GET reads: allowed
    with pytest.raises(ApprovalRequired):
        runtime.run_action("raw_request", {"method": "POST", "path": "/me/sendMail", "body": {}}, connection)
    assert refusal(
        runtime, "raw_request", {"method": "DELETE", "path": "/me/messages/1"}, connection
    ).category == ("delete")
    assert [r.method for r in graph.requests] == ["GET"]
    assert [(r.category, r.decision) for r in store.list_audit(action="raw_request")] == [
        ("read", "allowed"),
        ("send", "approval_required"),
        ("delete", "disabled"),
    ]


def test_batch_request_takes_its_strictest_request(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    mixed = {
        "requests": [
            {"id": "1", "url": "/me/messages"},
            {"id": "2", "method": "DELETE", "url": "/me/events/E"},
        ]
    }
    assert refusal(runtime, "batch_request", mixed, connection).decision == "disabled"
    assert graph.requests == []
    reads = {"requests": [{"id": "1", "url": "/me/messages"}, {"id": "2", "url": "/me/mailFolders"}]}
    out = runtime.run_action("batch_request", reads, connection)
    assert len(out["responses"]) == 2 and len(graph.requests) == 1


def test_bulk_actions_are_judged_by_their_category(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    assert refusal(
        runtime, "update_messages", {"message_ids": ["a"], "is_read": True}, connection
    ).category == ("categorize")
    rows = {
        "rows": [{"email": "a@contoso.com"}],
        "to_column": "email",
        "subject_template": "s",
        "body_template": "b",
    }
    with pytest.raises(ApprovalRequired) as caught:
        runtime.run_action("send_templated_messages", rows, connection)
    assert "1 templated messages" in caught.value.approval.summary
    assert graph.requests == []


def test_an_approval_is_for_one_exact_call_once_and_expires(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, store: Store, clock: Clock
) -> None:
    with pytest.raises(ApprovalRequired) as caught:
        runtime.run_action("send_message", MESSAGE, connection)
    approval = caught.value.approval
    assert "ana@contoso.com" in approval.summary and "'Hi'" in approval.summary
    assert (
        "approved it yet"
        in refusal(runtime, "send_message", MESSAGE, connection, approval=approval.id).message
    )
    assert "no such" in refusal(runtime, "send_message", MESSAGE, connection, approval="apr_invented").message
    runtime.gate.decide(approval.id, True, "dana (CLI)")
    with pytest.raises(Exception, match="only a pending approval"):
        runtime.gate.decide(approval.id, False, "dana (CLI)")
    altered = {**MESSAGE, "to": ["mallory@evil.example"]}
    assert (
        "different call"
        in refusal(runtime, "send_message", altered, connection, approval=approval.id).message
    )
    other = StaticConnection(name="other")
    assert "different call" in refusal(runtime, "send_message", MESSAGE, other, approval=approval.id).message
    runtime.run_action("send_message", MESSAGE, connection, approval=approval.id)
    assert (
        "used already" in refusal(runtime, "send_message", MESSAGE, connection, approval=approval.id).message
    )
    assert [r.url.path for r in graph.requests] == ["/v1.0/me/sendMail"]

    with pytest.raises(ApprovalRequired) as caught:
        runtime.run_action("send_message", MESSAGE, connection)
    late = caught.value.approval
    runtime.gate.decide(late.id, True, "dana (CLI)")
    clock.now += 15 * 60 + 1
    assert "expired" in refusal(runtime, "send_message", MESSAGE, connection, approval=late.id).message

    with pytest.raises(ApprovalRequired) as caught:
        runtime.run_action("send_message", MESSAGE, connection)
    runtime.gate.decide(caught.value.approval.id, False, "dana (CLI)")
    denied = refusal(runtime, "send_message", MESSAGE, connection, approval=caught.value.approval.id)
    assert "denied by dana (CLI)" in denied.message
    assert len(graph.requests) == 1


def test_an_approval_must_name_who_decided(runtime: Runtime, connection: StaticConnection) -> None:
    with pytest.raises(ApprovalRequired) as caught:
        runtime.run_action("send_message", MESSAGE, connection)
    with pytest.raises(ConfigurationError):
        runtime.gate.decide(caught.value.approval.id, True, "")


def test_stored_policies_per_connection_with_a_default(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, store: Store
) -> None:
    store.set_policy(None, PRESETS["read_only"].to_dict())
    assert refusal(runtime, "send_message", MESSAGE, connection).decision == "disabled"
    store.set_policy("work", PRESETS["open"].to_dict())
    runtime.run_action("send_message", MESSAGE, connection)
    other = StaticConnection(name="other")
    assert refusal(runtime, "send_message", MESSAGE, other).decision == "disabled"
    assert store.delete_policy("work")
    assert refusal(runtime, "send_message", MESSAGE, connection).decision == "disabled"
    assert len(graph.requests) == 1


def test_a_runtime_without_a_store_runs_under_the_open_preset_and_audits_nothing(
    graph: FakeGraph, connection: StaticConnection
) -> None:
    import httpx

    with Runtime(strict_output=True, transport=httpx.MockTransport(graph)) as bare:
        bare.run_action("delete_message", {"message_id": "AAMk1"}, connection)
        assert bare.audit_log is None
    assert [r.method for r in graph.requests] == ["DELETE"]


def test_allowed_permissions_reads_the_scopes_of_the_stored_token_response(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, store: Store, clock: Clock
) -> None:
    from connector.store import ConnectionRecord

    tokens = {"access_token": "a", "refresh_token": "r", "expires_at": clock.now + 3600,
              "scope": "openid offline_access https://graph.microsoft.com/Mail.ReadWrite"}  # fmt: skip
    store.save_connection(ConnectionRecord("work", "oauth2_code", {}, {}), tokens=tokens)
    store.set_policy(None, PRESETS["open"].changed(["allowed_permissions=true"]).to_dict())
    runtime.run_action("list_messages", {}, connection)  # Mail.Read: covered by Mail.ReadWrite
    refused = refusal(runtime, "send_message", MESSAGE, connection)
    assert refused.decision == "disabled" and "Mail.Send" in refused.message
    assert refusal(runtime, "list_events", {}, connection).decision == "disabled"
    assert len(graph.requests) == 1
