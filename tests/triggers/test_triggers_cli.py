"""The trigger commands: ``triggers listen`` as a real process (the README's command, and against a
sandbox of the test with clean-up on exit), and enable / list / renew / disable in process."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from click.testing import CliRunner, Result

from connections.sandbox import sandbox_connection
from connector.cli import main
from connector.store import Store
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.support.sandbox import delegated_token
from triggers.worker import Receiver

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # bounded waits on a process's output lines (a loaded machine starts Python slowly)


class Process:
    """A CLI process whose stdout and stderr lines are read by threads into queues."""

    def __init__(self, args: list[str], home: Path) -> None:
        env = {**os.environ, "OUTLOOK_CONNECTOR_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        env.pop("OUTLOOK_CONNECTOR_CONNECTION", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr: queue.Queue[str] = queue.Queue()
        self.stderr_seen: list[str] = []
        for stream, into in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=self._pump, args=(stream, into), daemon=True).start()

    @staticmethod
    def _pump(stream: IO[str] | None, into: queue.Queue[str]) -> None:
        assert stream is not None
        for line in stream:
            into.put(line.rstrip("\n"))

    def stderr_line(self, starts: str) -> str:
        """The next stderr line starting with ``starts`` (waits at most WAIT seconds)."""
        while True:
            try:
                line = self.stderr.get(timeout=WAIT)
            except queue.Empty:
                raise AssertionError(f"no {starts!r} line; stderr so far: {self.stderr_seen}") from None
            self.stderr_seen.append(line)
            if line.startswith(starts):
                return line

    def event(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.stdout.get(timeout=WAIT)))
        except queue.Empty:
            raise AssertionError(f"no event line; stderr: {self.stderr_seen}") from None

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=WAIT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    monkeypatch.delenv("OUTLOOK_CONNECTOR_PUBLIC_URL", raising=False)
    return tmp_path


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    config = SandboxConfig(messages_per_user=10, notification_interval=0.0, http_notification_urls=True)
    with SandboxServer(config) as running:
        yield running


def _create_message(graph_url: str, base_url: str, subject: str) -> dict[str, Any]:
    token = delegated_token(base_url)
    answer = httpx.post(
        f"{graph_url}/me/mailFolders/inbox/messages",
        json={"subject": subject},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_listen_with_a_sandbox_prints_each_change_as_a_json_line(home: Path) -> None:
    listener = Process(
        ["triggers", "listen", "mail_message_webhook", "--input", '{"folder_id":"inbox"}', "--sandbox"], home
    )
    try:
        graph_url = listener.stderr_line("sandbox: ").removeprefix("sandbox: ")
        listener.stderr_line("listening: ")
        message = _create_message(graph_url, graph_url.removesuffix("/v1.0"), "seen by listen")
        event = listener.event()  # the sandbox's own delivery thread POSTs it (every 0.5 s)
        assert (event["change_type"], event["resource_id"]) == ("created", message["id"])
        assert event["resource"]["subject"] == "seen by listen" and event["source"] == "webhook"
        assert listener.interrupt() == 0
        assert any("disabled" in line for line in listener.stderr_seen + _drain(listener.stderr))
    finally:
        listener.kill()


def _drain(lines: queue.Queue[str]) -> list[str]:
    drained = []
    while not lines.empty():
        drained.append(lines.get_nowait())
    return drained


def test_listen_disables_its_instance_on_exit_unless_kept(home: Path, server: SandboxServer) -> None:
    with Store(home / "state.db") as store:
        sandbox_connection(store, server.url, "app", name="graph")
    hub = server.state.subscriptions
    for keep in (False, True):
        args = ["triggers", "listen", "mail_message_webhook", "-i", '{"folder_id":"inbox"}', "-c", "graph"]
        listener = Process(args + (["--keep"] if keep else []), home)
        try:
            listener.stderr_line("listening: ")
            [subscription] = hub.list()
            assert subscription["notificationUrl"].startswith("http://127.0.0.1:")
            message = _create_message(server.graph_url, server.url, f"keep={keep}")
            assert hub.deliver_pending() == 1
            assert listener.event()["resource_id"] == message["id"]
            assert listener.interrupt() == 0
        finally:
            listener.kill()
        assert len(hub.list()) == (1 if keep else 0)
    with Store(home / "state.db") as store:
        assert [i.trigger_key for i in store.list_trigger_instances()] == ["mail_message_webhook"]


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_enable_list_renew_disable(home: Path, server: SandboxServer) -> None:
    with Store(home / "state.db") as store:
        sandbox_connection(store, server.url, "delegated", name="me")
        with Receiver(store) as receiver:
            enabled = cli(
                "triggers", "enable", "mail_message_webhook", "-i", '{"folder_id":"inbox"}',
                "--public-url", receiver.url,
            )  # fmt: skip
            assert enabled.exit_code == 0, enabled.stderr
            instance = json.loads(enabled.stdout)
            assert instance["trigger"] == "mail_message_webhook" and instance["status"] == "active"
            assert "client_state" not in enabled.stdout and "secrets" not in instance

            # healthy at once: its subscription and cursor exist
            listed = json.loads(cli("triggers", "list", "--json").stdout)
            assert [(r["id"], r["health"]) for r in listed] == [(instance["id"], "healthy")]
            [subscription] = server.state.subscriptions.list()
            assert listed[0]["subscriptions"][0]["id"] == subscription["id"]

            renewed = cli("triggers", "renew", "--margin-hours", "100")
            assert renewed.exit_code == 0, renewed.stderr
            assert json.loads(renewed.stdout)["renewed"] == [subscription["id"]]

            server.state.subscriptions.expire(subscription["id"])
            recreated = json.loads(cli("triggers", "renew", "--margin-hours", "100").stdout)
            assert len(recreated["recreated"]) == 1

            disabled = cli("triggers", "disable", instance["id"])
            assert disabled.exit_code == 0, disabled.stderr
            assert server.state.subscriptions.list() == []
            assert json.loads(cli("triggers", "list", "--json").stdout) == []
            again = cli("triggers", "disable", instance["id"])
            assert again.exit_code == 2 and "no trigger instance" in again.stderr


def test_enable_needs_a_public_url_and_valid_input(home: Path, server: SandboxServer) -> None:
    with Store(home / "state.db") as store:
        sandbox_connection(store, server.url, "delegated", name="me")
    missing = cli("triggers", "enable", "mail_message_webhook", "-i", '{"folder_id":"inbox"}')
    assert missing.exit_code == 2 and "--public-url" in missing.stderr
    bad = cli(
        "triggers",
        "enable",
        "mail_message_webhook",
        "-i",
        '{"folder_id": 7}',
        "--public-url",
        "http://127.0.0.1:9",
    )
    assert bad.exit_code == 2 and "folder_id" in bad.stderr
    assert server.state.subscriptions.list() == []


def test_serve_receives_processes_and_prints(home: Path, server: SandboxServer) -> None:
    with Store(home / "state.db") as store:
        sandbox_connection(store, server.url, "delegated", name="me")
    serving = Process(["serve", "--port", "0"], home)
    try:
        url = serving.stderr_line("receiving trigger notifications at ").rsplit(" at ", 1)[1].split()[0]
        enabled = cli(
            "triggers", "enable", "mail_message_webhook", "-i", '{"folder_id":"inbox"}', "--public-url", url
        )
        assert enabled.exit_code == 0, enabled.stderr
        message = _create_message(server.graph_url, server.url, "served")
        assert server.state.subscriptions.deliver_pending() == 1
        event = serving.event()
        assert (event["resource_id"], event["instance_id"]) == (
            message["id"],
            json.loads(enabled.stdout)["id"],
        )
        assert serving.interrupt() == 0
    finally:
        serving.kill()
    assert len(server.state.subscriptions.list()) == 1  # serve leaves instances enabled


def test_worker_processes_what_another_process_received(home: Path, server: SandboxServer) -> None:
    with Store(home / "state.db") as store:
        sandbox_connection(store, server.url, "app", name="graph")
        with Receiver(store) as receiver:  # stands for gunicorn 'connector.webhooks:create_app()'
            enabled = cli(
                "triggers", "enable", "mail_message_webhook", "-i", '{"folder_id":"inbox"}',
                "--public-url", receiver.url,
            )  # fmt: skip
            assert enabled.exit_code == 0, enabled.stderr
            message = _create_message(server.graph_url, server.url, "queued elsewhere")
            assert server.state.subscriptions.deliver_pending() == 1
            assert store.pending_notification_count() == 1
            worker = Process(["triggers", "worker"], home)
            try:
                worker.stderr_line("trigger worker running")
                assert worker.event()["resource_id"] == message["id"]
                assert worker.interrupt() == 0
            finally:
                worker.kill()
            assert store.pending_notification_count() == 0


def test_enable_without_a_connection_starts_no_sandbox(home: Path) -> None:
    refused = cli("triggers", "enable", "mail_message_webhook", "--public-url", "http://127.0.0.1:9")
    assert refused.exit_code == 2 and "no connection configured" in refused.stderr
