"""What keeping Graph's concurrency limit through the store costs: per-request overhead of the
shared slot pool on SQLite and PostgreSQL against the per-process pool only, and what two
processes sharing one mailbox get out of its 4 slots.

    .venv/bin/python bench/shared_limits.py [--requests 2000] [--rounds 5] [--latency-ms 50]
                                            [--no-postgres] [--fsync]

Overhead: one thread sends ``--requests`` GETs for one mailbox through a GraphClient whose
transport answers at once (httpx.MockTransport), so the client side is all there is; rounds
alternate between local only, shared on SQLite, shared on PostgreSQL and the alternative the
pool does not use, session advisory locks (``pg_try_advisory_lock`` on a pooled connection held
for the request, then unlock): medians per request and their ratios.
Sharing: 2 processes x 4 threads send GETs for one mailbox, each answered after
``--latency-ms`` (Graph's own time): requests/s with the shared pool against the ideal
4 / latency, and without it (8 in flight: what Graph would answer with 429s).
The PostgreSQL cluster is a throw-away one (``bench._postgres``; fsync off unless ``--fsync``,
which shows what a commit that waits for its WAL flush adds): compare ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._postgres import TemporaryPostgres, unavailable
from connector.http import GraphClient
from connector.store import Store
from connector.store.slots import StoreSlotPool

APP = "11111111-2222-3333-4444-555555555555@contoso.onmicrosoft.com"
PATH = "/users/alice@contoso.com/messages"


def _instant(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"value": []})


def _client(shared: StoreSlotPool | None, handler: Callable[[httpx.Request], httpx.Response]) -> GraphClient:
    return GraphClient(
        "https://graph.microsoft.com/v1.0",
        mailbox_limit_key=APP,
        shared_slots=shared,
        transport=httpx.MockTransport(handler),
    )


def time_client(client: GraphClient, requests: int) -> float:
    """Microseconds per request."""
    start = time.perf_counter()
    for _ in range(requests):
        client.get_json(PATH)
    return (time.perf_counter() - start) / requests * 1e6


def time_advisory_locks(url: str, requests: int) -> float:
    """Microseconds per request of the alternative: a session advisory lock per slot, on a pooled
    connection kept for the request (checkout, try the 4 keys until one is free, unlock, give back)."""
    from psycopg_pool import ConnectionPool

    client = _client(None, _instant)
    keys = [hash((APP, "alice", n)) & 0x7FFFFFFF for n in range(4)]  # this run's keys
    with ConnectionPool(url, min_size=1, max_size=4, kwargs={"autocommit": True}, open=True) as pool:
        start = time.perf_counter()
        for _ in range(requests):
            with pool.connection() as db:
                held = None
                while held is None:
                    for key in keys:
                        row = db.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                        if row is not None and row[0]:
                            held = key
                            break
                client.get_json(PATH)
                db.execute("SELECT pg_advisory_unlock(%s)", (held,))
        elapsed = time.perf_counter() - start
    client.close()
    return elapsed / requests * 1e6


def overhead(locations: dict[str, str], requests: int, rounds: int) -> dict[str, list[float]]:
    stores = {name: Store(location, key=bytes(32)) for name, location in locations.items()}
    clients: dict[str, GraphClient] = {"local only": _client(None, _instant)}
    for name, store in stores.items():
        clients[f"shared, {name}"] = _client(StoreSlotPool(store), _instant)
    for client in clients.values():
        time_client(client, 50)  # warm up: connections, prepared statements, slot rows
    times: dict[str, list[float]] = {name: [] for name in clients}
    if "PostgreSQL" in locations:
        times["advisory locks, PostgreSQL"] = []
    for _ in range(rounds):
        for name, client in clients.items():
            times[name].append(time_client(client, requests))
        if "PostgreSQL" in locations:
            times["advisory locks, PostgreSQL"].append(time_advisory_locks(locations["PostgreSQL"], requests))
    for client in clients.values():
        client.close()
    for store in stores.values():
        store.close()
    return times


def _node(location: str | None, latency: float, threads: int, start: Any, stop: Any, out: Any) -> None:
    store = Store(location, key=bytes(32)) if location else None

    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(latency)  # Graph's time for the request
        return httpx.Response(200, json={"value": []})

    client = _client(StoreSlotPool(store) if store is not None else None, slow)
    counts = [0] * threads

    def loop(n: int) -> None:
        start.wait()
        while not stop.is_set():
            client.get_json(PATH)
            counts[n] += 1

    workers = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(sum(counts))
    client.close()


def sharing(location: str | None, latency: float, seconds: float) -> float:
    """Requests/s of 2 processes x 4 threads on one mailbox."""
    context = multiprocessing.get_context("fork")
    start, stop, out = context.Barrier(9), context.Event(), context.Queue()
    nodes = [context.Process(target=_node, args=(location, latency, 4, start, stop, out)) for _ in range(2)]
    for node in nodes:
        node.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    total = out.get() + out.get()
    elapsed = time.perf_counter() - began
    for node in nodes:
        node.join()
    return float(total / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each sharing run")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--fsync", action="store_true", help="PostgreSQL with fsync and full page writes on")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="shared-limits-"))
    locations = {"SQLite": str(folder / "state.db")}
    server = None
    if not args.no_postgres:
        reason = unavailable()
        if reason is None:
            server = TemporaryPostgres(fsync=args.fsync).start()
            locations["PostgreSQL"] = server.url()
        else:
            print(f"PostgreSQL skipped: {reason}")
    try:
        times = overhead(locations, args.requests, args.rounds)
        base = statistics.median(times["local only"])
        print(
            f"Per-request time, one thread, instant answers"
            f" ({args.requests} requests x {args.rounds} rounds):"
        )
        print(f"  {'pool':<28} {'median us':>10} {'extra us':>9} {'vs local':>9}")
        for name, samples in times.items():
            median = statistics.median(samples)
            print(f"  {name:<28} {median:>10.1f} {median - base:>9.1f} {median / base:>8.2f}x")

        latency = args.latency_ms / 1000
        ideal = 4 / latency
        print(
            f"\n2 processes x 4 threads, one mailbox, {args.latency_ms:g} ms per request"
            f" (ideal {ideal:.0f}/s):"
        )
        rate = sharing(None, latency, args.seconds)
        label = "per process only (8 in flight)"
        print(f"  {label:<36} {rate:>8.1f} requests/s {rate / ideal:>6.2f}x ideal")
        for name, location in locations.items():
            rate = sharing(location, latency, args.seconds)
            print(f"  {'shared, ' + name:<36} {rate:>8.1f} requests/s {rate / ideal:>6.2f}x ideal")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
