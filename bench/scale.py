"""Scale-out: notifications/s ingested and delivered with 1, 2 and 4 workers, PostgreSQL vs SQLite;
renewals of 10,000 trigger instances under leases on a simulated clock; today's SQLite store vs the
store before the package split (the same run, the same machine).

    .venv/bin/python bench/scale.py [--items 2000] [--latency-ms 10] [--renewals 10000] [--patch-ms 1]
                                    [--no-postgres]

Per backend and worker count, on a fresh database with 50 instances:
- ingest: N processes write the receiver's checked batches (10 items per POST, the PostgreSQL
  receiver's direct write; one transaction each) until ``--items`` are queued: items/s;
- deliver: N worker processes claim (20 rows, leases), spend ``--latency-ms`` per row (the host's
  answer / the Graph read a real worker waits for) and record each row's delivery as the trigger
  processor does (``commit_delivery``: the delivered mark, the row's completion while still the
  worker's claim, and the event sealed into the outbox, in one transaction): items/s, and the ratio
  against 1 worker.
Renewals: 10,000 instances all due on a simulated clock; 1 and 2 worker processes renew them as
``TriggerService.renew_due`` does (each in its own order, under the instance's lease, read again,
``--patch-ms`` for the Graph PATCH); every instance must be renewed once, before its window ends.
Baseline: the pre-split store (``git show <commit>:connector/store.py``, loaded as a module)
runs the same SQLite ingest and its worker path (claim, mark_delivered, complete_notification)
against the current store's (claim, commit_delivery), in one process, in alternating rounds. The
PostgreSQL cluster is a throw-away one (``bench._postgres``; fsync off, as for tests: compare
ratios, not absolute rates).
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._postgres import TemporaryPostgres, unavailable  # noqa: E402
from connector.store import Store, TriggerInstance  # noqa: E402
from triggers.service import _spread  # noqa: E402

KEY = bytes(range(32))
INSTANCES = 50
PER_POST = 10
BASELINE_COMMIT = "addb634"
"""The last commit with connector/store.py in one file (before the package split)."""


def _store_class(baseline: str) -> Any:
    """The ``Store`` class of the pre-split store file ``baseline``."""
    spec = importlib.util.spec_from_file_location("_baseline_store", baseline)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_baseline_store"] = module
    spec.loader.exec_module(module)
    return module.Store


def _setup(location: str) -> list[tuple[str, bytes]]:
    """Fresh instances; (instance id, sealed clientState) for the checked write."""
    store = Store(location, key=KEY)
    accesses = []
    for n in range(INSTANCES):
        instance_id = f"bench-{n:04d}-" + "x" * 20
        store.save_trigger_instance(
            TriggerInstance(
                id=instance_id, trigger_key="webhook", connection_name="w", config={}, client_state="c" * 40
            )
        )
        access = store.receiver_access(instance_id)
        assert access is not None
        accesses.append((instance_id, access.sealed_client_state))
    store.close()
    return accesses


def _ingest(
    location: str,
    accesses: list[tuple[str, bytes]],
    posts: int,
    index: int,
    start: Any,
    out: Any,
) -> None:
    store = Store(location, key=KEY)
    store.pending_notification_count()
    out.put("ready")
    start.wait(60)
    for n in range(posts):
        instance_id, sealed = accesses[(index + n) % len(accesses)]
        rows = [
            ("change", {"changeType": "created", "resource": f"{instance_id}/{index}-{n}-{k}"})
            for k in range(PER_POST)
        ]
        assert store.enqueue_checked_notifications([(instance_id, sealed, rows)]) == [True]
    store.close()
    out.put("done")


def _deliver(location: str, latency: float, name: str, start: Any, out: Any) -> None:
    store = Store(location, key=KEY)
    store.pending_notification_count()
    out.put("ready")
    start.wait(60)
    done = 0
    while rows := store.claim_notifications(name, limit=20, lease_seconds=120):
        for row in rows:
            if latency:
                time.sleep(latency)  # the host's answer / the Graph read of a real worker
            key = row.item["resource"]
            event = {"instance_id": row.instance_id, "dedupe_key": key, "resource": row.item}
            recorded = store.commit_delivery(row.instance_id, [key], event=event, finish=(row.seq, name))
            assert recorded.finished
            done += 1
    store.close()
    out.put(done)


def _race(target: Any, argument_sets: list[tuple[Any, ...]]) -> float:
    """Run one process per argument set; seconds from the common start to the last one's end."""
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    processes = [ctx.Process(target=target, args=(*args, start, out)) for args in argument_sets]
    for process in processes:
        process.start()
    for _ in processes:
        assert out.get(timeout=120) == "ready"
    began = time.perf_counter()
    start.set()
    results = [out.get(timeout=600) for _ in processes]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join(60)
    assert all(r is not None for r in results)
    return elapsed


