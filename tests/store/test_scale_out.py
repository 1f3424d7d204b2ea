"""Many machines: 3 receivers and 3 workers as separate processes, each with its own working
directory and home, sharing only PostgreSQL. 10,000 notifications for 200 trigger instances are
POSTed as Graph would (retrying a POST that failed or got no answer on another receiver); one
receiver and one worker are killed with SIGKILL mid-run. Every accepted item must be delivered
exactly once (nothing lost, nothing twice, nothing that was never sent), the queue must end
empty, and no instance may be renewed twice in one window while the workers renew them."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.store import Store, TriggerInstance

ROOT = Path(__file__).resolve().parents[2]
INSTANCES = 200
PER_INSTANCE = 50  # 10,000 notifications
PER_POST = 10


class Node:
    """A node process; its stdout lines are collected by a thread."""

    def __init__(self, args: list[str], env: dict[str, str], home: Path) -> None:
        home.mkdir(parents=True)
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.store.scale_node", *args],
            cwd=home,
            env={**env, "OUTLOOK_CONNECTOR_HOME": str(home), "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        self.first = self.process.stdout.readline().strip()  # "port N" or "ready"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        self._reader.join(30)


@pytest.fixture
def nodes() -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for node in started:
        if node.process.poll() is None:
            node.kill()


def _items(instance_id: str, secret: str) -> list[dict[str, Any]]:
    return [
        {"changeType": "created", "clientState": secret, "resource": f"{instance_id}/m{n}"}
        for n in range(PER_INSTANCE)
    ]


def test_three_receivers_and_three_workers_share_only_postgresql(
    postgres_url: str, tmp_path: Path, nodes: list[Node]
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OUTLOOK_CONNECTOR_STORE": postgres_url,
        "OUTLOOK_CONNECTOR_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    os.environ["OUTLOOK_CONNECTOR_KEY"] = env["OUTLOOK_CONNECTOR_KEY"]
    try:
        store = Store(postgres_url)
        bodies: list[tuple[str, list[dict[str, Any]]]] = []
        for _ in range(INSTANCES):
            instance = TriggerInstance.new("webhook", "work", {}, {}, store.clock())
            store.save_trigger_instance(instance)
            items = _items(instance.id, instance.client_state)
            bodies += [(instance.id, items[k : k + PER_POST]) for k in range(0, PER_INSTANCE, PER_POST)]
        sent = {item["resource"] for _, items in bodies for item in items}
        assert len(sent) == INSTANCES * PER_INSTANCE

        receivers = [Node(["receiver"], env, tmp_path / f"receiver-{n}") for n in range(3)]
        workers = [Node(["worker", f"worker-{n}"], env, tmp_path / f"worker-{n}") for n in range(3)]
        nodes += receivers + workers
        ports = [int(node.first.split()[1]) for node in receivers]
        assert [node.first for node in workers] == ["ready"] * 3

        alive = list(range(3))
        accepted: list[str] = []
        retried = Counter[str]()
        guard = threading.Lock()
        clients = threading.local()

        def post(index: int) -> None:
            instance_id, items = bodies[index]
            if not hasattr(clients, "client"):
                clients.client = httpx.Client(timeout=10.0)
            client: httpx.Client = clients.client
            for attempt in range(50):  # Graph retries a POST that failed, on any receiver
                targets = list(alive)
                port = ports[targets[(index + attempt) % len(targets)]]
                try:
                    answer = client.post(
                        f"http://127.0.0.1:{port}/hooks/{instance_id}/notifications", json={"value": items}
                    )
                except httpx.TransportError:
                    retried["no answer"] += 1
                    continue
                if answer.status_code == 202:
                    with guard:
                        accepted.extend(item["resource"] for item in items)
                    return
                retried[str(answer.status_code)] += 1
            raise AssertionError(f"POST {index} was never accepted")

        started = time.monotonic()
        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(post, index) for index in range(len(bodies))]
            for done, future in enumerate(futures):
                future.result(timeout=120)
                if done == len(bodies) // 3:
                    receivers[0].kill()  # mid-run: its in-flight POSTs fail and go elsewhere
                    alive.remove(0)
                if done == len(bodies) // 2:
                    workers[0].kill()  # mid-run: its claimed rows come back when their lease ends
        posting = time.monotonic() - started

        # a POST whose answer was lost is sent again: its items may be accepted twice (and queued
        # twice), never lost
        assert set(accepted) == sent
        with Store(postgres_url) as checker:
            deadline_rounds = 600
            while checker.pending_notification_count() and deadline_rounds:
                checker.wait_for_notifications(0.2)  # the survivors drain what is left
                deadline_rounds -= 1
            assert checker.pending_notification_count() == 0
            draining = time.monotonic() - started - posting
            with checker.read() as db:
                delivered = [
                    row[0] for row in db.execute("SELECT dedupe_key FROM trigger_delivered").fetchall()
                ]
                renewals = db.execute("SELECT key FROM kv WHERE namespace = 'renewals'").fetchall()

        # every accepted item delivered exactly once, and nothing that was not sent
        assert len(delivered) == len(set(delivered)) == len(sent) and set(delivered) == sent
        finished = [line.split() for node in workers for line in node.lines if line.startswith("done ")]
        seqs = [fields[1] for fields in finished]
        assert len(seqs) == len(set(seqs))  # no queue row finished by two workers
        newly = [fields[2] for fields in finished if fields[3] == "1"]
        assert len(newly) == len(set(newly))  # no item marked delivered twice
        assert {fields[2] for fields in finished} <= sent
        survivors = [Counter(line.split()[0] for line in node.lines) for node in workers[1:]]
        assert all(count["done"] > 0 for count in survivors)  # both survivors took part

        # renewals: never twice in one window, spread across the workers
        assert not [line for node in workers for line in node.lines if line.startswith("double")]
        renewed = Counter(
            line.split()[1] for node in workers for line in node.lines if line.startswith("renewed")
        )
        assert len(renewed) == INSTANCES and len(renewals) >= INSTANCES
        by_worker = [sum(1 for line in node.lines if line.startswith("renewed")) for node in workers]
        assert sum(1 for count in by_worker if count) >= 2
        print(
            f"\nscale-out: {len(sent)} sent, {len(accepted)} accepted ({dict(retried)} retried),"
            f" {len(delivered)} delivered once, {len(finished)} rows finished in the workers' logs,"
            f" renewals {sum(by_worker)} by worker {by_worker}; posting {posting:.1f} s,"
            f" draining after {draining:.1f} s"
        )
        store.close()
    finally:
        os.environ.pop("OUTLOOK_CONNECTOR_KEY", None)
