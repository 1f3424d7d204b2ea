"""Per-request overhead of the runtime: list_messages through the runtime vs a raw httpx loop.

    .venv/bin/python bench/action_overhead.py [--requests 2000] [--rounds 5]

Both loops hit the same loopback server (a token endpoint and a 10-message page answered from
prebuilt bytes, so the client side dominates). The runtime path is the real one: input validated
against the JSON Schema, a client-credentials connection with a token from the store, the
GraphClient with its concurrency limit and retry wrapper, output validated against the schema.
The raw loop sends the same GET with the same bearer token and parses the JSON. Rounds alternate
between the two; the medians and their ratio are printed. Goal: at most 1.15x.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._loopback import TOKEN, LoopbackGraph
from connections.registry import create_connection
from connector.runtime import Runtime
from connector.store import Store

MAILBOX = "bench@example.com"
INPUT = {"folder_id": "inbox", "top": 10}


def time_runtime(runtime: Runtime, connection: object, requests: int) -> float:
    start = time.perf_counter()
    for _ in range(requests):
        out = runtime.run_action("list_messages", INPUT, connection)  # type: ignore[arg-type]
        assert out["count"] == 10
    return (time.perf_counter() - start) / requests * 1e6


def time_raw(client: httpx.Client, url: str, requests: int) -> float:
    headers = {"Authorization": f"Bearer {TOKEN['access_token']}"}
    start = time.perf_counter()
    for _ in range(requests):
        response = client.get(url, params={"$top": "10"}, headers=headers)
        response.raise_for_status()
        assert len(response.json()["value"]) == 10
    return (time.perf_counter() - start) / requests * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per loop and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with LoopbackGraph() as server, tempfile.TemporaryDirectory() as home:
        store = Store(Path(home) / "state.db")
        connection = create_connection(
            store,
            "bench",
            "client_credentials",
            {
                "tenant": "bench-tenant",
                "client_id": "bench-client",
                "client_secret": "bench-secret",
                "default_mailbox": MAILBOX,
                "graph_base_url": server.url + "/v1.0",
                "login_base_url": server.url,
            },
        )
        raw_url = f"{server.url}/v1.0/users/{MAILBOX.replace('@', '%40')}/mailFolders/inbox/messages"
        with Runtime(strict_output=False) as runtime, httpx.Client() as raw_client:
            time_runtime(runtime, connection, 200)  # warm up: imports, pools, token, validators
            time_raw(raw_client, raw_url, 200)
            runtime_us: list[float] = []
            raw_us: list[float] = []
            for _ in range(args.rounds):
                raw_us.append(time_raw(raw_client, raw_url, args.requests))
                runtime_us.append(time_runtime(runtime, connection, args.requests))
        store.close()

    raw_median = statistics.median(raw_us)
    runtime_median = statistics.median(runtime_us)
    print(f"requests per loop: {args.requests}, rounds: {args.rounds}")
    print(
        f"raw httpx loop:      {raw_median:8.1f} us/request (rounds: {', '.join(f'{v:.0f}' for v in raw_us)})"
    )
    rounds = ", ".join(f"{v:.0f}" for v in runtime_us)
    print(f"runtime list_messages:{runtime_median:7.1f} us/request (rounds: {rounds})")
    print(f"ratio runtime/raw:   {runtime_median / raw_median:8.3f}x  (goal <= 1.15x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
