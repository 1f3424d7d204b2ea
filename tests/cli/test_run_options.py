"""``run`` options against a sandbox: --dry-run, --verbose, --example's input, --attach, --save."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connections.sandbox import sandbox_connection
from connector.cli import main
from connector.policy import PRESETS
from connector.store import Store
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.support.graph_conformance import CONTACTS_NOT_IN_OPENAPI

OTHER = "jordan.okafor@meridiantraders.onmicrosoft.com"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(messages_per_user=20)) as running:
        yield running


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: SandboxServer) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    with Store(tmp_path / "state.db") as store:
        sandbox_connection(store, server.url, "delegated", name="graph")
        store.set_policy(None, PRESETS["open"].to_dict())  # a sandbox: these tests are not about the policy
    return tmp_path


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _secrets(home: Path) -> list[str]:
    """The connection's access and refresh tokens, which no output may show."""
    with Store(home / "state.db") as store:
        tokens = store.load_tokens("graph") or {}
    found = [str(tokens[k]) for k in ("access_token", "refresh_token") if tokens.get(k)]
    assert found
    return found


def test_dry_run_shows_the_request_and_sends_nothing(home: Path, server: SandboxServer) -> None:
    before = len(server.state.request_log)
    payload = {"to": [OTHER], "subject": "not sent", "body": "x" * 500}
    result = cli("run", "send_message", "-c", "graph", "--dry-run", "--input", json.dumps(payload))
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["dry_run"] is True
    request = shown["request"]
    assert (request["method"], request["url"]) == ("POST", f"{server.graph_url}/me/sendMail")
    message = request["body"]["message"]
    assert message["subject"] == "not sent"
    assert message["toRecipients"] == [{"emailAddress": {"address": OTHER}}]
    assert "(500 characters)" in message["body"]["content"]  # long text is cut
    assert "authorization" not in {name.lower() for name in request.get("headers", {})}
    assert not [r for r in server.state.request_log[before:] if r.method == "POST"]
    for secret in _secrets(home):
        assert secret not in result.output


def test_dry_run_of_a_data_source(home: Path, server: SandboxServer) -> None:
    result = cli("data-sources", "run", "select_calendar", "-c", "graph", "--dry-run")
    assert result.exit_code == 0, result.stderr
    request = json.loads(result.stdout)["request"]
    assert request["method"] == "GET" and request["url"].startswith(f"{server.graph_url}/me/calendars")


def test_verbose_traces_each_request_without_secrets(home: Path, server: SandboxServer) -> None:
    result = cli("run", "get_current_user", "-c", "graph", "--verbose")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["userPrincipalName"]
    assert f"> GET {server.graph_url}/me" in result.stderr
    trace = [line for line in result.stderr.splitlines() if line.startswith("< 200 GET")]
    assert trace and "request-id" in trace[0]
    for secret in _secrets(home):
        assert secret not in result.output
    assert "Bearer" not in result.output


@CONTACTS_NOT_IN_OPENAPI  # the example's placeholders list a contact (GET /me/contacts?$top=1)
def test_example_prints_the_input_it_ran(home: Path) -> None:
    result = cli("run", "get_message", "--example")
    assert result.exit_code == 0, result.stderr
    line = next(line for line in result.stderr.splitlines() if line.startswith("input: "))
    ran = json.loads(line.removeprefix("input: "))
    assert ran["message_id"] == json.loads(result.stdout)["id"]  # the placeholder was filled


def test_attach_adds_files_and_save_writes_them_back(home: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 quarterly figures\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("see the figures", encoding="utf-8")
    draft = cli(
        "run",
        "create_draft",
        "-c",
        "graph",
        "--attach",
        str(report),
        "--attach",
        str(notes),
        "--input",
        json.dumps({"to": [OTHER], "subject": "with files"}),
    )
    assert draft.exit_code == 0, draft.stderr
    draft_id = json.loads(draft.stdout)["id"]
    listed = json.loads(
        cli("run", "list_attachments", "-c", "graph", "-i", json.dumps({"message_id": draft_id})).stdout
    )
    by_name = {a["name"]: a for a in listed["attachments"]}
    assert set(by_name) == {"report.pdf", "notes.txt"}
    assert by_name["report.pdf"]["contentType"] == "application/pdf"
    out = tmp_path / "saved"
    for _ in range(2):  # the second copy gets a free name
        got = cli(
            "run",
            "get_attachment",
            "-c",
            "graph",
            "--save",
            str(out),
            "-i",
            json.dumps({"message_id": draft_id, "attachment_id": by_name["report.pdf"]["id"]}),
        )
        assert got.exit_code == 0, got.stderr
    shown = json.loads(got.stdout)
    assert "contentBase64" not in shown
    assert shown["saved_to"] == str(out / "report (2).pdf")
    assert (out / "report.pdf").read_bytes() == report.read_bytes() == (out / "report (2).pdf").read_bytes()


def test_save_writes_a_mime_message_as_eml(home: Path, tmp_path: Path) -> None:
    first = json.loads(
        cli("run", "list_messages", "-c", "graph", "-i", '{"top": 1, "select": ["subject"]}').stdout
    )
    message = first["messages"][0]
    got = cli(
        "run",
        "get_message_mime",
        "-c",
        "graph",
        "--save",
        str(tmp_path),
        "-i",
        json.dumps({"message_id": message["id"]}),
    )
    assert got.exit_code == 0, got.stderr
    saved = Path(json.loads(got.stdout)["saved_to"])
    assert saved.parent == tmp_path and saved.suffix == ".eml"
    assert f"Subject: {message['subject']}" in saved.read_text(encoding="utf-8")


def test_attach_on_an_action_without_attachments_is_a_usage_error(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("x", encoding="utf-8")
    result = cli("run", "get_current_user", "-c", "graph", "--attach", str(path))
    assert result.exit_code == 2
    assert "takes no attachments" in result.stderr


def test_attach_base64_round_trip_in_the_input(home: Path, tmp_path: Path) -> None:
    from connector.cli._files import attach
    from connector.manifest import load_manifest

    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    schema = load_manifest().action("add_attachment").schema("input_schema")
    filled = attach(schema, {"message_id": "m"}, (path,))
    assert filled["attachment"]["name"] == "data.csv"
    assert base64.b64decode(filled["attachment"]["content_base64"]) == path.read_bytes()
    assert filled["attachment"]["content_type"] == "text/csv"
