"""Reply, forward, drafts, update, move/copy, permanent delete, MIME and delta end to end on the sandbox,
with both connection types: the mailboxes really change."""

from __future__ import annotations

import base64
import os
import uuid
from typing import Any

import pytest

from connections.base import Connection
from connector.errors import GraphError, InputValidationError
from connector.runtime import Runtime
from sandbox import seed
from sandbox.mailbox import Mailbox
from sandbox.server import SandboxServer

ME = seed.DEFAULT_USER
OTHERS = [u["mail"] for u in seed.USERS if u["userPrincipalName"] != ME]
OTHER, THIRD = OTHERS[0], OTHERS[1]


def box(server: SandboxServer, address: str) -> Mailbox:
    found = server.state.mailbox_by_address(address)
    assert found is not None
    return found


def in_folder(server: SandboxServer, address: str, folder: str, subject: str) -> list[dict[str, Any]]:
    mailbox = box(server, address)
    folder_id = mailbox.well_known.get(folder, folder)
    return [m for m in mailbox.messages_in(folder_id) if m["subject"] == subject]


def receive(runtime: Runtime, admin: Connection, server: SandboxServer, **extra: Any) -> dict[str, Any]:
    """OTHER sends ME a message (with a file); returns it as it sits in ME's inbox."""
    subject = f"Compose test {uuid.uuid4().hex[:8]}"
    runtime.run_action(
        "send_message",
        {
            "to": [ME],
            "subject": subject,
            "body": "<p>Original text.</p>",
            "attachments": [{"name": "orig.txt", "content_base64": base64.b64encode(b"original").decode()}],
            **extra,
        },
        admin,
        user_id=OTHER,
    )
    (message,) = in_folder(server, ME, "inbox", subject)
    return message


def test_reply_reaches_the_sender_with_the_comment(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server)
    out = runtime.run_action(
        "reply_to_message", {"message_id": original["id"], "comment": "Got it, thanks."}, connection
    )
    assert out == {"sent": True, "message_id": original["id"], "to": [], "scheduled_for": None}
    subject = "RE: " + original["subject"]
    (delivered,) = in_folder(server, OTHER, "inbox", subject)
    assert (
        "Got it, thanks." in delivered["body"]["content"] and "Original text." in delivered["body"]["content"]
    )
    assert delivered["conversationId"] == original["conversationId"]
    assert len(in_folder(server, ME, "sentitems", subject)) == 1
    assert in_folder(server, THIRD, "inbox", subject) == []


def test_reply_all_reaches_every_recipient_but_me(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server, cc=[THIRD])
    runtime.run_action(
        "reply_all_to_message", {"message_id": original["id"], "comment": "All noted."}, connection
    )
    subject = "RE: " + original["subject"]
    assert len(in_folder(server, OTHER, "inbox", subject)) == 1
    (to_third,) = in_folder(server, THIRD, "inbox", subject)
    assert [r["emailAddress"]["address"] for r in to_third["ccRecipients"]] == [THIRD]
    assert ME.lower() not in {r["emailAddress"]["address"].lower() for r in to_third["toRecipients"]}


def test_forward_carries_the_attachments_and_adds_new_ones(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server)
    extra = {
        "name": "extra.csv",
        "content_base64": base64.b64encode(b"a,b\n1,2\n").decode(),
        "content_type": "text/csv",
    }
    out = runtime.run_action(
        "forward_message",
        {"message_id": original["id"], "to": [THIRD], "comment": "FYI", "attachments": [extra]},
        connection,
    )
    assert out["to"] == [THIRD]
    (forwarded,) = in_folder(server, THIRD, "inbox", "FW: " + original["subject"])
    names = sorted(a["name"] for a in box(server, THIRD).attachments_of(forwarded["id"]))
    assert names == ["extra.csv", "orig.txt"]
    assert forwarded["hasAttachments"] is True


def test_forward_needs_a_recipient(runtime: Runtime, connection: Connection) -> None:
    with pytest.raises(InputValidationError):
        runtime.run_action("forward_message", {"message_id": "AAMkAGx=", "to": []}, connection)


