"""`outlook-connector run KEY --example` works for every action of the manifest on a fresh sandbox.

Each run starts its own sandbox, fills the example's placeholders from its seeded mailbox, runs the
action through the runtime (input and output validated against the action's schemas) and prints JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.manifest import load_manifest
from tests.support.graph_conformance import CONTACTS_NOT_IN_OPENAPI

ACTION_KEYS = sorted(load_manifest().actions)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    return tmp_path


@CONTACTS_NOT_IN_OPENAPI  # every run looks up a contact for the {first_contact_id} placeholder
@pytest.mark.parametrize("key", ACTION_KEYS)
def test_every_action_runs_its_example_on_a_sandbox(home: Path, key: str) -> None:
    result = CliRunner().invoke(main, ["run", key, "--example"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    output = json.loads(result.stdout)
    recorded = json.loads(load_manifest().action(key).path("example_output").read_text(encoding="utf-8"))
    assert set(output) == set(recorded), "the output's fields differ from the recorded example's"


def test_example_refuses_an_input_of_its_own(home: Path) -> None:
    result = CliRunner().invoke(main, ["run", "list_messages", "--example", "--input", "{}"])
    assert result.exit_code != 0
    assert "--example runs on a sandbox" in result.stderr
