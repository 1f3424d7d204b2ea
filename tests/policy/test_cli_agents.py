"""The CLI is a caller like any other: `run` obeys the stored policy and is audited; `policy`,
`approvals` and `audit` show and change what the runtime enforces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connections.sandbox import sandbox_connection
from connector.cli import main
from connector.store import Store
from sandbox import seed
from sandbox.server import SandboxServer

OTHER = next(u["userPrincipalName"] for u in seed.USERS if u["userPrincipalName"] != seed.DEFAULT_USER)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    with Store(tmp_path / "state.db") as store:
        sandbox_connection(store, sandbox.url, "delegated", name="work")
    return tmp_path


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_policy_show_and_set_per_connection_with_a_default(home: Path) -> None:
    shown = json.loads(cli("policy", "show", "--json").stdout)
    assert shown["source"] == "the built-in default" and shown["categories"]["send"] == "approve"
    changed = cli("policy", "set", "draft=allow", "send_message=disabled")
    assert changed.exit_code == 0, changed.stderr
    assert json.loads(changed.stdout)["overrides"] == {"send_message": "disabled"}
    inherited = json.loads(cli("policy", "show", "--json", "-c", "work").stdout)  # no policy of its own
    assert inherited["categories"]["draft"] == "allow" and inherited["source"] == "the stored default"
    work = cli("policy", "set", "--connection", "work", "--preset", "read_only")
    assert json.loads(work.stdout)["source"] == "connection 'work'"
    unknown = cli("policy", "show", "--json", "-c", "wrok")
    assert unknown.exit_code == 2 and "did you mean 'work'?" in unknown.stderr
    text = cli("policy", "show", "--connection", "work").stdout
    assert "draft       disabled" in text and "Create or change items" in text
    bad = cli("policy", "set", "draft=allow", "mail=allow")
    assert bad.exit_code == 2 and "unknown category or action 'mail'" in bad.stderr
    assert cli("policy", "set", "send_message=maybe").exit_code == 2
    assert json.loads(cli("policy", "show", "--json").stdout)["overrides"] == {"send_message": "disabled"}
    assert cli("policy", "set", "--connection", "work", "--reset").exit_code == 0
    assert json.loads(cli("policy", "show", "--json", "-c", "work").stdout)["source"] == "the stored default"


def test_run_obeys_the_policy_and_the_approval_flow_is_audited(home: Path, sandbox: SandboxServer) -> None:
    refused = cli("run", "delete_message", "-c", "work", "-i", '{"message_id": "AAMk1"}')
    assert refused.exit_code == 1 and "disabled by the policy" in refused.stderr
    message = json.dumps({"to": [OTHER], "subject": "From the CLI", "body": "Hello"})
    pending = cli("run", "send_message", "-c", "work", "-i", message)
    assert pending.exit_code == 1 and "needs approval" in pending.stderr
    [listed] = json.loads(cli("approvals", "list", "--json").stdout)
    assert OTHER in listed["summary"] and listed["status"] == "pending"
    denied_other = cli("approvals", "deny", "apr_nope")
    assert denied_other.exit_code == 2 and "no approval 'apr_nope'" in denied_other.stderr
    mistyped = cli("approvals", "approve", listed["id"][:-1] + "#")
    assert mistyped.exit_code == 2 and f"did you mean {listed['id']!r}?" in mistyped.stderr
    assert cli("approvals", "approve", listed["id"]).exit_code == 0
    sent = cli("run", "send_message", "-c", "work", "-i", message, "--approval", listed["id"])
    assert sent.exit_code == 0, sent.stderr
    mailbox = sandbox.state.mailbox_by_address(OTHER)
    assert mailbox is not None
    assert [m["subject"] for m in mailbox.messages_in(mailbox.well_known["inbox"])].count("From the CLI") == 1

    lines = cli("audit", "--connection", "work", "--since", "1h").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["action"], r["decision"], r["outcome"]) for r in records] == [
        ("delete_message", "disabled", "refused"),
        ("send_message", "approval_required", "refused"),
        ("send_message", "approved", "ok"),
    ]
    assert {r["caller"] for r in records} == {"cli"} and records[2]["recipients"] == 1
    assert records[2]["approved_by"].endswith("(CLI)")
    only = cli("audit", "--action", "delete_message").stdout.splitlines()
    assert len(only) == 1
    assert cli("audit", "--since", "2999-01-01").stdout == ""
    assert cli("audit", "--since", "yesterday").exit_code == 2
