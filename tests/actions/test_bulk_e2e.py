"""Update Messages and Send Templated Messages end to end on the sandbox, with both connection types:
mailboxes really change, faults injected into sends never deliver a row twice, and a re-run with
the run_id sends only what was provably not sent."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from connections.base import Connection
from connector.policy import PRESETS, PolicyGate
from connector.runtime import Runtime
from connector.store import Store
from sandbox import seed
from sandbox.mailbox import Mailbox
from sandbox.server import SandboxServer

ME = seed.DEFAULT_USER
OTHERS = [u["mail"] for u in seed.USERS if u["userPrincipalName"] != ME]


def box(server: SandboxServer, address: str) -> Mailbox:
    found = server.state.mailbox_by_address(address)
    assert found is not None
    return found


def inbox_ids(server: SandboxServer, count: int) -> list[str]:
    mailbox = box(server, ME)
    return [m["id"] for m in mailbox.messages_in(mailbox.well_known["inbox"])][:count]


def delivered(server: SandboxServer, address: str, subject: str) -> int:
    mailbox = box(server, address)
    return sum(1 for m in mailbox.messages_in(mailbox.well_known["inbox"]) if m["subject"] == subject)


@pytest.fixture
def stored(store: Store) -> Iterator[Runtime]:
    with Runtime(strict_output=True, store=store, gate=PolicyGate(policy=PRESETS["open"])) as rt:
        yield rt


# == Update Messages ====================================================================================
def test_update_messages_changes_every_message_and_reports_the_bad_id(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    ids = inbox_ids(server, 45)
    bad = ids[0][:-6] + "AAAAA="
    out = runtime.run_action(
        "update_messages",
        {
            "user_id": ME,
            "message_ids": [*ids[:30], bad, *ids[30:]],
            "is_read": False,
            "add_categories": ["Bulk"],
            "flag": "flagged",
        },
        connection,
    )
    assert (out["count"], out["succeeded"], out["failed"]) == (46, 45, 1)
    assert out["results"][30]["status"] == "error" and out["results"][30]["error"]["status"] in (400, 404)
    messages = box(server, ME).messages
    for message_id in ids:
        message = messages[message_id]
        assert message["isRead"] is False and message["flag"]["flagStatus"] == "flagged"
        assert "Bulk" in message["categories"]
    again = runtime.run_action(
        "update_messages", {"user_id": ME, "message_ids": ids[:5], "remove_categories": ["bulk"]}, connection
    )
    assert again["succeeded"] == 5
    assert all("Bulk" not in messages[m]["categories"] for m in ids[:5])
    assert all("Bulk" in messages[m]["categories"] for m in ids[5:])


def test_update_messages_moves_and_returns_the_new_ids(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    ids = inbox_ids(server, 25)
    out = runtime.run_action(
        "update_messages",
        {"user_id": ME, "message_ids": ids, "is_read": True, "destination_id": "archive"},
        connection,
    )
    assert out["succeeded"] == 25
    mailbox = box(server, ME)
    archive = {m["id"]: m for m in mailbox.messages_in(mailbox.well_known["archive"])}
    for result in out["results"]:
        assert result["message_id"] not in mailbox.messages
        assert result["new_id"] in archive and archive[result["new_id"]]["isRead"] is True


def test_update_messages_stays_within_the_mailbox_concurrency_limit(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    """A batch holds 4 of the mailbox's slots in the client: with other requests to the same mailbox
    in flight, the sandbox (4 concurrent per app and mailbox) never answers 429."""
    ids = inbox_ids(server, 100)
    server.state.set_faults({"slow": 1.0}, slow_seconds=0.02, paths=["*/messages"], methods=["GET"])
    errors: list[BaseException] = []

    def lists() -> None:
        try:
            for _ in range(4):
                runtime.run_action("list_messages", {"user_id": ME, "top": 1, "select": ["id"]}, connection)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=lists) for _ in range(6)]
    for thread in threads:
        thread.start()
    out = runtime.run_action(
        "update_messages", {"user_id": ME, "message_ids": ids, "flag": "complete"}, connection
    )
    for thread in threads:
        thread.join()
    assert errors == [] and out["succeeded"] == 100
    assert [r for r in server.state.request_log if r.status == 429] == []


# == Send Templated Messages ============================================================================
def _rows(tag: str, count: int) -> list[dict[str, Any]]:
    return [
        {"Email": OTHERS[i % len(OTHERS)], "First Name": f"P{i}", "N": i, "Tag": tag} for i in range(count)
    ]


def _subject(tag: str, index: int) -> str:
    return f"Bulk {tag} #{index}"


def _send(
    runtime: Runtime, connection: Connection, rows: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return runtime.run_action(
        "send_templated_messages",
        {
            "user_id": ME,
            "subject_template": "Bulk {{Tag}} #{{N}}",
            "body_template": "<p>Hello {{First Name}}</p>",
            "to_column": "Email",
            "rows": rows,
            **extra,
        },
        connection,
    )


def _deliveries(server: SandboxServer, rows: list[dict[str, Any]], tag: str) -> list[int]:
    return [delivered(server, row["Email"], _subject(tag, row["N"])) for row in rows]


def test_templated_messages_reach_each_row_once_and_bad_rows_fail_alone(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    intended = _rows(tag, 45)
    rows = list(intended)
    rows[3] = {**rows[3], "Email": "nobody-at-contoso"}
    rows[7] = {**rows[7], "First Name": "  "}
    rows[8] = {**rows[8], "First Name": "<script>x</script> & Co"}
    out = _send(runtime, connection, rows)
    assert out["sent"] == 43 and out["failed"] == 2 and out["batches"] == 3
    assert out["rows"][3]["status"] == "failed" and "not an email address" in out["rows"][3]["reason"]
    assert out["rows"][7]["status"] == "failed" and "blank" in out["rows"][7]["reason"]
    counts = _deliveries(server, intended, tag)
    assert [i for i, n in enumerate(counts) if n != 1] == [3, 7]
    assert counts[3] == counts[7] == 0
    mailbox = box(server, rows[8]["Email"])
    (escaped,) = [m for m in mailbox.messages.values() if m["subject"] == _subject(tag, 8)]
    assert "&lt;script&gt;x&lt;/script&gt; &amp; Co" in escaped["body"]["content"]
    sent_items = box(server, ME).messages_in(box(server, ME).well_known["sentitems"])
    assert sum(1 for m in sent_items if m["subject"].startswith(f"Bulk {tag} ")) == 43


def test_faulty_sends_never_deliver_a_row_twice_and_a_rerun_sends_only_the_rest(
    stored: Runtime, connection: Connection, server: SandboxServer
) -> None:
    tag = uuid.uuid4().hex[:8]
    rows = _rows(tag, 60)
    run_id = f"run-{tag}"
    server.state.set_faults(
        {"429": 0.25, "503_after": 0.1, "drop_after": 0.1, "503": 0.05}, seed=11, paths=["*/sendMail"]
    )
    first = _send(stored, connection, rows, run_id=run_id)
    server.state.set_faults({})
    statuses = [r["status"] for r in first["rows"]]
    assert {"sent", "unknown"} <= set(statuses)
    counts = _deliveries(server, rows, tag)
    assert all(n <= 1 for n in counts)  # never twice
    assert all(counts[i] == 1 for i, s in enumerate(statuses) if s == "sent")
    assert all(counts[i] == 0 for i, s in enumerate(statuses) if s == "failed")
    retried = [r for r in server.state.request_log if r.path.endswith("/sendMail") and r.status == 429]
    assert retried  # throttled sends were sent again, and delivered once

    again = _send(stored, connection, rows, run_id=run_id)
    for before, after in zip(first["rows"], again["rows"], strict=True):
        expected = {"sent": "already_sent", "unknown": "unknown", "failed": "sent"}[before["status"]]
        assert after["status"] == expected, (before, after)
    assert _deliveries(server, rows, tag) == counts  # nothing sent twice, nothing new needed


@pytest.mark.parametrize("fault", ["drop_after", "503_after"])
def test_a_batch_call_that_failed_after_reaching_graph_is_not_resent(
    stored: Runtime, connection: Connection, server: SandboxServer, fault: str
) -> None:
    """The whole $batch is processed, then the answer is lost: its rows are unknown (and delivered
    once), the run stops, and a re-run with the run_id sends the rest without repeating them."""
    tag = uuid.uuid4().hex[:8]
    rows = _rows(tag, 30)
    run_id = f"crash-{tag}"
    server.state.set_faults({fault: 1.0}, paths=["/v1.0/$batch"])
    first = _send(stored, connection, rows, run_id=run_id)
    server.state.set_faults({})
    assert [r["status"] for r in first["rows"]] == ["unknown"] * 20 + ["failed"] * 10
    assert len([r for r in server.state.request_log if r.path == "/v1.0/$batch"]) == 1
    assert _deliveries(server, rows, tag) == [1] * 20 + [0] * 10

    again = _send(stored, connection, rows, run_id=run_id)
    assert [r["status"] for r in again["rows"]] == ["unknown"] * 20 + ["sent"] * 10
    assert _deliveries(server, rows, tag) == [1] * 30
