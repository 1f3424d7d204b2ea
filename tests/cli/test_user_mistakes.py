"""Every command-line mistake is one line naming it, exit 2, no traceback; unknown keys get the
nearest valid one. Each case runs the CLI as a separate process, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
    return path


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
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_user_mistake_is_one_line_and_exit_2(home: Path, case: str) -> None:
    args, expected = CASES[case]
    result = cli(home, *[a.replace("{home}", str(home)) for a in args])
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