def test_draft_created_updated_and_sent(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    subject = f"Draft {uuid.uuid4().hex[:8]}"
    draft = runtime.run_action("create_draft", {"subject": subject, "body": "<p>v1</p>"}, connection)
    assert draft["isDraft"] is True and draft["subject"] == subject
    assert len(in_folder(server, ME, "drafts", subject)) == 1
    final = subject + " (final)"
    updated = runtime.run_action(
        "update_message",
        {
            "message_id": draft["id"],
            "subject": final,
            "body": "v2",
            "body_type": "text",
            "to": [OTHER],
            "importance": "high",
        },
        connection,
    )
    assert updated["subject"] == final and updated["importance"] == "high"
    assert [r["emailAddress"]["address"] for r in updated["toRecipients"]] == [OTHER]
    out = runtime.run_action("send_draft", {"message_id": draft["id"]}, connection)
    assert out == {"sent": True, "id": draft["id"], "scheduled_for": None}
    assert draft["id"] not in box(server, ME).messages
    (delivered,) = in_folder(server, OTHER, "inbox", final)
    assert delivered["body"]["content"] == "v2" and delivered["importance"] == "high"
    assert len(in_folder(server, ME, "sentitems", final)) == 1


def test_response_drafts_land_in_drafts(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server, cc=[THIRD])
    reply = runtime.run_action(
        "create_reply_draft", {"message_id": original["id"], "comment": "Draft"}, connection
    )
    reply_all = runtime.run_action("create_reply_all_draft", {"message_id": original["id"]}, connection)
    forward = runtime.run_action(
        "create_forward_draft", {"message_id": original["id"], "to": [THIRD]}, connection
    )
    drafts = box(server, ME).well_known["drafts"]
    for draft, prefix in ((reply, "RE: "), (reply_all, "RE: "), (forward, "FW: ")):
        assert draft["isDraft"] is True and draft["parentFolderId"] == drafts
        assert draft["subject"] == prefix + original["subject"]
    assert {r["emailAddress"]["address"] for r in reply_all["ccRecipients"]} == {THIRD}
    assert box(server, ME).attachments_of(forward["id"])  # the forward draft carries the file
    runtime.run_action("send_draft", {"message_id": forward["id"]}, connection)
    assert len(in_folder(server, THIRD, "inbox", "FW: " + original["subject"])) == 1


def test_update_flags_a_received_message_and_refuses_draft_only_changes(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server)
    out = runtime.run_action(
        "update_message",
        {"message_id": original["id"], "is_read": True, "flag": "flagged", "categories": ["Red category"]},
        connection,
    )
    assert out["isRead"] is True and out["flag"]["flagStatus"] == "flagged"
    stored = box(server, ME).messages[original["id"]]
    assert stored["categories"] == ["Red category"] and stored["isRead"] is True
    before = len(server.state.request_log)
    with pytest.raises(InputValidationError) as refused:
        runtime.run_action("update_message", {"message_id": original["id"], "subject": "New"}, connection)
    assert "subject" in str(refused.value) and "draft" in str(refused.value)
    assert [r.method for r in server.state.request_log[before:]] == ["GET"]  # nothing was changed
    assert box(server, ME).messages[original["id"]]["subject"] == original["subject"]


def test_update_needs_a_change(runtime: Runtime, connection: Connection) -> None:
    with pytest.raises(InputValidationError):
        runtime.run_action("update_message", {"message_id": "AAMkAGx="}, connection)


def test_move_and_copy(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server)
    copy = runtime.run_action(
        "copy_message", {"message_id": original["id"], "destination_id": "archive"}, connection
    )
    assert copy["id"] != original["id"]
    assert len(in_folder(server, ME, "archive", original["subject"])) == 1
    assert len(in_folder(server, ME, "inbox", original["subject"])) == 1
    moved = runtime.run_action(
        "move_message", {"message_id": original["id"], "destination_id": "junkemail"}, connection
    )
    assert moved["parentFolderId"] == box(server, ME).well_known["junkemail"]
    assert in_folder(server, ME, "inbox", original["subject"]) == []
    assert len(in_folder(server, ME, "junkemail", original["subject"])) == 1


def test_permanent_delete_skips_deleted_items(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server)
    out = runtime.run_action("permanent_delete_message", {"message_id": original["id"]}, connection)
    assert out == {"deleted": True, "id": original["id"]}
    assert original["id"] not in box(server, ME).messages
    assert in_folder(server, ME, "deleteditems", original["subject"]) == []
    with pytest.raises(GraphError) as missing:
        runtime.run_action("permanent_delete_message", {"message_id": original["id"]}, connection)
    assert missing.value.status == 404


def test_get_message_mime_parses_bodies_and_attachments(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server, cc=[THIRD])
    out = runtime.run_action(
        "get_message_mime", {"message_id": original["id"], "include_attachment_content": True}, connection
    )
    assert out["subject"] == original["subject"]
    assert out["from"] == OTHER and out["to"] == [ME] and out["cc"] == [THIRD]
    assert "Original text." in (out["text"] or "") and "<p>Original text.</p>" in (out["html"] or "")
    assert out["attachments"] == [
        {
            "name": "orig.txt",
            "content_type": "application/octet-stream",
            "size": 8,
            "content_id": None,
            "content_base64": base64.b64encode(b"original").decode(),
        }
    ]
    assert out["mime"].startswith("From:") or "Subject:" in out["mime"]
    assert {"name": "Subject", "value": original["subject"]} in out["headers"]


def test_delta_returns_changes_since_the_cursor(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    first = runtime.run_action("list_message_delta", {"folder_id": "drafts", "page_size": 2}, connection)
    drafts = box(server, ME).messages_in(box(server, ME).well_known["drafts"])
    assert first["count"] == len(drafts) and first["removed_ids"] == []
    assert first["delta_link"] and first["next_link"] is None
    # nothing changed: nothing to report
    same = runtime.run_action("list_message_delta", {"cursor": first["delta_link"]}, connection)
    assert same["changes"] == [] and same["delta_link"]
    created = runtime.run_action("create_draft", {"subject": "New draft"}, connection)
    runtime.run_action("update_message", {"message_id": drafts[0]["id"], "subject": "Edited"}, connection)
    runtime.run_action("permanent_delete_message", {"message_id": drafts[1]["id"]}, connection)
    changes = runtime.run_action("list_message_delta", {"cursor": first["delta_link"]}, connection)
    ids = {c["id"] for c in changes["changes"] if "@removed" not in c}
    assert ids == {created["id"], drafts[0]["id"]}
    assert changes["removed_ids"] == [drafts[1]["id"]]
    removed = next(c for c in changes["changes"] if "@removed" in c)
    assert removed["@removed"] == {"reason": "deleted"}


def test_delta_one_page_at_a_time_and_stale_cursor(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    page = runtime.run_action(
        "list_message_delta",
        {"folder_id": "inbox", "page_size": 5, "fetch_all": False, "select": ["subject"]},
        connection,
    )
    assert page["count"] == 5 and page["next_link"] and page["delta_link"] is None
    assert set(page["changes"][0]) <= {"@odata.etag", "id", "subject"}
    following = runtime.run_action(
        "list_message_delta", {"cursor": page["next_link"], "fetch_all": False}, connection
    )
    assert not {c["id"] for c in following["changes"]} & {c["id"] for c in page["changes"]}
    stale = page["next_link"].split("$skiptoken=")[0] + "$deltatoken=unknown"
    with pytest.raises(GraphError) as gone:
        runtime.run_action("list_message_delta", {"cursor": stale}, connection)
    assert gone.value.status == 410


@pytest.mark.parametrize("fault", ["504_after", "drop_after"])
def test_a_reply_that_may_have_been_applied_is_never_repeated(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer, fault: str
) -> None:
    original = receive(runtime, admin, server)
    server.state.set_faults({fault: 1.0}, paths=["*/reply"])
    with pytest.raises(GraphError) as caught:
        runtime.run_action("reply_to_message", {"message_id": original["id"], "comment": "Once"}, connection)
    assert caught.value.code == "RequestOutcomeUnknown"
    server.state.set_faults({})
    assert len(in_folder(server, OTHER, "inbox", "RE: " + original["subject"])) == 1


# -- large attachments on reply, reply all and forward ---------------------------------------------------
MB = 1024 * 1024


@pytest.fixture(scope="module")
def big_file() -> bytes:
    """20 MB of random bytes (not a multiple of the upload chunk, so the last range is short)."""
    return os.urandom(20 * MB + 4321)


def _graph_calls(server: SandboxServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.state.request_log if r.path.startswith(("/v1.0/", "/upload/"))]


@pytest.mark.parametrize(
    ("action", "create", "prefix"),
    [
        ("reply_to_message", "createReply", "RE: "),
        ("reply_all_to_message", "createReplyAll", "RE: "),
        ("forward_message", "createForward", "FW: "),
    ],
)
def test_a_large_attachment_on_a_response_goes_through_a_draft_byte_for_byte(
    runtime: Runtime,
    connection: Connection,
    admin: Connection,
    server: SandboxServer,
    big_file: bytes,
    action: str,
    create: str,
    prefix: str,
) -> None:
    original = receive(runtime, admin, server, cc=[THIRD])
    small = {"name": "small.txt", "content_base64": base64.b64encode(b"small").decode()}
    big = {"name": "big.bin", "content_base64": base64.b64encode(big_file).decode()}
    params: dict[str, Any] = {
        "message_id": original["id"],
        "user_id": ME,
        "comment": "Both files attached.",
        "attachments": [small, big],
    }
    if action == "forward_message":
        params["to"] = [THIRD]
    server.state.request_log.clear()
    out = runtime.run_action(action, params, connection)
    assert out["sent"] is True and out["message_id"] == original["id"]

    calls = _graph_calls(server)
    assert calls[0][0] == "POST" and calls[0][1].endswith(f"/{create}")
    assert [c for c in calls if c[1].endswith(("/reply", "/replyAll", "/forward"))] == []
    sends = [c for c in calls if c[0] == "POST" and c[1].endswith("/send")]
    assert len(sends) == 1 and calls[-1] == sends[0]  # uploaded first, then sent once
    assert sum(1 for c in calls if c[1].startswith("/upload/")) == -(-len(big_file) // (10 * 320 * 1024))

    subject = prefix + original["subject"]
    recipients = [OTHER] if action == "reply_to_message" else [THIRD] if prefix == "FW: " else [OTHER, THIRD]
    for address in recipients:
        (delivered,) = in_folder(server, address, "inbox", subject)  # exactly once
        assert "Both files attached." in delivered["body"]["content"]
        files = runtime.run_action(
            "list_attachments", {"message_id": delivered["id"]}, admin, user_id=address
        )["attachments"]
        expected = ["big.bin", "orig.txt", "small.txt"] if prefix == "FW: " else ["big.bin", "small.txt"]
        assert sorted(a["name"] for a in files) == expected
        got = runtime.run_action(
            "get_attachment",
            {
                "message_id": delivered["id"],
                "attachment_id": next(a["id"] for a in files if a["name"] == "big.bin"),
            },
            admin,
            user_id=address,
        )
        assert base64.b64decode(got["content_base64"]) == big_file
    assert in_folder(server, ME, "drafts", subject) == []  # the draft became the sent message
    assert len(in_folder(server, ME, "sentitems", subject)) == 1


def test_a_failed_upload_deletes_the_response_draft_and_sends_nothing(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server)
    big = {"name": "big.bin", "content_base64": base64.b64encode(b"\1" * (3 * MB)).decode()}
    server.state.set_faults({"429": 1.0}, paths=["*/createUploadSession"])
    with pytest.raises(GraphError) as caught:
        runtime.run_action(
            "reply_to_message",
            {"message_id": original["id"], "user_id": ME, "comment": "x", "attachments": [big]},
            connection,
        )
    assert caught.value.status == 429
    server.state.set_faults({})
    subject = "RE: " + original["subject"]
    assert in_folder(server, ME, "drafts", subject) == []
    assert in_folder(server, OTHER, "inbox", subject) == []
    assert [c for c in _graph_calls(server) if c[1].endswith("/send")] == []


def test_a_response_draft_takes_a_large_attachment(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer
) -> None:
    original = receive(runtime, admin, server)
    data = os.urandom(3 * MB + 7)
    draft = runtime.run_action(
        "create_forward_draft",
        {
            "message_id": original["id"],
            "user_id": ME,
            "to": [THIRD],
            "attachments": [{"name": "big.bin", "content_base64": base64.b64encode(data).decode()}],
        },
        connection,
    )
    assert draft["isDraft"] is True and draft["hasAttachments"] is True
    stored = {a["name"]: a for a in box(server, ME).attachments_of(draft["id"])}
    assert sorted(stored) == ["big.bin", "orig.txt"]
    assert base64.b64decode(stored["big.bin"]["contentBytes"]) == data
