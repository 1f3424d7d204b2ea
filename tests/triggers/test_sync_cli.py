"""`triggers sync ID` and `triggers enable --backfill` from the command line, on the sandbox."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connections.sandbox import sandbox_connection
from connector.store import Store
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.triggers.test_triggers_cli import _create_message, cli
from triggers.worker import Receiver


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    monkeypatch.delenv("OUTLOOK_CONNECTOR_PUBLIC_URL", raising=False)
    return tmp_path


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(
        SandboxConfig(messages_per_user=10, notification_interval=0.0, http_notification_urls=True)
    ) as running:
        yield running


@pytest.mark.parametrize("kind", ["delegated", "app"])
def test_sync_a_webhook_instance_enabled_with_a_backfill(
    home: Path, server: SandboxServer, kind: str
) -> None:
    with Store(home / "state.db") as store:
        sandbox_connection(store, server.url, kind, name="work")  # type: ignore[arg-type]
        with Receiver(store) as receiver:
            enabled = cli(
                "triggers", "enable", "mail_message_webhook", "-i", '{"folder_id":"inbox"}',
                "--public-url", receiver.url, "--backfill", "all",
            )  # fmt: skip
            assert enabled.exit_code == 0, enabled.stderr
            instance = json.loads(enabled.stdout)
            assert instance["health"] == "healthy"
            [backfill] = instance["backfill"]
            assert (backfill["range"], backfill["status"], backfill["items"]) == ("all", "running", 0)
            assert backfill["total"] > 0 and backfill["rate"] is None and backfill["eta_seconds"] is None
            synced = cli("triggers", "sync", instance["id"])
            assert synced.exit_code == 0, synced.stderr
            events = [json.loads(line) for line in synced.stdout.splitlines()]
            found = re.search(r"backfill \[#+\] (\d+)/(\d+) items \(100%\)", synced.stderr)
            assert found and found.group(1) == found.group(2) == str(len(events)) and events
            assert re.search(r"items/s", synced.stderr)
            assert f"{len(events)} new change(s) delivered" in synced.stderr
            [listed] = json.loads(cli("triggers", "list", "--json").stdout)
            [done] = listed["backfill"]
            assert (done["status"], done["items"], done["delivered"]) == ("done", len(events), len(events))
            assert done["eta_seconds"] == 0
            again = cli("triggers", "sync", instance["id"])
            assert again.stdout == "" and "0 new change(s) delivered" in again.stderr
            made = _create_message(server.graph_url, server.url, "while nobody listened")
            third = cli("triggers", "sync", instance["id"], "--renew-within-hours", "100")
            assert [json.loads(line)["resource_id"] for line in third.stdout.splitlines()] == [made["id"]]
            assert "1 new change(s) delivered, 1 subscription(s) renewed" in third.stderr


def test_sync_an_unknown_instance_fails_cleanly(home: Path) -> None:
    result = cli("triggers", "sync", "nope")
    assert result.exit_code == 1 and "no trigger instance 'nope'" in result.stderr


def test_listen_with_a_backfill_delivers_the_existing_items_first(home: Path, server: SandboxServer) -> None:
    from tests.triggers.test_triggers_cli import Process

    with Store(home / "state.db") as store:
        sandbox_connection(store, server.url, "app", name="graph")
    inbox = {m["id"] for m in _inbox(server)}
    args = ["triggers", "listen", "mail_message_webhook", "-i", '{"folder_id":"inbox"}', "-c", "graph"]
    listener = Process([*args, "--backfill", "all"], home)
    try:
        listener.stderr_line("listening: ")
        seen = [listener.event() for _ in inbox]
        assert {e["resource_id"] for e in seen} == inbox and {e["change_type"] for e in seen} == {"created"}
        assert listener.interrupt() == 0
    finally:
        listener.kill()


def _inbox(server: SandboxServer) -> list[dict[str, Any]]:
    import httpx

    from tests.support.sandbox import delegated_token

    token = delegated_token(server.url)
    answer = httpx.get(
        f"{server.graph_url}/me/mailFolders/inbox/messages",
        params={"$top": "1000", "$select": "id"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    return list(answer.json()["value"])
