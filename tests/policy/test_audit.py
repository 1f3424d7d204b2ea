"""Every run and refusal is audited: who, where, what was decided, how it ended, Graph's request-id;
never a body, a subject, an address or a token."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from connector.audit import Caller
from connector.errors import ConnectorError, GraphError, InputValidationError
from connector.policy import ApprovalRequired
from connector.runtime import Runtime
from connector.store import Store
from tests.policy.conftest import SECRET_TOKEN, Clock
from tests.runtime.conftest import FakeGraph
from tests.support.connections import StaticConnection

SUBJECT = "Quarterly numbers: confidential merger with Fabrikam"
BODY = "Do not forward: the board approved the Fabrikam offer at 41.50 per share."
RECIPIENTS = ["ana.secret@contoso.com", "ben.secret@contoso.com"]


def test_an_allowed_run_is_recorded_with_graphs_request_id(
    runtime: Runtime, connection: StaticConnection, store: Store, clock: Clock
) -> None:
    runtime.run_action("list_messages", {"folder_id": "inbox"}, connection)
    [record] = store.list_audit()
    assert record.to_dict() == {
        "at": clock.now,
        "caller": "embedded",
        "principal": "host-7",
        "connection": "work",
        "mailbox": "me",
        "action": "list_messages",
        "category": "read",
        "decision": "allowed",
        "outcome": "ok",
        "approved_by": "",
        "approval_id": "",
        "error": "",
        "request_id": "req-get-1",
        "recipients": 0,
    }


def test_errors_and_invalid_input_are_recorded_by_type_never_by_message(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, store: Store
) -> None:
    graph.handler = lambda request: httpx.Response(
        404,
        json={"error": {"code": "ErrorItemNotFound", "message": f"not found: {SUBJECT}",
                        "innerError": {"request-id": "req-404"}}},
    )  # fmt: skip
    with pytest.raises(GraphError):
        runtime.run_action("get_message", {"message_id": "AAMk1"}, connection, user_id="shared@contoso.com")
    with pytest.raises(InputValidationError):
        runtime.run_action("list_messages", {"top": 0}, connection)
    failed, invalid = store.list_audit()
    assert (failed.decision, failed.outcome, failed.error, failed.request_id) == (
        "allowed",
        "error",
        "GraphError 404 ErrorItemNotFound",
        "req-404",
    )
    assert failed.mailbox == "shared@contoso.com"
    assert (invalid.decision, invalid.outcome, invalid.error) == (
        "invalid",
        "refused",
        "InputValidationError top",
    )


def test_an_approved_run_names_who_approved_and_counts_recipients(
    runtime: Runtime, connection: StaticConnection, store: Store
) -> None:
    message = {"to": RECIPIENTS, "bcc": ["cy@contoso.com"], "subject": SUBJECT, "body": BODY}
    with pytest.raises(ApprovalRequired) as caught:
        runtime.run_action("send_message", message, connection)
    approval_id = caught.value.approval.id
    runtime.gate.decide(approval_id, True, "dana (CLI)")
    runtime.run_action(
        "send_message", message, connection, approval=approval_id, caller=Caller("cli", "dana")
    )
    asked, sent = store.list_audit()
    assert (asked.decision, asked.outcome, asked.approval_id, asked.recipients) == (
        "approval_required",
        "refused",
        approval_id,
        3,
    )
    assert (
        sent.caller,
        sent.principal,
        sent.decision,
        sent.approved_by,
        sent.recipients,
        sent.request_id,
    ) == (
        "cli",
        "dana",
        "approved",
        "dana (CLI)",
        3,
        "req-write-1",
    )


def test_no_secret_body_subject_or_address_reaches_the_database_file(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection, store: Store, tmp_path: Path
) -> None:
    message = {"to": RECIPIENTS, "subject": SUBJECT, "body": BODY}
    with pytest.raises(ApprovalRequired) as caught:
        runtime.run_action("send_message", message, connection)
    runtime.gate.decide(caught.value.approval.id, True, "dana (CLI)")
    runtime.run_action("send_message", message, connection, approval=caught.value.approval.id)
    raw = {"method": "POST", "path": "/me/sendMail", "body": {"message": {"subject": SUBJECT}}}
    with pytest.raises(ApprovalRequired):
        runtime.run_action("raw_request", raw, connection)
    graph.handler = lambda request: httpx.Response(
        400, json={"error": {"code": "ErrorInvalidRecipients", "message": f"{RECIPIENTS[0]}: {BODY}"}}
    )
    with pytest.raises(ApprovalRequired) as caught:
        runtime.run_action("send_message", {**message, "subject": SUBJECT + "!"}, connection)
    runtime.gate.decide(caught.value.approval.id, True, "dana (CLI)")
    with pytest.raises(ConnectorError):
        runtime.run_action(
            "send_message",
            {**message, "subject": SUBJECT + "!"},
            connection,
            approval=caught.value.approval.id,
        )
    assert len(store.list_audit()) == 5
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("state.db*") if p.is_file())
    for secret in (SUBJECT, BODY, *RECIPIENTS, SECRET_TOKEN, "Fabrikam", "secret@contoso"):
        assert secret.encode() not in stored, secret
    with store.read() as db:
        rows = db.execute("SELECT * FROM audit_log").fetchall()
    text = json.dumps(rows)
    assert "Fabrikam" not in text and "contoso" not in text and "req-write-1" in text


def test_the_log_is_filtered_and_pruned_after_ninety_days(
    runtime: Runtime, connection: StaticConnection, store: Store, clock: Clock
) -> None:
    runtime.run_action("list_messages", {}, connection)
    clock.now += 10 * 86400
    runtime.run_action("list_mail_folders", {}, connection)
    runtime.run_action("list_messages", {}, StaticConnection(name="other"))
    assert [r.action for r in store.list_audit(since=clock.now - 86400)] == [
        "list_mail_folders",
        "list_messages",
    ]
    assert [r.connection for r in store.list_audit(action="list_messages")] == ["work", "other"]
    assert [r.action for r in store.list_audit(connection="work", limit=1)] == ["list_mail_folders"]
    clock.now += 85 * 86400  # the first record is 95 days old, the others 85
    assert store.prune_audit() == 1
    assert len(store.list_audit()) == 2