def throughput(
    location: str,
    workers: int,
    items: int,
    latency: float,
) -> tuple[float, float]:
    """(ingested/s, delivered/s) with ``workers`` processes on a fresh database at ``location``."""
    accesses = _setup(location)
    posts = items // PER_POST // workers
    ingest = _race(_ingest, [(location, accesses, posts, i) for i in range(workers)])
    total = posts * workers * PER_POST
    deliver = _race(_deliver, [(location, latency, f"w{i}") for i in range(workers)])
    check = Store(location, key=KEY)
    assert check.pending_notification_count() == 0
    check.close()
    return total / ingest, total / deliver


NOW = 1_900_000_000.0
"""The simulated clock during a renewal pass (every window below ends after it)."""


def _renew(location: str, name: str, latency: float, start: Any, out: Any) -> None:
    """One worker's pass, as ``TriggerService.renew_due``: its own order, due as listed, the lease,
    the instance read again, the renewal (``latency``: the Graph PATCH), the lease released."""
    store = Store(location, key=KEY, clock=lambda: NOW)
    order = _spread(store.list_trigger_instances(), name)
    out.put("ready")
    start.wait(60)
    renewed = []
    for listed in order:
        if float(listed.state["window_ends"]) > NOW + 12 * 3600:
            continue
        lease = f"trigger-renew:{listed.id}"
        if not store.acquire_lease(lease, name, 600):
            continue
        try:
            current = store.get_trigger_instance(listed.id)
            assert current is not None
            ends = float(current.state["window_ends"])
            if ends > NOW + 12 * 3600:
                continue  # renewed by another worker since the listing
            assert ends > NOW, "renewed after its window ended"
            if latency:
                time.sleep(latency)
            assert store.kv_add("renewals", f"{listed.id}:{ends!r}"), "renewed twice in one window"
            store.update_trigger_state(listed.id, {"window_ends": NOW + 70 * 3600})
            renewed.append(listed.id)
        finally:
            store.release_lease(lease, name)
    store.close()
    out.put(renewed)


