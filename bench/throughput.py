"""Throughput on the sandbox: the throttling budget a busy client reaches, and paging a huge folder.

    .venv/bin/python bench/throughput.py [--messages 2000] [--window 20] [--big 100000]

1. Budget. A sandbox with its latency model on (Graph's typical service times; a request holds one of
   the mailbox's 4 concurrency slots while it runs) and Outlook's budget of 10,000 requests per 600 s
   scaled to a shorter window (same rate: 16.7 requests/s), so a run takes minutes, not ten of them.
   Bulk reads: ``get_message`` for N messages from 4 threads through the Runtime. Bulk writes:
   ``update_messages`` (mark read) over the same N, 1,000 per run, 20 per ``$batch``. For each the
   script prints the requests Graph admitted, the share of the budget used in each whole window of
   the run and their mean, and failed operations. Goal: >= 90% of the budget, 0 failures.
2. Paging. A sandbox (no latency) whose Inbox holds ``--big`` messages; ``list_messages`` with
   ``fetch_all`` (1,000 per page) in a child process, against a raw httpx loop that follows
   ``@odata.nextLink`` on the same server. Prints each one's time, their ratio (goal: the connector at
   >= 90% of the raw loop's speed) and the connector process's peak RSS at 10k and at ``--big`` items.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.config import LatencyModel, SandboxConfig  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402

OUTLOOK_BUDGET = 10_000  # requests per app and mailbox ...
OUTLOOK_WINDOW = 600.0  # ... per 10 minutes
SELECT = ["id", "subject", "receivedDateTime", "isRead"]


# -- 1. the budget -------------------------------------------------------------------------------------------
def _admitted(server: SandboxServer, since: int) -> list[float]:
    """Times of the Graph requests the sandbox admitted (not refused with 429) after log index ``since``."""
    return [
        r.time
        for r in server.state.request_log[since:]
        if r.path.startswith("/v1.0/") and not r.path.endswith("/$batch") and r.status not in (429, None)
    ]


def _report(name: str, times: list[float], started: float, ended: float, window: float, budget: int) -> float:
    """Print the budget used in each whole window of the run (the sandbox admits at most ``budget``
    requests in any ``window`` seconds, so 100% means the client kept the budget full)."""
    elapsed = ended - started
    whole = int(elapsed // window)
    used = [
        sum(1 for t in times if started + i * window <= t < started + (i + 1) * window) / budget
        for i in range(whole)
    ]
    mean = sum(used) / len(used) if used else float("nan")
    print(
        f"{name}: {len(times)} Graph requests in {elapsed:.1f} s ({len(times) / elapsed:.1f}/s);"
        f" budget {budget} per {window:.0f} s; used per whole window: {', '.join(f'{u:.0%}' for u in used)}"
        f" -> mean {mean:.0%} (goal >= 90%)"
    )
    return mean


def bulk_reads(runtime: Any, connection: Any, ids: list[str], threads: int = 4) -> int:
    """``get_message`` for every id from ``threads`` threads; returns the number of failures."""
    from connector.errors import ConnectorError

    failures = 0
    lock = threading.Lock()
    queue = list(ids)

    def worker() -> None:
        nonlocal failures
        while True:
            with lock:
                if not queue:
                    return
                message_id = queue.pop()
            try:
                runtime.run_action("get_message", {"message_id": message_id, "select": SELECT}, connection)
            except ConnectorError:
                with lock:
                    failures += 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return failures


def bulk_update(runtime: Any, connection: Any, ids: list[str]) -> int:
    """``update_messages`` (mark read) over every id, 1,000 per run; returns the failed messages."""
    failures = 0
    for start in range(0, len(ids), 1000):
        out = runtime.run_action(
            "update_messages", {"message_ids": ids[start : start + 1000], "is_read": True}, connection
        )
        failures += sum(1 for row in out["results"] if row["status"] != "ok")
    return failures


def budget_part(messages: int, window: float) -> None:
    from connections.sandbox import sandbox_connection
    from connector.policy import PRESETS
    from connector.runtime import Runtime
    from connector.store import Store

    budget = round(OUTLOOK_BUDGET * window / OUTLOOK_WINDOW)
    config = SandboxConfig(
        messages_per_user=max(messages + 200, 900),
        latency=LatencyModel(),
        requests_per_window=budget,
        window_seconds=window,
        notification_interval=0,
    )
    print(f"latency model: {LatencyModel()}; budget: {budget} requests per {window:.0f} s")
    with SandboxServer(config) as server, tempfile.TemporaryDirectory() as home:
        store = Store(Path(home) / "state.db")
        store.set_policy(None, PRESETS["open"].to_dict())  # a benchmark of writes, not of approvals
        connection = sandbox_connection(store, server.url, "delegated")
        with Runtime(store=store, strict_output=False) as runtime:
            box = next(iter(server.state.mailboxes.values()))
            ids = [m["id"] for m in box.messages_in(None)][:messages]
            if len(ids) < messages:
                raise SystemExit(f"the sandbox mailbox holds only {len(ids)} messages")
            parts: list[tuple[str, Callable[[], int]]] = [
                ("bulk reads (get_message x4 threads)", lambda: bulk_reads(runtime, connection, ids)),
                ("update_messages (mark read)", lambda: bulk_update(runtime, connection, ids)),
            ]
            for name, run in parts:
                server.state.throttle.reset()  # each part starts with a full budget
                since = len(server.state.request_log)
                started = time.time()
                failed = run()
                ended = time.time()
                refused = sum(1 for r in server.state.request_log[since:] if r.status == 429)
                _report(name, _admitted(server, since), started, ended, window, budget)
                print(f"    failed operations: {failed}; 429 answers seen by the client: {refused}")
        store.close()


# -- 2. paging ---------------------------------------------------------------------------------------------
CHILD = f"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
mode, url, token, limit = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
select = {SELECT!r}
started = time.perf_counter()
if mode == "raw":
    import httpx
    count = 0
    with httpx.Client(headers={{"Authorization": "Bearer " + token}}, timeout=120) as client:
        started = time.perf_counter()  # both sides timed from their first page request
        link = url + "/v1.0/me/mailFolders/inbox/messages"
        params = {{"$top": "1000", "$select": ",".join(select)}}
        while link and count < limit:
            page = client.get(link, params=params).json()
            count += len(page["value"])
            link, params = page.get("@odata.nextLink"), None
else:
    import tempfile
    from pathlib import Path
    from connections.sandbox import sandbox_connection
    from connector.runtime import Runtime
    from connector.store import Store
    with tempfile.TemporaryDirectory() as home:
        store = Store(Path(home) / "state.db")
        connection = sandbox_connection(store, url, "delegated")
        with Runtime(store=store, strict_output=False) as runtime:
            started = time.perf_counter()
            out = runtime.run_action(
                "list_messages",
                {{"folder_id": "inbox", "fetch_all": True, "top": 1000, "limit": limit, "select": select}},
                connection,
            )
            count = len(out["messages"])
        store.close()
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"count": count, "seconds": elapsed, "peak_kb": peak}}))
"""


