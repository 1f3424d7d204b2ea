"""The first actions end to end on the sandbox, with both connection types: state really changes."""

from __future__ import annotations

import base64
import threading
import uuid
from typing import Any

import pytest

from connections.base import Connection
from connector.errors import GraphError
from connector.runtime import Runtime
from sandbox import seed
from sandbox.server import SandboxServer

SEED_FAULT_THEN_OK = 1  # with this seed the first sendMail is refused, a later one goes through
OTHER_USER = next(u["userPrincipalName"] for u in seed.USERS if u["userPrincipalName"] != seed.DEFAULT_USER)


def _find(
    runtime: Runtime, admin: Connection, mailbox: str, folder: str, subject: str
) -> list[dict[str, Any]]:
    out = runtime.run_action(
        "list_messages", {"folder_id": folder, "search": subject, "top": 50}, admin, user_id=mailbox
    )
    return [m for m in out["messages"] if m["subject"] == subject]


def test_get_current_user(runtime: Runtime, connection: Connection) -> None:
    user = runtime.run_action("get_current_user", {}, connection)
    assert user["userPrincipalName"].lower() == seed.DEFAULT_USER.lower()
    other = runtime.run_action("get_current_user", {"user_id": OTHER_USER}, connection)
    assert other["userPrincipalName"].lower() == OTHER_USER.lower()


def test_list_mail_folders(runtime: Runtime, connection: Connection) -> None:
    out = runtime.run_action("list_mail_folders", {"top": 50}, connection)
    names = {f["displayName"] for f in out["folders"]}
    assert {"Inbox", "Sent Items", "Deleted Items", "Drafts"} <= names
    assert out["count"] == len(out["folders"])


def test_list_messages_fetch_all_returns_each_message_once(runtime: Runtime, connection: Connection) -> None:
    out = runtime.run_action(
        "list_messages",
        {"folder_id": "inbox", "top": 50, "fetch_all": True, "limit": 120, "select": ["id"]},
        connection,
    )
    ids = [m["id"] for m in out["messages"]]
    assert len(ids) == 120 == len(set(ids))
    # the cursor resumes exactly after the 120th message
    more = runtime.run_action("list_messages", {"page_link": out["next_link"]}, connection)
    assert more["messages"] and not {m["id"] for m in more["messages"]} & set(ids)


def test_list_messages_filter_and_body_format(runtime: Runtime, connection: Connection) -> None:
    out = runtime.run_action(
        "list_messages", {"filter": "isRead eq false", "top": 25, "body_content_type": "text"}, connection
    )
    assert out["count"] > 0
    assert all(m["isRead"] is False for m in out["messages"])
    assert all(m["body"]["contentType"] == "text" for m in out["messages"])


def test_get_message(runtime: Runtime, connection: Connection) -> None:
    first = runtime.run_action("list_messages", {"folder_id": "inbox", "top": 1}, connection)["messages"][0]
    got = runtime.run_action(
        "get_message", {"message_id": first["id"], "select": ["subject", "body"]}, connection
    )
    assert got["id"] == first["id"] and got["subject"] == first["subject"]
    with pytest.raises(GraphError) as missing:
        runtime.run_action("get_message", {"message_id": first["id"][:-6] + "AAAAA="}, connection)
    assert missing.value.status in (400, 404) and missing.value.hint


