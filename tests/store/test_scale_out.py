"""Many machines: 3 receivers and 3 workers as separate processes, each with its own working
directory and home, sharing only PostgreSQL (and calling one sandbox as their Graph). The workers
are the real trigger worker (``TriggerService`` + ``Worker``, events into the store's outbox,
renewals by ``renew_due`` under leases: ``scale_node``). 10,000 notifications for 200 trigger
instances are POSTed as Graph would (retrying a POST that failed or got no answer on another
receiver); one receiver and one worker (once it has renewed some instances) are killed with
SIGKILL mid-run, while a host follows the outbox with its cursor. Every accepted item must be
delivered exactly once (nothing lost, nothing twice, nothing that was never sent), the queue must
end empty, and Graph must see each instance's subscription renewed, never twice in one window."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from actions._subscriptions import parse_graph_time
from connector.store import Store, TriggerInstance
from sandbox import seed
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.store.scale_node import renew_margin

ROOT = Path(__file__).resolve().parents[2]
INSTANCES = 200
PER_INSTANCE = 50  # 10,000 notifications
PER_POST = 10
WATCH = {"folder_id": "inbox", "change_types": ["deleted"]}


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
            stderr=open(home / "stderr.log", "w"),  # noqa: SIM115  (the process keeps it open)
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


def _items(instance: TriggerInstance) -> list[dict[str, Any]]:
    """Graph's notifications of deleted messages of the instance's subscription (delivered as they
    are: a deletion needs no read of the item)."""
    subscription_id = instance.state["watches"][0]["subscription_id"]
    return [
        {
            "subscriptionId": subscription_id,
            "changeType": "deleted",
            "clientState": instance.client_state,
            "resource": f"Users/{seed.USERS[0]['id']}/Messages/m{n}",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Message", "id": f"m{n}"},
            "tenantId": seed.TENANT_ID,
        }
        for n in range(PER_INSTANCE)
    ]


class Host:
    """A host sharing the database: follows the outbox with its own cursor while workers write."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.seen: list[tuple[str, str]] = []
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        after = 0
        while True:
            stopping = self.stop.is_set()  # one more read after the workers are done
            rows = self.store.read_trigger_events(after, 1000)
            self.seen += [(row.instance_id, str(row.event["resource_id"])) for row in rows]
            if rows:
                after = rows[-1].seq
            elif stopping:
                return
            else:
                self.store.wait_for_notifications(0.2)

    def finish(self) -> list[tuple[str, str]]:
        self.stop.set()
        self._thread.join(60)
        return self.seen


def _sandbox() -> SandboxServer:
    return SandboxServer(
        SandboxConfig(
            http_notification_urls=True,  # the receivers are local http
            messages_per_user=3,
            notification_interval=0.0,  # no changes in the mailbox: Graph sends nothing itself
            # what is tested is delivery and renewal; the 200 instances watch one mailbox, whose
            # per-mailbox limits would only slow the workers down with 429s
            max_concurrent=32,
            requests_per_window=1_000_000,
        )
    ).start()


def _enable(store: Store, sandbox_url: str, public_url: str) -> list[TriggerInstance]:
    from connections.sandbox import sandbox_connection
    from connector.runtime import Runtime
    from triggers.delivery import CallbackDelivery
    from triggers.service import TriggerService

    connection = sandbox_connection(store, sandbox_url, "app", name="work")
    runtime = Runtime(store=store)
    service = TriggerService(store, runtime, CallbackDelivery(print), public_url=public_url)
    with ThreadPoolExecutor(4) as pool:
        made = list(
            pool.map(
                lambda _: service.enable("mail_message_webhook", connection.name, WATCH), range(INSTANCES)
            )
        )
    runtime.close()
    return made