def _child(mode: str, url: str, token: str, limit: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT), mode, url, token, str(limit)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _fill_inbox(server: SandboxServer, count: int) -> None:
    """Put ``count`` messages in the default user's Inbox (copies of a seeded one, new ids)."""
    from sandbox import seed

    with server.state.lock:
        box = server.state.mailbox(seed.USERS[0]["id"])
        inbox = box.well_known["inbox"]
        template = next(m for m in box.messages.values() if m["parentFolderId"] == inbox)
        for index in range(count - len(box.messages_in(inbox))):
            message_id = box.ids.message_id()
            stamp = f"2025-{1 + index % 12:02d}-{1 + index % 28:02d}T{index % 24:02d}:{index % 60:02d}:00Z"
            box.messages[message_id] = {
                **template,
                "id": message_id,
                "subject": f"Bulk message {index}",
                "receivedDateTime": stamp,
            }


def paging_part(big: int) -> None:
    from bench.cold_start import delegated_token

    config = SandboxConfig(messages_per_user=200, notification_interval=0, requests_per_window=1_000_000)
    with SandboxServer(config) as server:
        _fill_inbox(server, big)
        token = delegated_token(server.url)
        small = _child("connector", server.url, token, 10_000)
        raw = _child("raw", server.url, token, big)
        full = _child("connector", server.url, token, big)
    assert full["count"] == raw["count"] == big, (full["count"], raw["count"])
    print(f"raw httpx paging loop: {raw['count']} messages in {raw['seconds']:.2f} s")
    print(f"list_messages fetch_all: {full['count']} messages in {full['seconds']:.2f} s")
    print(f"    speed vs the raw loop: {raw['seconds'] / full['seconds']:.0%} (goal >= 90%)")
    print(
        f"    peak RSS of the connector process: {small['peak_kb'] / 1024:.0f} MB at 10,000 messages,"
        f" {full['peak_kb'] / 1024:.0f} MB at {big:,} (raw loop process: {raw['peak_kb'] / 1024:.0f} MB)"
    )


def main() -> int:
    layout = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=layout)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--window", type=float, default=20.0, help="seconds of the scaled budget window")
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--skip-budget", action="store_true")
    parser.add_argument("--skip-paging", action="store_true")
    args = parser.parse_args()
    if not args.skip_budget:
        budget_part(args.messages, args.window)
    if not args.skip_paging:
        paging_part(args.big)
    return 0


if __name__ == "__main__":
    sys.exit(main())
