"""Scheduled send and MIME on the sandbox, with both connection types: a message sent with `send_at`
waits in the Outbox until that time on the sandbox's clock, is listed and can be cancelled; MIME is
sent and saved as it is."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connections.base import Connection
from connector.errors import InputValidationError
from connector.runtime import Runtime
from sandbox import seed
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

RECIPIENT = str(seed.USERS[1]["userPrincipalName"])


class MovableClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


CLOCK = MovableClock()


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(clock=CLOCK, notification_interval=0.0)) as running:
        yield running


@pytest.fixture(autouse=True)
def clock_now() -> None:
    CLOCK.offset = 0.0


def _later(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="seconds")


def _subjects(runtime: Runtime, admin: Connection, mailbox: str, folder: str) -> list[str]:
    out = runtime.run_action(
        "list_messages", {"folder_id": folder, "top": 50, "select": ["subject"], "user_id": mailbox}, admin
    )
    return [m["subject"] for m in out["messages"]]


def _owner(connection: Connection) -> str:
    return connection.default_mailbox or seed.DEFAULT_USER


def test_a_scheduled_message_waits_in_the_outbox_until_its_time(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    out = runtime.run_action(
        "send_message", {"to": [RECIPIENT], "subject": "Held until nine", "send_at": _later(2)}, connection
    )
    assert out["scheduled_for"] is not None
    listed = runtime.run_action("list_scheduled_messages", {}, connection)
    assert [(m["subject"], m["to"], m["scheduled_for"]) for m in listed["messages"]] == [
        ("Held until nine", [RECIPIENT], out["scheduled_for"])
    ]
    assert "Held until nine" not in _subjects(runtime, admin, RECIPIENT, "inbox")
    CLOCK.offset = 3 * 3600  # the sandbox's clock passes the time
    assert runtime.run_action("list_scheduled_messages", {}, connection)["count"] == 0
    assert "Held until nine" in _subjects(runtime, admin, RECIPIENT, "inbox")
    assert "Held until nine" in _subjects(runtime, admin, _owner(connection), "sentitems")


def test_a_past_send_at_sends_at_once(runtime: Runtime, connection: Connection, admin: Connection) -> None:
    out = runtime.run_action(
        "send_message", {"to": [RECIPIENT], "subject": "Already due", "send_at": _later(-1)}, connection
    )
    assert out["scheduled_for"] is None
    assert "Already due" in _subjects(runtime, admin, RECIPIENT, "inbox")
    assert runtime.run_action("list_scheduled_messages", {}, connection)["count"] == 0


def test_reply_forward_draft_and_templated_sends_are_held_and_one_is_cancelled(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    newest = runtime.run_action("list_messages", {"folder_id": "inbox", "top": 1}, connection)["messages"][0]
    runtime.run_action(
        "reply_to_message",
        {"message_id": newest["id"], "to": [RECIPIENT], "comment": "Later.", "send_at": _later(1)},
        connection,
    )
    runtime.run_action(
        "forward_message", {"message_id": newest["id"], "to": [RECIPIENT], "send_at": _later(2)}, connection
    )
    draft = runtime.run_action("create_draft", {"to": [RECIPIENT], "subject": "Draft, later"}, connection)
    sent = runtime.run_action("send_draft", {"message_id": draft["id"], "send_at": _later(3)}, connection)
    assert sent["scheduled_for"] is not None
    runtime.run_action(
        "send_templated_messages",
        {
            "subject_template": "Row {{N}}",
            "body_template": "<p>{{N}}</p>",
            "to_column": "Email",
            "rows": [{"Email": RECIPIENT, "N": "one"}, {"Email": RECIPIENT, "N": "two"}],
            "send_at": _later(4),
        },
        connection,
    )
    listed = runtime.run_action("list_scheduled_messages", {}, connection)["messages"]
    assert len(listed) == 5
    assert [m["scheduled_for"] for m in listed] == sorted(m["scheduled_for"] for m in listed)
    assert listed[2]["subject"] == "Draft, later"
    cancelled = runtime.run_action("cancel_scheduled_message", {"message_id": listed[2]["id"]}, connection)
    assert cancelled["cancelled"] is True and cancelled["subject"] == "Draft, later"
    with pytest.raises(InputValidationError, match="is not a scheduled message"):
        runtime.run_action("cancel_scheduled_message", {"message_id": listed[2]["id"]}, connection)
    with pytest.raises(InputValidationError, match="is not a scheduled message"):  # an inbox message
        runtime.run_action("cancel_scheduled_message", {"message_id": newest["id"]}, connection)
    CLOCK.offset = 5 * 3600
    inbox = _subjects(runtime, admin, RECIPIENT, "inbox")
    assert "Draft, later" not in inbox  # cancelled: never sent
    assert {"Row one", "Row two"} <= set(inbox)
    assert sum(s.startswith(("RE:", "FW:", "Re:", "Fw:")) for s in inbox) >= 2
    assert runtime.run_action("list_scheduled_messages", {}, connection)["count"] == 0
    assert "Draft, later" in _subjects(runtime, admin, _owner(connection), "deleteditems")


MIME = (
    "From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nSent as MIME.\r\n"
)


def test_mime_is_sent_and_saved_as_a_draft_as_it_is(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    sender = _owner(connection)
    out = runtime.run_action(
        "send_mime_message",
        {"mime": MIME.format(sender=sender, to=RECIPIENT, subject="MIME hello")},
        connection,
    )
    assert out["sent"] is True and out["to"] == [RECIPIENT]
    assert "MIME hello" in _subjects(runtime, admin, RECIPIENT, "inbox")
    raw = MIME.format(sender=sender, to=RECIPIENT, subject="MIME draft").encode()
    draft = runtime.run_action(
        "create_draft_mime", {"mime_base64": base64.b64encode(raw).decode()}, connection
    )
    assert draft["subject"] == "MIME draft" and draft.get("isDraft") is True
    assert "MIME draft" in _subjects(runtime, admin, sender, "drafts")
    scheduled = runtime.run_action(
        "send_draft", {"message_id": draft["id"], "send_at": _later(1)}, connection
    )
    assert scheduled["scheduled_for"] is not None
    assert [
        m["subject"] for m in runtime.run_action("list_scheduled_messages", {}, connection)["messages"]
    ] == ["MIME draft"]
