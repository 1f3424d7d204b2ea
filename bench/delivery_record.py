"""The cost of recording a delivery: rows/s a worker finishes, one thread, SQLite vs PostgreSQL.

    .venv/bin/python bench/delivery_record.py [--rows 2000] [--rounds 3] [--event-bytes 500] [--no-postgres]

Per backend, on a fresh database with ``--rows`` claimed queue rows, each row finished as:
- baseline: the path before the delivery record, ``mark_delivered`` then ``complete_notification``
  (two transactions: a crash between them leaves the row to be handled again);
- record: ``commit_delivery(keys, finish=(seq, worker))``: the mark and the row's completion in one
  transaction, only while the row is the worker's claim (what a callback delivery now does);
- outbox: the same with the event (``--event-bytes`` of resource) sealed into ``trigger_events``
  (``OutboxDelivery``: exactly once for a host reading the outbox).
Medians of ``--rounds`` alternating rounds, and ratios against the baseline of the same run. The
PostgreSQL cluster is a throw-away one (``bench._postgres``; fsync off: compare ratios).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._postgres import TemporaryPostgres, unavailable  # noqa: E402
from connector.store import QueuedNotification, Store, TriggerInstance  # noqa: E402

MODES = ("baseline", "record", "outbox")


def finish_rows(store: Store, mode: str, rows: int, event_bytes: int) -> float:
    """Rows per second finished the ``mode`` way."""
    instance = TriggerInstance.new("webhook", "work", {}, {}, store.clock())
    store.save_trigger_instance(instance)
    store.enqueue_notifications(instance.id, "change", [{"n": n} for n in range(rows)])
    claimed: list[QueuedNotification] = []
    while len(claimed) < rows:
        claimed += store.claim_notifications("bench", 500, 600)
    event = {"instance_id": instance.id, "resource": {"body": "x" * event_bytes}}
    started = time.perf_counter()
    for row in claimed:
        key = f"{instance.id}\nm{row.seq}\nk"
        if mode == "baseline":
            store.mark_delivered(instance.id, key)
            store.complete_notification(row.seq)
        elif mode == "record":
            assert store.commit_delivery(instance.id, [key], finish=(row.seq, "bench")).finished
        else:
            assert store.commit_delivery(instance.id, [key], event=event, finish=(row.seq, "bench")).finished
    elapsed = time.perf_counter() - started
    assert store.pending_notification_count() == 0
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--event-bytes", type=int, default=500)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    os.environ["OUTLOOK_CONNECTOR_KEY"] = base64.b64encode(os.urandom(32)).decode()
    postgres = None
    if not options.no_postgres:
        reason = unavailable()
        if reason is None:
            postgres = TemporaryPostgres().start()
        else:
            print(f"PostgreSQL skipped: {reason}")
    try:
        backends = ["sqlite"] + (["postgresql"] if postgres is not None else [])
        print(f"{options.rows} rows per round, median of {options.rounds} rounds, rows/s (ratio to baseline)")
        for backend in backends:
            rates: dict[str, list[float]] = {mode: [] for mode in MODES}
            for _ in range(options.rounds):
                for mode in MODES:
                    if postgres is None or backend == "sqlite":
                        location = str(Path(tempfile.mkdtemp(prefix="delivery-record-")) / "state.db")
                    else:
                        location = postgres.url(search_path=postgres.new_schema())
                    with Store(location) as store:
                        rates[mode].append(finish_rows(store, mode, options.rows, options.event_bytes))
            medians = {mode: statistics.median(values) for mode, values in rates.items()}
            cells = [
                f"{mode} {medians[mode]:,.0f} ({medians[mode] / medians['baseline']:.2f}x)" for mode in MODES
            ]
            print(f"{backend:>10}: " + ", ".join(cells))
    finally:
        if postgres is not None:
            postgres.stop()


if __name__ == "__main__":
    main()
