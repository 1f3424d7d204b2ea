"""The local runner, end to end against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from sandbox import seed
from sandbox.server import SandboxServer


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_actions_list_and_describe(home: Path) -> None:
    listed = cli("actions", "list", "--json")
    assert listed.exit_code == 0
    keys = {row["key"] for row in json.loads(listed.stdout)}
    assert {"send_message", "list_messages", "get_current_user"} <= keys
    described = json.loads(cli("actions", "describe", "send_message", "--json").stdout)
    assert described["category"] == "send"
    assert "to" in described["input_schema"]["properties"]
    assert described["output_schema"]["properties"]["sent"]["type"] == "boolean"


def test_manifest_validate_and_export(home: Path) -> None:
    validated = cli("manifest", "validate")
    assert validated.exit_code == 0, validated.stderr
    assert "manifest OK" in validated.stdout
    exported = json.loads(cli("manifest", "export").stdout)
    action = next(a for a in exported["actions"] if a["key"] == "list_messages")
    assert action["input_schema"]["properties"]["top"]["maximum"] == 1000
    assert isinstance(action["example_output"]["messages"], list)
    assert {c["key"] for c in exported["connections"]} == {
        "oauth2_code",
        "oauth2_code_legacy",
        "client_credentials",
    }
    assert all("properties" in c["config_schema"] for c in exported["connections"])


def test_run_in_process_leaves_the_garbage_collector_as_it_was(home: Path) -> None:
    """``run`` defers the GC's passes while it runs; called in-process (a host, these tests) it
    restores Python's settings, failing or not (only the console script's own process keeps them)."""
    import gc

    before = gc.get_threshold()
    assert cli("run", "get_current_user", "--sandbox").exit_code == 0
    assert cli("run", "send_message", "--input", '{"to": ["nope"]}', "--sandbox").exit_code == 2
    assert gc.get_threshold() == before


def test_run_with_no_connection_uses_a_sandbox_started_on_the_spot(home: Path) -> None:
    result = cli("run", "list_messages", "--input", '{"folder_id": "inbox", "top": 2, "select": ["subject"]}')
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["count"] == 2 and all("subject" in m for m in out["messages"])
    assert out["next_link"]
    assert "sandbox started on the spot" in result.stderr


def test_invalid_input_exits_2_naming_every_field(home: Path) -> None:
    result = cli("run", "send_message", "--input", '{"to": ["nope"], "importance": "urgent"}')
    assert result.exit_code == 2
    assert "to[0]" in result.stderr and "importance" in result.stderr
    assert result.stdout == ""


def test_unknown_action_exits_2(home: Path) -> None:
    result = cli("run", "teleport")
    assert result.exit_code == 2
    assert "unknown action 'teleport'" in result.stderr


def test_input_from_a_file(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "input.json"
    path.write_text('{"top": 1}', encoding="utf-8")
    result = cli("run", "list_mail_folders", "--input", f"@{path}", "--sandbox")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["count"] == 1


def test_saved_connections_lifecycle(home: Path, server: SandboxServer) -> None:
    assert cli("connect", "work", "--sandbox", server.url).exit_code == 0
    assert cli("connect", "app", "--sandbox", server.url, "--app-only").exit_code == 0

    listed = json.loads(cli("connections", "list", "--json").stdout)
    assert {row["name"] for row in listed} == {"work", "app"}

    tested = cli("connections", "test", "work")
    assert tested.exit_code == 0, tested.stderr
    assert json.loads(tested.stdout)["acts_as"].lower() == seed.DEFAULT_USER.lower()

    # two connections saved: the runner asks which one
    ambiguous = cli("run", "get_current_user")
    assert ambiguous.exit_code == 1 and "--connection" in ambiguous.stderr

    shared = cli(
        "run",
        "list_messages",
        "--connection",
        "work",
        "--user-id",
        seed.SHARED_MAILBOX,
        "--input",
        '{"top": 1}',
    )
    assert shared.exit_code == 0, shared.stderr
    assert json.loads(shared.stdout)["count"] == 1

    app_run = cli("run", "list_mail_folders", "--connection", "app", "--input", '{"top": 2}')
    assert app_run.exit_code == 0, app_run.stderr

    assert cli("connections", "delete", "app").exit_code == 0
    assert cli("connections", "delete", "app").exit_code == 2
    assert {row["name"] for row in json.loads(cli("connections", "list", "--json").stdout)} == {"work"}


def test_no_secret_or_token_in_output(home: Path, server: SandboxServer) -> None:
    cli("connect", "app", "--sandbox", server.url, "--app-only")
    cli("connections", "test", "app")
    printed = cli("connections", "list", "--json").stdout + cli("connections", "list").stdout
    assert seed.CLIENT_SECRET not in printed
    assert "eyJ" not in printed  # no JWT