def test_send_message_delivers_once_with_a_copy_in_sent_items(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    subject = f"Quarterly numbers {uuid.uuid4().hex[:8]}"
    attachment = base64.b64encode(b"quarter,revenue\nQ1,1200\n").decode()
    out = runtime.run_action(
        "send_message",
        {
            "to": [OTHER_USER],
            "cc": [{"address": seed.SHARED_MAILBOX, "name": "Support"}],
            "subject": subject,
            "body": "<p>Attached.</p>",
            "importance": "high",
            "attachments": [{"name": "q.csv", "content_base64": attachment, "content_type": "text/csv"}],
        },
        connection,
    )
    assert out["sent"] is True
    delivered = _find(runtime, admin, OTHER_USER, "inbox", subject)
    assert len(delivered) == 1
    assert delivered[0]["importance"] == "high" and delivered[0]["hasAttachments"] is True
    assert len(_find(runtime, admin, seed.SHARED_MAILBOX, "inbox", subject)) == 1
    assert len(_find(runtime, admin, seed.DEFAULT_USER, "sentitems", subject)) == 1


def test_send_message_without_saving_to_sent_items(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    subject = f"No copy {uuid.uuid4().hex[:8]}"
    runtime.run_action(
        "send_message", {"to": [OTHER_USER], "subject": subject, "save_to_sent_items": False}, connection
    )
    assert len(_find(runtime, admin, OTHER_USER, "inbox", subject)) == 1
    assert _find(runtime, admin, seed.DEFAULT_USER, "sentitems", subject) == []


def test_delete_message_moves_it_to_deleted_items(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    first = runtime.run_action(
        "list_messages",
        {"folder_id": "inbox", "top": 1, "select": ["subject", "internetMessageId"]},
        connection,
    )["messages"][0]
    out = runtime.run_action("delete_message", {"message_id": first["id"]}, connection)
    assert out == {"deleted": True, "id": first["id"]}
    with pytest.raises(GraphError):
        runtime.run_action("get_message", {"message_id": first["id"]}, connection)
    deleted = runtime.run_action(
        "list_messages",
        {"folder_id": "deleteditems", "top": 1000, "select": ["internetMessageId"]},
        admin,
        user_id=seed.DEFAULT_USER,
    )["messages"]
    assert first["internetMessageId"] in {m["internetMessageId"] for m in deleted}


def test_shared_mailbox_through_user_id(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    out = runtime.run_action("list_messages", {"top": 3, "user_id": seed.SHARED_MAILBOX}, connection)
    assert out["count"] == 3
    paths = [r.path for r in server.state.request_log if r.path.endswith("/messages")]
    assert paths[-1] == f"/v1.0/users/{seed.SHARED_MAILBOX}/messages"


@pytest.mark.parametrize("fault", ["504_after", "drop_after"])
def test_a_send_that_may_have_been_applied_is_never_repeated(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer, fault: str
) -> None:
    server.state.set_faults({fault: 1.0}, paths=["*/sendMail"])
    subject = f"Exactly once {uuid.uuid4().hex[:8]}"
    with pytest.raises(GraphError) as caught:
        runtime.run_action("send_message", {"to": [OTHER_USER], "subject": subject}, connection)
    assert caught.value.code == "RequestOutcomeUnknown"
    server.state.set_faults({})
    assert len(_find(runtime, admin, OTHER_USER, "inbox", subject)) == 1


@pytest.mark.parametrize("fault", ["429", "503"])
def test_a_send_refused_before_processing_is_retried_and_delivered_once(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer, fault: str
) -> None:
    server.state.set_faults({fault: 0.5}, paths=["*/sendMail"], seed=SEED_FAULT_THEN_OK)
    subject = f"Retried {uuid.uuid4().hex[:8]}"
    runtime.run_action("send_message", {"to": [OTHER_USER], "subject": subject}, connection)
    server.state.set_faults({})
    sends = [r for r in server.state.request_log if r.path.endswith("/sendMail")]
    assert sends[0].status == int(fault) and sends[-1].status == 202
    assert len(_find(runtime, admin, OTHER_USER, "inbox", subject)) == 1


def test_many_threads_stay_within_the_mailbox_concurrency_limit(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    server.state.set_faults({"slow": 1.0}, slow_seconds=0.02, paths=["*/messages"])
    errors: list[BaseException] = []

    def work() -> None:
        try:
            runtime.run_action("list_messages", {"top": 1, "select": ["id"]}, connection)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    throttled = [r for r in server.state.request_log if r.status == 429]
    assert throttled == []  # the client never had more than 4 requests in flight for the mailbox


def test_filter_with_a_different_order_explains_exchanges_rule(
    runtime: Runtime, connection: Connection
) -> None:
    with pytest.raises(GraphError) as caught:
        runtime.run_action(
            "list_messages", {"filter": "isRead eq false", "order_by": "receivedDateTime desc"}, connection
        )
    assert caught.value.code == "InefficientFilter"
    assert "receivedDateTime ge" in caught.value.hint
    fixed = runtime.run_action(
        "list_messages",
        {
            "filter": "receivedDateTime ge 1900-01-01T00:00:00Z and isRead eq false",
            "order_by": "receivedDateTime desc",
        },
        connection,
    )
    assert fixed["count"] > 0 and all(m["isRead"] is False for m in fixed["messages"])
