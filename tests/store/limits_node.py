"""One node of the shared-limits test (``test_shared_limits_nodes``), run as its own process:

    python -m tests.store.limits_node BASE_URL THREADS

Builds a ``GraphClient`` as the runtime does (the store from ``$OUTLOOK_CONNECTOR_STORE``, its
shared slot pool by ``shared_slot_pool``: on for PostgreSQL, ``$OUTLOOK_CONNECTOR_SHARED_LIMITS``
overrides) and sends one GET for one mailbox from each of THREADS threads, all let go together
when "go" is read from stdin (so the nodes start together). Prints "ready", then "ok" or
"error <type>: <message>" per thread.
"""

from __future__ import annotations

import sys
import threading

from connector.http import GraphClient, RetryPolicy
from connector.store import Store
from connector.store.slots import shared_slot_pool

APP = "11111111-2222-3333-4444-555555555555@contoso.onmicrosoft.com"


def main(base_url: str, threads: int) -> None:
    store = Store()
    client = GraphClient(
        base_url,
        mailbox_limit_key=APP,
        shared_slots=shared_slot_pool(store),
        retry=RetryPolicy(max_attempts=1),
        timeout=60.0,
    )
    out = threading.Lock()
    go = threading.Event()

    def call() -> None:
        go.wait()
        try:
            client.get_json("/users/alice@contoso.com/messages")
            line = "ok"
        except Exception as exc:
            line = f"error {type(exc).__name__}: {exc}"
        with out:
            print(line, flush=True)

    workers = [threading.Thread(target=call) for _ in range(threads)]
    for worker in workers:
        worker.start()
    print("ready", flush=True)
    if sys.stdin.readline().strip() == "go":
        go.set()
    for worker in workers:
        worker.join()
    client.close()
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
