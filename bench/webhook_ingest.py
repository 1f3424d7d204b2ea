"""Notification ingest throughput: our receiver under gunicorn vs a bare Flask 202 handler.

    .venv/bin/python bench/webhook_ingest.py [--requests 2000] [--rounds 5] [--clients 2] [--threads 4]
                                             [--workers 2] [--server-threads 4]

Two gunicorn servers with the same settings (2 gthread workers, 4 threads each, loopback):
- receiver: ``connector.webhooks:create_app()`` on a temporary store (OUTLOOK_CONNECTOR_HOME and
  OUTLOOK_CONNECTOR_KEY), one trigger instance: instance lookup, clientState checked in constant
  time, every accepted item made durable in the receiver's inbox (``connector.inbox``) before
  the 202;
- bare: ``bench.webhook_ingest:create_bare_app()``, a Flask route that reads the body and answers 202.

Client processes (``--clients``, each with ``--threads`` keep-alive connections) POST realistic
Graph message notification bodies, in batches of 1 and of 10 items. Rounds alternate between the
two servers; notifications/s medians over rounds and the ratio receiver/bare are printed per batch
size. Goal: the receiver keeps at least 70% of the bare handler's rate. The queue is emptied
before each round, as a running trigger processor keeps it short. After each receiver round this
script moves the inbox into the queue (``Store.absorb_inbox``, which the trigger processor runs
before each claim, after the 202s), prints that CPU cost per notification too, and checks that
every accepted item is in the queue. The gunicorn workers' CPU time per notification is printed
too: on a busy machine it varies less than the rates. The client shares the CPU
with the servers, equally for both, so compare ratios rather than absolute rates across machines.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, Response, request

INSTANCE = "BenchInstance0123456789abcdefgh"
CLIENT_STATE = "bench-client-state-" + "k" * 32
SERVER = ("--timeout", "60", "--keep-alive", "30", "--backlog", "2048")


def create_bare_app() -> Flask:
    """The baseline: same routes, reads the body, answers 202, stores nothing."""
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.post("/hooks/<instance_id>/notifications")
    def notifications(instance_id: str) -> Response:
        request.get_data()
        return Response(status=202)

    return app


def notification_body(batch: int, start: int) -> bytes:
    """A POST body as Graph sends it for message changes (basic notifications, no resource data)."""
    items = []
    for n in range(start, start + batch):
        message_id = f"AAMkAGI2TG93AGQ4LWY2ZTYtNGE3Mi1hNTBjLTRjNzIwZDY0NjA2ZABGAAAAAACvK0WtAAA{n:08d}="
        items.append(
            {
                "subscriptionId": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
                "subscriptionExpirationDateTime": "2026-11-25T18:23:45.9356913Z",
                "changeType": "created",
                "resource": f"Users/87d349ed-44d7-43e1-9a83-5f2406dee5bd/Messages/{message_id}",
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Message",
                    "@odata.id": f"Users/87d349ed-44d7-43e1-9a83-5f2406dee5bd/Messages/{message_id}",
                    "@odata.etag": 'W/"CQAAABYAAACQ2fKdhq8oSKEDSVrdi3lRAAAO2aPY"',
                    "id": message_id,
                },
                "clientState": CLIENT_STATE,
                "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
            }
        )
    return json.dumps({"value": items}).encode()


def _fire(url: str, bodies: list[bytes], threads: int, start_at: float) -> tuple[float, float, int]:
    """POST every body over ``threads`` keep-alive connections; (first start, last end, non-202s)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port
    failures = 0
    lock = threading.Lock()

    def worker(mine: list[bytes]) -> None:
        nonlocal failures
        connection = http.client.HTTPConnection(host, port, timeout=60)
        bad = 0
        headers = {"Content-Type": "application/json"}
        for body in mine:
            connection.request("POST", parts.path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                bad += 1
        connection.close()
        with lock:
            failures += bad

    chunks = [bodies[i::threads] for i in range(threads)]
    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    while time.monotonic() < start_at:  # every client process starts at the same moment
        time.sleep(min(0.001, max(0.0, start_at - time.monotonic())))
    began = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return began, time.monotonic(), failures


def measure(pool: Any, url: str, batch: int, requests: int, clients: int, threads: int) -> float:
    """Notifications per second for ``requests`` POSTs of ``batch`` items from all client processes."""
    per_client = requests // clients
    jobs = []
    start_at = time.monotonic() + 0.2  # CLOCK_MONOTONIC is shared by the processes on Linux
    for c in range(clients):
        bodies = [notification_body(batch, (c * per_client + i) * batch) for i in range(per_client)]
        jobs.append((url, bodies, threads, start_at))
    results: list[tuple[float, float, int]] = pool.starmap(_fire, jobs)
    failures = sum(r[2] for r in results)
    if failures:
        raise SystemExit(f"{failures} POSTs to {url} were not answered 202")
    elapsed = max(r[1] for r in results) - min(r[0] for r in results)
    return per_client * clients * batch / elapsed


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (Linux /proc; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def drain(store: Any) -> None:
    """Empty the inbox and the queue (a trigger processor keeps them short in production), so every
    round writes into a table of the same size."""
    store.absorb_inbox()
    with store.transaction() as db:
        db.execute("DELETE FROM trigger_queue")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="POSTs per server, batch size and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="connections per client process")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of each server")
    parser.add_argument("--server-threads", type=int, default=4, help="threads of each gunicorn worker")
    args = parser.parse_args()

    from bench._gunicorn import Gunicorn
    from connector.store import Store, TriggerInstance

    with tempfile.TemporaryDirectory() as home:
        env = {
            "OUTLOOK_CONNECTOR_HOME": home,
            "OUTLOOK_CONNECTOR_KEY": base64.b64encode(os.urandom(32)).decode(),
        }
        os.environ.update(env)
        with Store() as store:
            store.save_trigger_instance(
                TriggerInstance(
                    id=INSTANCE,
                    trigger_key="webhook",
                    connection_name="bench",
                    config={},
                    client_state=CLIENT_STATE,
                )
            )
        settings: dict[str, Any] = {
            "workers": args.workers,
            "threads": args.server_threads,
            "env": env,
            "extra_args": SERVER,
        }
        receiver = Gunicorn("connector.webhooks:create_app()", **settings)
        bare = Gunicorn("bench.webhook_ingest:create_bare_app()", **settings)
        context = multiprocessing.get_context("spawn")
        with receiver, bare, context.Pool(args.clients) as pool:
            urls = {
                "receiver": f"{receiver.url}/hooks/{INSTANCE}/notifications",
                "bare": f"{bare.url}/hooks/{INSTANCE}/notifications",
            }
            rates: dict[tuple[str, int], list[float]] = {}
            cpu: dict[tuple[str, int], list[float]] = {}
            pids = {"receiver": receiver.worker_pids, "bare": bare.worker_pids}
            lost = 0
            with Store() as store:
                for batch in (1, 10):
                    for url in urls.values():  # warm up: imports, connections, SQLite pages
                        measure(pool, url, batch, min(200, args.requests), args.clients, args.threads)
                    for _ in range(args.rounds):
                        for name, url in urls.items():
                            drain(store)
                            before = cpu_seconds(pids[name])
                            rate = measure(pool, url, batch, args.requests, args.clients, args.threads)
                            notifications = args.requests // args.clients * args.clients * batch
                            used = (cpu_seconds(pids[name]) - before) / notifications * 1e6
                            rates.setdefault((name, batch), []).append(rate)
                            cpu.setdefault((name, batch), []).append(used)
                            if name == "receiver":
                                started = time.process_time()
                                moved = store.absorb_inbox()
                                used = (time.process_time() - started) / max(1, moved) * 1e6
                                cpu.setdefault(("move", batch), []).append(used)
                                lost += notifications - store.pending_notification_count(INSTANCE)

    print(
        f"gunicorn: {args.workers} gthread workers x {args.server_threads} threads per server;"
        f" client: {args.clients} processes x {args.threads} connections;"
        f" {args.requests} POSTs per round, {args.rounds} rounds"
    )
    for batch in (1, 10):
        medians = {name: statistics.median(rates[(name, batch)]) for name in ("receiver", "bare")}
        for name in ("receiver", "bare"):
            rounds = ", ".join(f"{v:.0f}" for v in rates[(name, batch)])
            print(f"batch {batch:>2} {name:<8}: {medians[name]:8.0f} notifications/s (rounds: {rounds})")
        ratio = medians["receiver"] / medians["bare"]
        print(f"batch {batch:>2} ratio receiver/bare: {ratio:6.1%}  (goal >= 70%)")
        per = {name: statistics.median(cpu[(name, batch)]) for name in ("receiver", "bare")}
        move = statistics.median(cpu[("move", batch)])
        print(
            f"batch {batch:>2} gunicorn workers' CPU per notification: receiver {per['receiver']:.0f} us,"
            f" bare {per['bare']:.0f} us; moving the inbox into the queue later: {move:.0f} us"
            f" (receiver + move = {(per['receiver'] + move) / per['bare']:.2f}x bare)"
        )
    print(f"notifications accepted but not in the receiver's queue: {lost}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
