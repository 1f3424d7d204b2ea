"""Finding one's way in the CLI: describe pages, list tables and filters, docs build, completion."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from connector.docs import stale_pages
from connector.manifest import load_manifest


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    return tmp_path


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _copied_input(out: str, command: str) -> dict[str, object]:
    """The JSON of the ready-to-copy ``outlook-connector COMMAND KEY --input '...'`` line."""
    line = next(line for line in out.splitlines() if line.strip().startswith(f"outlook-connector {command}"))
    words = shlex.split(line)
    parsed: dict[str, object] = json.loads(words[words.index("--input") + 1])
    return parsed


def test_actions_describe_shows_an_input_table_and_a_ready_to_copy_example() -> None:
    result = cli("actions", "describe", "list_messages")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("NAME"))
    assert header.split() == ["NAME", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION"]
    top = next(line for line in lines if line.startswith("top "))
    assert "integer" in top and "10" in top and "min 1, max 1000" in top
    assert "category:" in result.stdout and "Mail.Read" in result.stdout
    entry = load_manifest().action("list_messages")
    assert _copied_input(result.stdout, "run list_messages") == entry["example_input"]


def test_a_required_input_is_marked_and_placeholders_are_explained() -> None:
    out = cli("actions", "describe", "get_message").stdout
    row = next(line for line in out.splitlines() if line.startswith("message_id "))
    assert " yes " in row
    assert "run get_message --example" in out  # the {first_message_id} placeholder is explained


def test_describe_json_keeps_the_manifest_entry_with_schemas() -> None:
    for command in (
        ("actions", "send_message"),
        ("data-sources", "select_mail_folder"),
        ("triggers", "poll_changes"),
    ):
        result = cli(command[0], "describe", command[1], "--json")
        assert result.exit_code == 0, result.stderr
        described = json.loads(result.stdout)
        assert described["key"] == command[1]
        assert "properties" in described["input_schema"]


def test_data_source_and_trigger_describe_build_valid_examples() -> None:
    manifest = load_manifest()
    out = cli("data-sources", "describe", "select_event").stdout
    example = _copied_input(out, "data-sources run select_event")
    assert manifest.data_sources["select_event"].validator("input_schema").errors(example) == []
    polling = cli("triggers", "describe", "poll_changes").stdout
    assert (
        _copied_input(polling, "triggers poll poll_changes")
        == manifest.triggers["poll_changes"]["example_input"]
    )
    webhook = cli("triggers", "describe", "mail_message_webhook").stdout
    assert "outlook-connector triggers listen mail_message_webhook" in webhook


def test_describe_an_unknown_key_fails_naming_the_list() -> None:
    result = cli("triggers", "describe", "teleport")
    assert result.exit_code == 2  # a mistake in the command line
    assert "unknown trigger 'teleport'" in result.stderr and "poll_changes" in result.stderr
    near = cli("data-sources", "describe", "select_mail_folders")
    assert near.exit_code == 2 and "did you mean 'select_mail_folder'" in near.stderr


def test_actions_list_has_headers_and_filters() -> None:
    result = cli("actions", "list", "--group", "calendars", "--category", "read")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["KEY", "GROUP", "CATEGORY", "LABEL"]
    manifest = load_manifest()
    expected = {
        e.key for e in manifest.actions.values() if e["group"] == "calendars" and e["category"] == "read"
    }
    assert {line.split()[0] for line in lines[1:]} == expected
    assert {line.split()[1] for line in lines[1:]} == {"calendars"}
    sends = json.loads(cli("actions", "list", "--category", "send", "--json").stdout)
    assert sends and {row["category"] for row in sends} == {"send"}


def test_an_unknown_group_is_a_usage_error_listing_the_groups() -> None:
    result = cli("actions", "list", "--group", "nope")
    assert result.exit_code == 2
    assert "unknown group 'nope'" in result.stderr and "messages" in result.stderr


def test_data_sources_list_has_headers_and_shows_what_each_fills() -> None:
    lines = cli("data-sources", "list").stdout.splitlines()
    assert lines[0].split() == ["KEY", "LABEL", "FILLS"]
    folder = next(line for line in lines if line.startswith("select_mail_folder "))
    assert "folder_id" in folder


def test_docs_build_writes_the_reference_into_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "docs"
    result = cli("docs", "build", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(target / "README.md")
    assert stale_pages(load_manifest(), target) == []
    assert "## Send Message" in (target / "actions" / "messages.md").read_text(encoding="utf-8")


def _complete(words: str) -> list[str]:
    """What click's bash completion of the installed ``outlook-connector`` offers for ``words``."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("outlook-connector"))],
        env={
            **os.environ,
            "_OUTLOOK_CONNECTOR_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line.startswith("plain,")]


def test_shell_completion_offers_action_data_source_and_trigger_keys() -> None:
    manifest = load_manifest()
    assert set(_complete("outlook-connector run list_m")) == {
        k for k in manifest.actions if k.startswith("list_m")
    }
    assert "get_message" in _complete("outlook-connector actions describe get_")
    assert _complete("outlook-connector data-sources run select_mail") == ["select_mail_folder"]
    assert _complete("outlook-connector triggers poll poll") == ["poll_changes"]
    assert "docs" in _complete("outlook-connector d")


def test_every_command_module_is_reachable_through_the_lazy_root_group() -> None:
    import importlib
    import pkgutil

    import connector.cli
    from connector.cli._common import LAZY_COMMANDS

    for module in pkgutil.iter_modules(connector.cli.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"connector.cli.{module.name}")
    registered = set(main.commands)
    assert registered - set(LAZY_COMMANDS) == set(), "add these commands' modules to LAZY_COMMANDS"
    for modules in LAZY_COMMANDS.values():
        for name in modules:
            importlib.import_module(name)  # each named module exists


def test_run_imports_only_its_own_command_module() -> None:
    code = (
        "import sys; from click.testing import CliRunner; from connector.cli import main; "
        "CliRunner().invoke(main, ['run', '--help']); "
        "print(sorted(m for m in sys.modules if m.startswith('connector.cli.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.replace("'", '"')) == ["connector.cli._common", "connector.cli.actions"]
