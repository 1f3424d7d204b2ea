"""`outlook-connector mcp` refuses a set-up it cannot serve safely before serving anything."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from connector.cli import main


def test_http_needs_a_callers_file_and_a_valid_one(home: Path, tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["mcp", "--http"])
    assert missing.exit_code == 2 and "no credential, no access" in missing.stderr
    bad = tmp_path / "callers.json"
    bad.write_text(json.dumps({"callers": [{"name": "alice", "key_sha256": "00" * 32}]}), encoding="utf-8")
    refused = CliRunner().invoke(main, ["mcp", "--http", "--callers", str(bad)])
    assert refused.exit_code == 2 and "callers[0].connection" in refused.stderr


def test_an_unknown_tool_set_is_named(home: Path) -> None:
    result = CliRunner().invoke(main, ["mcp", "--tools", "mail,everything"])
    assert result.exit_code == 2 and "unknown tool set 'everything'" in result.stderr
