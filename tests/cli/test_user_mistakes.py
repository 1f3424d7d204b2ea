"""Every command-line mistake is one line naming it, exit 2, no traceback; unknown keys get the
nearest valid one. Each case runs the CLI as a separate process, as a user would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.store import DB_FILE_NAME, ConnectionRecord, Store


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OUTLOOK_CONNECTOR_HOME": str(home), "OUTLOOK_CONNECTOR_CONNECTION": ""}
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with one saved connection, "work" (never used to call Graph here)."""
    path = tmp_path_factory.mktemp("home")
    with Store(path / DB_FILE_NAME) as store:
        store.save_connection(
            ConnectionRecord(
                name="work", type_key="oauth2_code", config={"client_id": "x", "tenant": "common"}
            )
        )
    caller = {"name": "alice", "key_sha256": "00" * 32}
    for name, callers in (("callers", [{**caller, "connection": "work"}]),
                          ("misspelt", [{**caller, "connection": "wrok"}]),
                          ("shared", [caller])):  # fmt: skip
        (path / f"{name}.json").write_text(json.dumps({"callers": callers}), encoding="utf-8")
    (path / "broken.json").write_text('{"callers": [', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 another program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield taken.getsockname()[1]


CASES = {
    "input file missing": (["run", "list_messages", "--input", "@{home}/missing.json"], "no such file"),
    "input file a directory": (["run", "list_messages", "--input", "@{home}"], "is a directory"),
    "input not JSON": (["run", "list_messages", "--input", "{nope"], "not valid JSON"),
    "config file missing": (
        ["connect", "x", "--type", "oauth2_code", "--config", "@{home}/missing.json"],
        "no such file",
    ),
    "sandbox not a URL": (["connect", "y", "--sandbox", "not-a-url"], "is not a URL"),
    "sandbox URL with a path": (["connect", "y", "--sandbox", "http://127.0.0.1:1/other"], "address"),
    "export to a missing directory": (["manifest", "export", "-o", "/no/such/dir/m.json"], "cannot write"),
    "unknown action": (["run", "list_mesages"], "did you mean 'list_messages'?"),
    "unknown action described": (["actions", "describe", "get_mesage"], "did you mean 'get_message'?"),
    "unknown data source": (
        ["data-sources", "run", "select_mail_foldr"],
        "did you mean 'select_mail_folder'?",
    ),
    "unknown trigger": (
        ["triggers", "enable", "mail_message_webhok", "--public-url", "https://hooks.example.com"],
        "did you mean 'mail_message_webhook'?",
    ),
    "unknown poll target": (["triggers", "poll", "poll_change"], "did you mean 'poll_changes'?"),
    "unknown instance": (["triggers", "disable", "nope"], "no trigger instance 'nope'"),
    "unknown connection": (["run", "get_current_user", "--connection", "wrok"], "did you mean 'work'?"),
    "unknown connection deleted": (["connections", "delete", "wrok"], "did you mean 'work'?"),
    "unknown option": (["run", "list_messages", "--inptu", "{}"], "--inptu"),
    "unknown command": (["rnu", "list_messages"], "rnu"),
    "missing argument": (["run"], "KEY"),
    "example with an input": (["run", "list_messages", "--example", "--input", "{}"], "--example"),
    "connect without a type": (["connect", "z"], "--type is required"),
    "enable without a public URL": (["triggers", "enable", "mail_message_webhook"], "--public-url"),
    # the agent side: policy, approvals, audit, mcp, ui
    "policy of an unknown connection": (["policy", "show", "-c", "wrok"], "did you mean 'work'?"),
    "policy set on an unknown connection": (
        ["policy", "set", "-c", "wrok", "draft=allow"],
        "did you mean 'work'?",
    ),
    "policy reset of an unknown connection": (
        ["policy", "set", "-c", "wrok", "--reset"],
        "did you mean 'work'?",
    ),
    "unknown policy category": (["policy", "set", "drafts=allow"], "did you mean 'draft'?"),
    "unknown policy action": (["policy", "set", "send_mesage=approve"], "did you mean 'send_message'?"),
    "unknown policy setting": (["policy", "set", "draft=alow"], "did you mean 'allow'?"),
    "unknown override setting": (["policy", "set", "send_message=inherti"], "did you mean 'inherit'?"),
    "policy change without a setting": (["policy", "set", "draft"], "NAME=SETTING"),
    "unknown approval approved": (["approvals", "approve", "apr_nope"], "no approval 'apr_nope'"),
    "unknown approval denied": (["approvals", "deny", "apr_nope"], "approvals list"),
    "audit of an unknown connection": (["audit", "--connection", "wrok"], "did you mean 'work'?"),
    "audit of an unknown action": (["audit", "--action", "list_mesages"], "did you mean 'list_messages'?"),
    "audit since a bad time": (["audit", "--since", "yesterday"], "--since takes"),
    "unknown tool set": (["mcp", "--tools", "mail,calender"], "did you mean 'calendar'?"),
    "mcp on an unknown connection": (["mcp", "-c", "wrok"], "did you mean 'work'?"),
    "mcp callers file missing": (["mcp", "--http", "--callers", "{home}/missing.json"], "no such file"),
    "mcp callers file a directory": (["mcp", "--http", "--callers", "{home}"], "is a directory"),
    "mcp callers file not JSON": (["mcp", "--http", "--callers", "{home}/broken.json"], "not valid JSON"),
    "mcp caller of an unknown connection": (
        ["mcp", "--http", "--callers", "{home}/misspelt.json"],
        "did you mean 'work'?",
    ),
    "mcp unknown shared connection": (
        ["mcp", "--http", "--callers", "{home}/shared.json", "--shared-connection", "wrok"],
        "did you mean 'work'?",
    ),
    "mcp port out of range": (
        ["mcp", "--http", "--callers", "{home}/callers.json", "--port", "99999"],
        "99999",
    ),
    "mcp port in use": (
        ["mcp", "--http", "--callers", "{home}/callers.json", "--port", "{busy}"],
        "address already in use",
    ),
    "ui port out of range": (["ui", "--no-open", "--port", "-5"], "-5"),
    "ui port in use": (["ui", "--no-open", "--port", "{busy}"], "address already in use"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_user_mistake_is_one_line_and_exit_2(home: Path, busy_port: int, case: str) -> None:
    args, expected = CASES[case]
    result = cli(home, *[a.replace("{home}", str(home)).replace("{busy}", str(busy_port)) for a in args])
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and expected in lines[0], lines[0]
    assert result.stdout == ""


def test_connect_help_points_to_a_command_that_exists(home: Path) -> None:
    helped = cli(home, "connect", "--help")
    assert helped.returncode == 0 and "connections types" in helped.stdout
    types = cli(home, "connections", "types")
    assert types.returncode == 0, types.stderr
    listed = {row["type"]: row for row in json.loads(types.stdout)}
    assert {"oauth2_code", "client_credentials"} <= set(listed)
    assert "properties" in listed["client_credentials"]["config_schema"]


def test_the_backfill_choices_are_the_ranges_the_poller_knows() -> None:
    """The CLI names the ranges without importing the poller (it loads the runtime)."""
    from connector.cli.triggers import BACKFILL_CHOICES
    from triggers.polling import BACKFILL_RANGES

    assert tuple(BACKFILL_RANGES) == BACKFILL_CHOICES
