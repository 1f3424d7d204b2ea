"""Graph's 4 concurrent requests per app + mailbox, held by two separate processes (two "machines"
sharing only the store), each with its own GraphClient and 8 threads on one mailbox.

A server in the test stands for Graph: it counts the requests in flight per mailbox and holds
each one until the test lets one go, so the counts are exact and nothing depends on timing. With
the shared pool the server never sees more than 4 at once, through 16 requests let go one by one;
with the per-process limit only (SQLite's default) it sees 8."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connector.store.slots import SHARED_LIMITS_ENV

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8
WAIT = 60.0  # bounds every wait on a condition; never reached when the code is right


class Graph:
    """Requests in flight (now, peak) and finished, per mailbox; each held until ``let_go``."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.done = 0
        self._go = threading.Semaphore(0)

    def arrive(self, mailbox: str) -> None:
        with self.changed:
            self.now[mailbox] = self.now.get(mailbox, 0) + 1
            self.peak[mailbox] = max(self.peak.get(mailbox, 0), self.now[mailbox])
            self.changed.notify_all()
        self._go.acquire(timeout=WAIT)
        with self.changed:  # before the answer is written: the client holds its slot until it has it
            self.now[mailbox] -= 1
            self.done += 1
            self.changed.notify_all()

    def let_go(self, count: int = 1) -> None:
        self._go.release(count)

    def wait_until(self, test: object) -> bool:
        with self.changed:
            return self.changed.wait_for(test, WAIT)  # type: ignore[arg-type]


@pytest.fixture
def graph() -> Iterator[tuple[Graph, str]]:
    state = Graph()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = self.path.split("/")  # /v1.0/users/<mailbox>/messages
            state.arrive(parts[3].lower() if len(parts) > 3 and parts[2] == "users" else "")
            body = b'{"value": []}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}/v1.0"
    state.let_go(1000)
    server.shutdown()
    server.server_close()


def start_nodes(
    location: str, base_url: str, shared: str | None, tmp_path: Path
) -> list[subprocess.Popen[str]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "OUTLOOK_CONNECTOR_STORE": location,
    }
    if shared is not None:
        env[SHARED_LIMITS_ENV] = shared
    nodes = []
    for n in range(2):
        home = tmp_path / f"node-{n}"
        home.mkdir()
        node = subprocess.Popen(
            [sys.executable, "-m", "tests.store.limits_node", base_url, str(THREADS)],
            cwd=home,
            env={**env, "OUTLOOK_CONNECTOR_HOME": str(home)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert node.stdout is not None
        assert node.stdout.readline().strip() == "ready", node.stderr.read() if node.stderr else ""
        nodes.append(node)
    for node in nodes:  # both send at once
        assert node.stdin is not None
        node.stdin.write("go\n")
        node.stdin.flush()
    return nodes


def finish(nodes: list[subprocess.Popen[str]]) -> list[str]:
    lines: list[str] = []
    for node in nodes:
        out, err = node.communicate(timeout=WAIT)
        assert node.returncode == 0, err
        lines += out.split()
    return lines


def test_two_processes_never_have_more_than_four_in_flight_for_one_mailbox(
    location: str, graph: tuple[Graph, str], tmp_path: Path
) -> None:
    """PostgreSQL shares the limit by default; SQLite (two processes on one machine) when
    OUTLOOK_CONNECTOR_SHARED_LIMITS=1."""
    server, base_url = graph
    total = 2 * THREADS
    nodes = start_nodes(location, base_url, None if "://" in location else "1", tmp_path)
    try:
        assert server.wait_until(lambda: server.now.get("alice@contoso.com", 0) == 4)
        for finished in range(1, total + 1):  # one at a time: every freed slot is taken again
            server.let_go()
            in_flight = min(4, total - finished)
            assert server.wait_until(
                lambda f=finished, n=in_flight: server.done == f and server.now["alice@contoso.com"] == n
            ), (finished, server.now)
    finally:
        server.let_go(total)
    assert finish(nodes) == ["ok"] * total
    assert server.peak == {"alice@contoso.com": 4}
    assert server.done == total


def test_without_the_shared_pool_two_processes_make_eight(graph: tuple[Graph, str], tmp_path: Path) -> None:
    """What the shared pool prevents: SQLite's default keeps the limit per process."""
    server, base_url = graph
    nodes = start_nodes(str(tmp_path / "state.db"), base_url, None, tmp_path)
    try:
        assert server.wait_until(lambda: server.now.get("alice@contoso.com", 0) == 2 * 4)
    finally:
        server.let_go(2 * THREADS)
    assert finish(nodes) == ["ok"] * 2 * THREADS
    assert server.peak == {"alice@contoso.com": 8}