def _until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) until another process reached a state: not a timing."""
    pause = threading.Event()
    for _ in range(6000):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError("the condition never held")


def _whole_outbox(store: Store) -> list[tuple[str, str]]:
    """(instance id, item id) of every outbox event, in order."""
    found: list[tuple[str, str]] = []
    after = 0
    while rows := store.read_trigger_events(after, 5000):
        found += [(row.instance_id, str(row.event["resource_id"])) for row in rows]
        after = rows[-1].seq
    return found


def _renewals(sandbox: SandboxServer) -> dict[str, list[tuple[float, float]]]:
    """Subscription id -> (arrival time, expiry asked for) of each renewal Graph answered 200."""
    found: dict[str, list[tuple[float, float]]] = {}
    for record in list(sandbox.state.request_log):
        if (
            record.method == "PATCH"
            and record.path.startswith("/v1.0/subscriptions/")
            and record.status == 200
        ):
            expiry = parse_graph_time(str(record.body["expirationDateTime"])).timestamp()
            found.setdefault(record.path.rsplit("/", 1)[1], []).append((record.time, expiry))
    return found


def test_three_receivers_and_three_workers_share_only_postgresql(
    postgres_url: str, tmp_path: Path, nodes: list[Node]
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "OUTLOOK_CONNECTOR_STORE": postgres_url,
        "OUTLOOK_CONNECTOR_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    os.environ["OUTLOOK_CONNECTOR_KEY"] = env["OUTLOOK_CONNECTOR_KEY"]
    sandbox = _sandbox()
    try:
        store = Store(postgres_url)
        receivers = [Node(["receiver"], env, tmp_path / f"receiver-{n}") for n in range(3)]
        nodes += receivers
        ports = [int(node.first.split()[1]) for node in receivers]
        # Graph validates each new subscription's URL on a receiver that will stay up
        instances = _enable(store, sandbox.url, f"http://127.0.0.1:{ports[2]}")
        created = {
            i.state["watches"][0]["subscription_id"]: i.state["watches"][0]["expires_at"] for i in instances
        }
        assert len(created) == INSTANCES
        bodies: list[tuple[str, list[dict[str, Any]]]] = []
        for instance in instances:
            items = _items(instance)
            bodies += [(instance.id, items[k : k + PER_POST]) for k in range(0, PER_INSTANCE, PER_POST)]
        sent = {(instance_id, item["resourceData"]["id"]) for instance_id, items in bodies for item in items}
        assert len(sent) == INSTANCES * PER_INSTANCE

        workers = [Node(["worker", f"worker-{n}"], env, tmp_path / f"worker-{n}") for n in range(3)]
        nodes += workers
        assert [node.first for node in workers] == ["ready"] * 3
        host = Host(Store(postgres_url))

        alive = list(range(3))
        accepted: list[tuple[str, str]] = []
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
                        accepted.extend((instance_id, item["resourceData"]["id"]) for item in items)
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
                    # mid-run, once it takes part in renewals too: its claimed rows come back when
                    # their lease ends, its renewal leases when theirs do
                    _until(lambda: any(line.startswith("renewed ") for line in workers[0].lines))
                    workers[0].kill()
                    pending_at_kill = store.pending_notification_count()
        posting = time.monotonic() - started
        assert pending_at_kill > 0

        # a POST whose answer was lost is sent again: its items may be accepted twice (and queued
        # twice), never lost
        assert set(accepted) == sent
        with Store(postgres_url) as checker:
            for _ in range(600):  # the survivors drain what is left (bounded: a NOTIFY or 0.2 s each)
                if checker.pending_notification_count() == 0:
                    break
                checker.wait_for_notifications(0.2)
            assert checker.pending_notification_count() == 0
            draining = time.monotonic() - started - posting
            for _ in range(600):  # and Graph sees every subscription renewed at least once
                if set(_renewals(sandbox)) == set(created):
                    break
                checker.wait_for_notifications(0.2)
            with checker.read() as db:
                delivered = db.execute("SELECT COUNT(*) FROM trigger_delivered").fetchone()[0]
            outbox = _whole_outbox(checker)
        followed = host.finish()

        # every accepted item delivered exactly once, and nothing that was not sent: in the outbox,
        # and as the host read it with its cursor while the workers were writing
        assert len(outbox) == len(set(outbox)) == len(sent) and set(outbox) == sent
        assert followed == outbox
        assert delivered == len(sent)

        # renewals as Graph saw them: every subscription renewed, each renewal of a subscription
        # that was due (its remaining lifetime within the renewal margin): a second renewal in the
        # same window would find the lifetime the first one just extended (days more)
        margin = renew_margin().total_seconds()
        renewals = _renewals(sandbox)
        assert set(renewals) == set(created)
        doubles = []
        for subscription_id, patches in renewals.items():
            expires = created[subscription_id]
            for arrived, asked in sorted(patches):
                if expires - arrived > margin + 1.0:  # 1 s: Graph's time format rounds
                    doubles.append((subscription_id, expires - arrived))
                expires = asked
        assert doubles == []
        by_worker = [sum(1 for line in node.lines if line.startswith("renewed ")) for node in workers]
        assert all(by_worker)  # spread across the workers, the killed one before it died
        print(
            f"\nscale-out: {len(sent)} sent, {len(accepted)} accepted ({dict(retried)} retried),"
            f" {len(outbox)} delivered once (outbox; the host following it read {len(followed)}),"
            f" renewals {sum(len(p) for p in renewals.values())} seen by Graph"
            f" ({sum(by_worker)} reported, by worker {by_worker}), none twice in a window;"
            f" posting {posting:.1f} s ({pending_at_kill} rows queued when the worker was killed),"
            f" draining after {draining:.1f} s"
        )
        store.close()
    finally:
        sandbox.stop()
        os.environ.pop("OUTLOOK_CONNECTOR_KEY", None)
