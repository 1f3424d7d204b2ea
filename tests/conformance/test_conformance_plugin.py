"""The Graph conformance plugin: which requests it sees, and what it does with invalid ones."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support import graph_docs
from tests.support.graph_conformance import GraphRequest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "1"})


def test_requests_of_every_transport_are_recorded_graph_ones_only(graph_requests: list[GraphRequest]) -> None:
    with httpx.Client(transport=httpx.MockTransport(_answer)) as client:
        client.get("https://graph.microsoft.com/v1.0/me/messages/A%2FB%3D", params={"$select": "subject"})
        client.post(
            "https://graph.microsoft.com/v1.0/me/sendMail",
            json={"message": {}},
            headers={"Authorization": "Bearer secret"},
        )
        client.post("http://127.0.0.1:1/tenant/oauth2/v2.0/token", data={"grant_type": "x"})
        client.get("http://127.0.0.1:1/_sandbox/requests")
        client.get("https://graph.microsoft.com/beta/me")
    assert [str(r) for r in graph_requests] == [
        "GET /v1.0/me/messages/A%2FB%3D?%24select=subject",
        "POST /v1.0/me/sendMail",
    ]
    sent = graph_requests[1]
    assert sent.json() == {"message": {}}
    assert "authorization" not in sent.headers  # credentials are never kept


def test_requests_replayed_by_vcrpy_are_recorded(graph_requests: list[GraphRequest], tmp_path: Path) -> None:
    """vcrpy 9 answers from the cassette inside its patched transport; the plugin hooks above it."""
    import vcr

    cassette = {
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "uri": "https://graph.microsoft.com/v1.0/me", "body": None,
                            "headers": {}},
                "response": {"status": {"code": 200, "message": "OK"},
                             "headers": {"Content-Type": ["application/json"]},
                             "body": {"string": '{"id": "1"}'}},
            }
        ],
    }  # fmt: skip
    path = tmp_path / "me.yaml"
    path.write_text(yaml.safe_dump(cassette), encoding="utf-8")
    with vcr.VCR(record_mode="none").use_cassette(str(path)) as played, httpx.Client() as client:
        assert client.get("https://graph.microsoft.com/v1.0/me").json() == {"id": "1"}
    assert played.play_count == 1
    assert [str(r) for r in graph_requests] == ["GET /v1.0/me"]


PLUGIN_TESTS = """
import httpx
import pytest

BAD = {"message": {"toRecipients": "fannyd@contoso.com"}}


def graph():
    return httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(202)))


def test_invalid_body():
    graph().post("https://graph.microsoft.com/v1.0/me/sendMail", json=BAD)


@pytest.mark.graph_nonconformant("sends an invalid body on purpose")
def test_marked():
    graph().post("https://graph.microsoft.com/v1.0/me/sendMail", json=BAD)


@pytest.mark.graph_nonconformant("only the sendMail one is on purpose", match="sendMail")
def test_marked_with_match():
    graph().post("https://graph.microsoft.com/v1.0/me/sendMail", json=BAD)
    graph().get("https://graph.microsoft.com/v1.0/me/messagez")


def test_valid():
    graph().get("https://graph.microsoft.com/v1.0/me/messages", params={"$top": "5"})
"""


def run_plugin(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_plugin_sample.py").write_text(textwrap.dedent(PLUGIN_TESTS), encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "tests.support.graph_conformance",
               "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "test_plugin_sample.py"]  # fmt: skip
    return subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)


@graph_docs.requires_openapi()
def test_invalid_requests_fail_their_test_at_teardown(tmp_path: Path) -> None:
    result = run_plugin(tmp_path, GRAPH_OPENAPI_DIR=str(graph_docs.openapi_dir()))
    out = result.stdout
    assert "4 passed, 2 errors" in out, out
    assert "ERROR at teardown of test_invalid_body" in out
    assert (
        "  POST /v1.0/me/sendMail (POST /users/{user-id}/microsoft.graph.sendMail):"
        " body.message.toRecipients: 'fannyd@contoso.com' is not of type 'array'"
    ) in out
    assert "ERROR at teardown of test_marked_with_match" in out
    assert "GET /v1.0/me/messagez: no operation in the Graph OpenAPI documents matches" in out
    assert "test_marked " not in out.split("short test summary")[-1]
    assert "graph conformance: 5 requests checked against OpenAPI, 2 distinct operations" in out
    assert "graph conformance: 2 invalid requests exempted by @pytest.mark.graph_nonconformant" in out


def test_without_the_documents_the_check_is_skipped_not_the_tests(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    result = run_plugin(tmp_path, GRAPH_OPENAPI_DIR=str(missing))
    assert "4 passed" in result.stdout and "error" not in result.stdout.lower(), result.stdout
    assert (
        f"graph conformance: not checked (Microsoft Graph documents not found at {missing};"
        " set GRAPH_OPENAPI_DIR)"
    ) in result.stdout


@pytest.mark.graph_nonconformant("checks that a marked test may send an invalid request")
def test_a_marked_test_may_send_invalid_requests() -> None:
    with httpx.Client(transport=httpx.MockTransport(_answer)) as client:
        client.put("https://graph.microsoft.com/v1.0/me/messages/1", json={})