def renewals(location: str, count: int, workers: int, latency: float) -> float:
    """Renew ``count`` due instances with ``workers`` processes; checks each was renewed once,
    within its window. Returns renewals/s."""
    setup = Store(location, key=KEY, clock=lambda: NOW - 3600)
    for n in range(count):  # windows end 1 to 11 h after NOW: all due within the 12 h margin
        setup.save_trigger_instance(
            TriggerInstance(
                id=f"r-{n:06d}",
                trigger_key="webhook",
                connection_name="w",
                config={},
                client_state="c" * 40,
                state={"window_ends": NOW + 3600 + n % 600 * 60},
            )
        )
    setup.close()
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    processes = [
        ctx.Process(target=_renew, args=(location, f"r{k}", latency, start, out)) for k in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        assert out.get(timeout=300) == "ready"
    began = time.perf_counter()
    start.set()
    renewed = [instance for _ in processes for instance in out.get(timeout=600)]
    elapsed = time.perf_counter() - began
    for process in processes:
        process.join(60)
    assert len(renewed) == len(set(renewed)) == count, (len(renewed), len(set(renewed)), count)
    return count / elapsed


def _in_process(cls: Any, location: str, items: int) -> tuple[float, float]:
    """(ingested/s, delivered/s) of ``items`` through one store object of class ``cls``."""
    store = cls(location, key=KEY)
    instance_id = "b" * 30
    store.save_trigger_instance(
        TriggerInstance(
            id=instance_id, trigger_key="webhook", connection_name="w", config={}, client_state="c" * 40
        )
    )
    sealed = store.receiver_access(instance_id).sealed_client_state
    began = time.perf_counter()
    for n in range(items // PER_POST):
        rows = [("change", {"resource": f"{n}-{k}"}) for k in range(PER_POST)]
        store.enqueue_checked_notifications([(instance_id, sealed, rows)])
    ingest = time.perf_counter() - began
    began, done = time.perf_counter(), 0
    record = getattr(store, "commit_delivery", None)  # the store since the delivery record
    while batch := store.claim_notifications("w", limit=20):
        for row in batch:
            if record is not None:  # the mark and the completion in one transaction
                record(row.instance_id, [row.item["resource"]], finish=(row.seq, "w"))
            else:  # the pre-split store: mark, then complete
                store.mark_delivered(row.instance_id, row.item["resource"])
                store.complete_notification(row.seq)
            done += 1
    deliver = time.perf_counter() - began
    store.close()
    return done / ingest, done / deliver


def _baseline_file(folder: Path) -> str | None:
    try:
        text = subprocess.run(
            ["git", "show", f"{BASELINE_COMMIT}:connector/store.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = folder / "baseline_store.py"
    path.write_text(text)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--patch-ms", type=float, default=1.0)
    parser.add_argument("--renewals", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--part", choices=("all", "throughput", "renewals"), default="all")
    options = parser.parse_args()
    os.environ["OUTLOOK_CONNECTOR_KEY"] = base64.b64encode(KEY).decode()
    latency = options.latency_ms / 1000
    print(f"{options.items} items, {options.latency_ms} ms per delivered item, {os.cpu_count()} CPUs")

    server = None
    if not options.no_postgres:
        reason = unavailable()
        if reason is None:
            server = TemporaryPostgres().start()
        else:
            print(f"PostgreSQL skipped: {reason}")
    try:
        with tempfile.TemporaryDirectory() as folder:
            backends: list[tuple[str, Any]] = [("sqlite", lambda tag: f"{folder}/{tag}.db")]
            if server is not None:
                backends.append(("postgresql", lambda tag: server.url(search_path=server.new_schema())))
            if options.part in ("all", "throughput"):
                print(f"\n{'backend':<12}{'workers':>8}{'ingest/s':>12}{'deliver/s':>12}{'deliver x1':>12}")
                for backend, where in backends:
                    base = None
                    for workers in (1, 2, 4):
                        ingest, deliver = throughput(where(f"t{workers}"), workers, options.items, latency)
                        base = base or deliver
                        rates = f"{ingest:>12.0f}{deliver:>12.0f}{deliver / base:>11.2f}x"
                        print(f"{backend:<12}{workers:>8}{rates}")
                baseline = _baseline_file(Path(folder))
                if baseline is None:
                    print("\nbaseline: git or the baseline commit is missing; skipped")
                else:
                    print(
                        "\nSQLite in one process, the receiver's write (10-item batches) and the worker's"
                        " path (before: claim, mark_delivered, complete; now: claim, commit_delivery),"
                        " medians of 5 alternating rounds:"
                    )
                    old_class = _store_class(baseline)
                    old_runs, new_runs = [], []
                    for round_ in range(5):
                        old_runs.append(_in_process(old_class, f"{folder}/old{round_}.db", options.items))
                        new_runs.append(_in_process(Store, f"{folder}/new{round_}.db", options.items))
                    old = [statistics.median(r[i] for r in old_runs) for i in (0, 1)]
                    new = [statistics.median(r[i] for r in new_runs) for i in (0, 1)]
                    print(f"  before the split: ingest {old[0]:.0f}/s, deliver {old[1]:.0f}/s")
                    print(
                        f"  now:              ingest {new[0]:.0f}/s, deliver {new[1]:.0f}/s"
                        f"  (ratio {new[0] / old[0]:.2f}x, {new[1] / old[1]:.2f}x)"
                    )
            if options.part in ("all", "renewals"):
                print(
                    f"\nrenewals of {options.renewals} due instances under leases (simulated clock,"
                    f" {options.patch_ms} ms a PATCH):"
                )
                for backend, where in backends:
                    one = renewals(where("r1"), options.renewals, 1, options.patch_ms / 1000)
                    two = renewals(where("r2"), options.renewals, 2, options.patch_ms / 1000)
                    print(
                        f"  {backend:<12} 1 worker {one:.0f}/s, 2 workers {two:.0f}/s ({two / one:.2f}x);"
                        " each renewed once, within its window"
                    )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
