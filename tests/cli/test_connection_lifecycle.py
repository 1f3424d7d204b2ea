"""`connections delete` and `connect` over a connection trigger instances use, run as processes.

Deleting disables the instances first; connecting over such a connection asks for --replace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connections.sandbox import sandbox_connection
from connector.store import DB_FILE_NAME, Store, TriggerInstance
from sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OUTLOOK_CONNECTOR_HOME": str(home)}
    env.pop("OUTLOOK_CONNECTOR_CONNECTION", None)
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _used_connection(home: Path, server: SandboxServer) -> list[str]:
    """Connection "work" (sandbox) with two trigger instances using it; their ids."""
    with Store(home / DB_FILE_NAME) as store:
        sandbox_connection(store, server.url, "delegated", name="work")
        instances = [TriggerInstance.new("poll_changes", "work", {}, {}, time.time()) for _ in range(2)]
        for instance in instances:
            store.save_trigger_instance(instance)
    return sorted(i.id for i in instances)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_deleting_a_used_connection_disables_its_instances_first(home: Path, server: SandboxServer) -> None:
    ids = _used_connection(home, server)
    deleted = cli(home, "connections", "delete", "work")
    assert deleted.returncode == 0, deleted.stderr
    assert all(i in deleted.stderr for i in ids)
    with Store(home / DB_FILE_NAME) as store:
        assert store.get_connection("work") is None
        assert store.list_trigger_instances() == []


def test_connecting_over_a_used_connection_asks_for_replace(home: Path, server: SandboxServer) -> None:
    ids = _used_connection(home, server)
    with Store(home / DB_FILE_NAME) as store:
        before = store.connection_revision("work")
    asked = _one_line_error(cli(home, "connect", "work", "--sandbox", server.url))
    assert "--replace" in asked and ids[0] in asked
    with Store(home / DB_FILE_NAME) as store:
        assert store.connection_revision("work") == before

    replaced = cli(home, "connect", "work", "--sandbox", server.url, "--replace")
    assert replaced.returncode == 0, replaced.stderr
    with Store(home / DB_FILE_NAME) as store:
        assert store.connection_revision("work") not in (None, before)
        assert sorted(i.id for i in store.list_trigger_instances()) == ids


def test_deleting_an_unknown_connection_suggests_the_nearest(home: Path, server: SandboxServer) -> None:
    _used_connection(home, server)
    line = _one_line_error(cli(home, "connections", "delete", "wrok"))
    assert "did you mean 'work'?" in line


def test_connect_takes_the_v1_url_the_sandbox_prints(home: Path, server: SandboxServer) -> None:
    connected = cli(home, "connect", "printed", "--sandbox", server.url + "/v1.0/")
    assert connected.returncode == 0, connected.stderr
    tested = cli(home, "connections", "test", "printed")
    assert tested.returncode == 0, tested.stderr


def test_connections_test_of_a_shared_mailbox_uses_what_its_permissions_allow(
    home: Path, server: SandboxServer
) -> None:
    """Mail.Read.Shared but no directory permission: reading the mailbox's user would be a 403."""
    from connections.authorization import authorize_headless
    from connections.registry import create_connection
    from connections.sandbox import sandbox_config
    from sandbox import seed

    config = sandbox_config(server.url, "delegated").model_copy(
        update={
            "scopes": "openid profile offline_access User.Read Mail.Read Mail.Read.Shared",
            "default_mailbox": seed.SHARED_MAILBOX,
        }
    )
    with Store(home / DB_FILE_NAME) as store:
        tokens = authorize_headless(config, seed.DEFAULT_USER, connection="support")
        create_connection(store, "support", "oauth2_code", config, tokens=tokens)
    tested = cli(home, "connections", "test", "support")
    assert tested.returncode == 0, tested.stderr
    assert json.loads(tested.stdout)["acts_as"] == seed.SHARED_MAILBOX
    listed = {row["name"]: row for row in json.loads(cli(home, "connections", "list", "--json").stdout)}
    assert listed["support"]["status"] == "healthy" and "health" not in listed["support"]
