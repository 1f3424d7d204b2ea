"""Health of a connection or trigger instance from its last success and last error."""

from __future__ import annotations

from pathlib import Path

import pytest

from triggers.health import STALE_AFTER, Health, health

NOW = 1_800_000_000.0


def test_never_synced() -> None:
    assert health(None, None, None, NOW) == Health("never synced", None)


def test_healthy_within_25_hours() -> None:
    assert health(NOW - STALE_AFTER + 1, None, None, NOW).status == "healthy"
    assert STALE_AFTER == 25 * 3600


def test_stale_after_25_hours_without_a_success() -> None:
    found = health(NOW - 26 * 3600, None, None, NOW)
    assert found.status == "stale" and found.message == "last success 26 h ago"


def test_an_error_newer_than_the_last_success_wins() -> None:
    found = health(NOW - 600, "Graph error 401 InvalidAuthenticationToken", NOW - 120, NOW)
    assert found == Health("error", "Graph error 401 InvalidAuthenticationToken (2 min ago)")
    assert health(None, "refused", NOW - 5, NOW).status == "error"  # never a success


def test_a_success_after_the_error_heals() -> None:
    assert health(NOW - 60, "old trouble", NOW - 120, NOW).status == "healthy"
    assert health(NOW - 30 * 3600, "old trouble", NOW - 31 * 3600, NOW).status == "stale"


def test_the_runtime_notes_a_connection_s_success_and_refusal(tmp_path: Path) -> None:
    from connections.sandbox import sandbox_connection
    from connector.errors import GraphError
    from connector.runtime import Runtime
    from connector.store import Store
    from sandbox import seed
    from sandbox.server import SandboxServer

    other = str(seed.USERS[2]["userPrincipalName"])
    with SandboxServer() as server, Store(tmp_path / "state.db") as store, Runtime(store=store) as runtime:
        connection = sandbox_connection(store, server.url, "delegated", name="work")
        record = store.get_connection("work")
        assert record is not None and health(record.last_success_at, None, None, NOW).status == "never synced"
        runtime.run_action("list_mail_folders", {}, connection)
        record = store.get_connection("work")
        assert record is not None and record.last_success_at is not None and record.last_error is None
        with pytest.raises(GraphError) as caught:
            runtime.run_action("list_mail_folders", {"user_id": other}, connection)
        assert caught.value.status == 403
        record = store.get_connection("work")
        assert record is not None and record.last_error and record.last_error_at is not None
        found = health(
            record.last_success_at, record.last_error, record.last_error_at, record.last_error_at + 1
        )
        assert found.status == "error" and "403" in (found.message or "")
        with pytest.raises(GraphError) as missing:
            runtime.run_action("get_message", {"message_id": "nope"}, connection)
        assert missing.value.status == 400  # one bad id says nothing about the connection
        unchanged = store.get_connection("work")
        assert unchanged is not None and unchanged.last_error_at == record.last_error_at
        runtime.run_action("list_mail_folders", {}, connection)  # noted at once after an error
        record = store.get_connection("work")
        assert record is not None and record.last_error is None


def test_the_worst_of_several_healths() -> None:
    from triggers.health import worst

    ok, new, old, bad = Health("healthy"), Health("never synced"), Health("stale", "x"), Health("error", "y")
    assert worst([ok, new, ok]) == new
    assert worst([ok, old, new]) == old
    assert worst([old, bad, ok]) == bad
    assert worst([]) == Health("never synced", None)
