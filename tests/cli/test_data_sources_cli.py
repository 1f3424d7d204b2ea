"""``outlook-connector data-sources list|run`` end to end against the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from sandbox import seed
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(http_notification_urls=True)) as running:
        yield running


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_list(home: Path) -> None:
    listed = cli("data-sources", "list", "--json")
    assert listed.exit_code == 0
    assert {row["key"] for row in json.loads(listed.stdout)} == {
        "select_calendar",
        "select_category",
        "select_contact",
        "select_event",
        "select_language",
        "select_mail_folder",
        "select_message",
        "select_subscription",
        "select_timezone",
    }
    plain = cli("data-sources", "list")
    assert "select_mail_folder" in plain.stdout and "Select Mail Folder" in plain.stdout


def test_run_on_a_sandbox_started_on_the_spot(home: Path) -> None:
    result = cli(
        "data-sources", "run", "select_mail_folder", "--sandbox", "--input", '{"search": "projects"}'
    )
    assert result.exit_code == 0, result.stderr
    labels = [o["label"] for o in json.loads(result.stdout)["options"]]
    assert "Inbox / Projects" in labels and all("projects" in label.lower() for label in labels)


def test_run_pages_with_the_cursor_on_a_saved_connection(home: Path, server: SandboxServer) -> None:
    assert cli("connect", "app", "--sandbox", server.url, "--app-only").exit_code == 0
    args = ("data-sources", "run", "select_message", "--connection", "app", "--user-id", seed.SHARED_MAILBOX)
    first = cli(*args, "--input", '{"page_size": 3}')
    assert first.exit_code == 0, first.stderr
    page = json.loads(first.stdout)
    cursor = page["next_cursor"]
    second = json.loads(cli(*args, "--input", json.dumps({"page_size": 3, "cursor": cursor})).stdout)
    first_keys = [o["key"] for o in page["options"]]
    second_keys = [o["key"] for o in second["options"]]
    assert len(first_keys) == len(second_keys) == 3 and not set(first_keys) & set(second_keys)
    # the keys are messages of the shared mailbox, which the actions take
    got = cli("run", "get_message", "--connection", "app", "--user-id", seed.SHARED_MAILBOX, "--input",
              json.dumps({"message_id": first_keys[0]}))  # fmt: skip
    assert got.exit_code == 0 and json.loads(got.stdout)["id"] == first_keys[0]


def test_bad_cursor_exits_2_naming_cursor(home: Path, server: SandboxServer) -> None:
    cli("connect", "work", "--sandbox", server.url)
    before = len(server.state.request_log)
    result = cli("data-sources", "run", "select_contact", "--input", '{"cursor": "garbage"}')
    assert result.exit_code == 2
    assert "cursor: is not a cursor this data source returned" in result.stderr
    assert not [r for r in server.state.request_log[before:] if r.path.startswith("/v1.0/")]


def test_unknown_data_source_exits_2(home: Path) -> None:
    result = cli("data-sources", "run", "select_nothing", "--sandbox")
    assert result.exit_code == 2 and "unknown data source 'select_nothing'" in result.stderr
    assert "sandbox started on the spot" not in result.stderr  # refused before any set-up


def test_export_and_describe_carry_data_sources(home: Path) -> None:
    exported = json.loads(cli("manifest", "export").stdout)
    sources = {s["key"]: s for s in exported["data_sources"]}
    assert sources["select_timezone"]["input_schema"]["properties"]["format"]["enum"] == ["Windows", "Iana"]
    assert "next_cursor" in sources["select_timezone"]["output_schema"]["properties"]
    described = json.loads(cli("actions", "describe", "list_messages", "--json").stdout)
    assert described["data_sources"] == {"folder_id": "select_mail_folder"}
