"""The sandbox made discoverable: its banner, connect --user, sandbox reset; polling and listening
on a sandbox in one command, instances reused, and what an instance delivered."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from connector.policy import PRESETS
from connector.store import Store
from sandbox.server import SandboxServer
from tests.triggers.test_triggers_cli import Process

INBOX = '{"folder_id": "inbox"}'


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    with Store(tmp_path / "state.db") as store:  # a sandbox: these tests are not about the policy
        store.set_policy(None, PRESETS["open"].to_dict())
    return tmp_path


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _info(server: SandboxServer) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(server.url + "/_sandbox/").json())


def test_the_sandbox_banner_lists_the_seeded_users_and_next_steps(home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = Process(["sandbox", "--port", str(port)], home)
    try:
        process.stderr_line("Ctrl-C stops")
        banner = "\n".join(process.stderr_seen)
        url = f"http://127.0.0.1:{port}"
        assert f"Graph sandbox at {url}/v1.0" in banner
        assert "avery.lindqvist@meridiantraders.onmicrosoft.com (default)" in banner
        assert "jordan.okafor@meridiantraders.onmicrosoft.com" in banner
        assert f"outlook-connector connect try --sandbox {url} [--user UPN]" in banner
        assert f"outlook-connector sandbox reset --url {url}" in banner
        assert process.interrupt() == 0
    finally:
        process.kill()


def test_connect_as_another_seeded_user(home: Path, server: SandboxServer) -> None:
    other = next(upn for upn in _info(server)["users"] if upn.startswith("jordan."))
    assert cli("connect", "jordan", "--sandbox", server.url, "--user", other).exit_code == 0
    me = json.loads(cli("run", "get_current_user", "-c", "jordan").stdout)
    assert me["userPrincipalName"] == other
    header, row = cli("connections", "list").stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "ACCOUNT", "STATUS", "LAST", "SUCCESS", "DETAIL"]
    assert row.split()[:4] == ["jordan", "oauth2_code", other, "healthy"]
    assert datetime.fromisoformat(row.split()[4]).utcoffset() == timedelta(0)  # ISO 8601, UTC
    refused = cli("connect", "x", "--type", "oauth2_code", "--user", other)
    assert refused.exit_code == 2 and "--user applies to --sandbox" in refused.stderr


def test_sandbox_reset_restores_the_seeded_mailbox(home: Path, server: SandboxServer) -> None:
    assert cli("connect", "graph", "--sandbox", server.url).exit_code == 0

    def drafts() -> int:
        listed = json.loads(
            cli("run", "list_messages", "-c", "graph", "-i", '{"folder_id": "drafts", "top": 100}').stdout
        )
        return len(listed["messages"])

    seeded = drafts()
    assert cli("run", "create_draft", "-c", "graph", "-i", '{"subject": "scratch"}').exit_code == 0
    assert drafts() == seeded + 1
    reset = cli("sandbox", "reset", "--url", server.url)
    assert reset.exit_code == 0, reset.stderr
    assert drafts() == seeded  # and the connection's token still works


def test_sandbox_reset_of_nothing_fails_clearly(home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = cli("sandbox", "reset", "--url", f"http://127.0.0.1:{port}")
    assert result.exit_code == 1 and "cannot reset the sandbox" in result.stderr


def test_poll_reuses_the_matching_instance_and_events_lists_its_deliveries(
    home: Path, server: SandboxServer
) -> None:
    assert cli("connect", "graph", "--sandbox", server.url).exit_code == 0
    first = cli("triggers", "poll", "poll_changes", "-c", "graph", "-i", INBOX)
    assert first.exit_code == 0, first.stderr
    assert "created polling instance" in first.stderr
    [instance] = json.loads(cli("triggers", "list", "--json").stdout)
    sent = cli(
        "run",
        "send_message",
        "-c",
        "graph",
        "-i",
        json.dumps({"to": [_info(server)["default_user"]], "subject": "to myself"}),
    )
    assert sent.exit_code == 0, sent.stderr
    again = cli("triggers", "poll", "poll_changes", "-c", "graph", "-i", INBOX)
    assert again.exit_code == 0, again.stderr
    assert f"polling instance {instance['id']} of poll_changes" in again.stderr
    delivered = [json.loads(line) for line in again.stdout.splitlines()]
    assert [e["resource"]["subject"] for e in delivered if e["change_type"] == "created"] == ["to myself"]
    assert len(json.loads(cli("triggers", "list", "--json").stdout)) == 1  # no pile of instances
    events = json.loads(cli("triggers", "events", instance["id"], "--json").stdout)
    assert {e["item_id"] for e in events["delivered"]} == {e["resource_id"] for e in delivered}
    assert all(e["delivered_at"].endswith("Z") for e in events["delivered"])
    table = cli("triggers", "events", instance["id"])
    assert table.stdout.splitlines()[0].split() == ["DELIVERED", "CHANGE", "ITEM"]
    other = cli("triggers", "poll", "poll_changes", "-c", "graph", "-i", INBOX, "--new")
    assert "created polling instance" in other.stderr
    assert len(json.loads(cli("triggers", "list", "--json").stdout)) == 2


def test_events_of_an_unknown_instance(home: Path) -> None:
    result = cli("triggers", "events", "nope")
    assert result.exit_code == 1 and "no trigger instance 'nope'" in result.stderr


def test_poll_on_a_sandbox_in_one_command_leaves_nothing_behind(home: Path) -> None:
    result = cli("triggers", "poll", "poll_changes", "--sandbox", "-i", INBOX)
    assert result.exit_code == 0, result.stderr
    assert "created polling instance" in result.stderr and "poll " in result.stderr
    assert json.loads(cli("triggers", "list", "--json").stdout) == []
    assert json.loads(cli("connections", "list", "--json").stdout) == []


def test_listen_on_a_sandbox_keeps_its_instance_in_the_users_store(home: Path) -> None:
    listener = Process(["triggers", "listen", "mail_message_webhook", "--input", INBOX, "--sandbox"], home)
    try:
        line = listener.stderr_line("listening: ")
        listed = json.loads(cli("triggers", "list", "--json").stdout)
        assert [(i["trigger"], i["connection"]) for i in listed] == [("mail_message_webhook", "sandbox")]
        assert listed[0]["id"] in line
        assert listed[0]["subscriptions"][0]["expires_at"].endswith("Z")  # ISO, not epoch seconds
        assert listener.interrupt() == 0
    finally:
        listener.kill()
    assert json.loads(cli("triggers", "list", "--json").stdout) == []
    assert json.loads(cli("connections", "list", "--json").stdout) == []


def test_approvals_and_the_audit_log_show_iso_times(home: Path, server: SandboxServer) -> None:
    assert cli("connect", "graph", "--sandbox", server.url).exit_code == 0
    with Store(home / "state.db") as store:
        store.set_policy(None, PRESETS["approve_writes"].to_dict())
    sent = cli("run", "send_message", "-c", "graph", "-i", '{"to": ["someone@example.com"], "subject": "x"}')
    assert sent.exit_code == 1 and "needs approval" in sent.stderr
    [pending] = json.loads(cli("approvals", "list", "--json").stdout)
    for name in ("created_at", "expires_at"):
        assert datetime.fromisoformat(pending[name]).utcoffset() == timedelta(0)
    records = [json.loads(line) for line in cli("audit").stdout.splitlines()]
    [record] = [r for r in records if r["action"] == "send_message"]
    assert record["decision"] == "approval_required"
    assert datetime.fromisoformat(record["at"]).utcoffset() == timedelta(0)
