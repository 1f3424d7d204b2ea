"""One node of the scale-out test (``test_scale_out``), run as its own process:

    python -m tests.store.scale_node receiver      # the real receiver app on a free port
    python -m tests.store.scale_node worker NAME   # drain the queue; renew instances under leases

The store comes from ``$OUTLOOK_CONNECTOR_STORE`` (PostgreSQL: the only thing nodes share) and
the key from ``$OUTLOOK_CONNECTOR_KEY``; each node's ``$OUTLOOK_CONNECTOR_HOME`` and working
directory are its own. A worker finishes each claimed row with ``finish_notification`` (the row
completed and its item's delivered key marked in one transaction) and prints one line per row
it finished ("done SEQ KEY NEW"), flushed after the commit. Its renewer thread renews each instance
whose window ends within ``MARGIN`` seconds, holding the instance's renewal lease, and records the
renewal with ``kv_add`` keyed by the window it ended, so a second renewal of one window shows
("double ...").
"""

from __future__ import annotations

import sys
import threading
import time

from connector.store import Store
from triggers.service import renewal_lease_name

PERIOD = 6.0
"""A renewed instance's window: it is due again PERIOD - MARGIN seconds later."""
MARGIN = 2.0
LEASE = 3.0
"""The queue lease: rows of a killed worker are claimed by another one this long after."""


def receiver() -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server

    from connector.webhooks import create_app

    class Quiet(WSGIRequestHandler):
        def log(self, type: str, message: str, *args: object) -> None:
            return

    server = make_server("127.0.0.1", 0, create_app(Store()), threaded=True, request_handler=Quiet)
    print(f"port {server.server_port}", flush=True)
    server.serve_forever()


def worker(name: str) -> None:
    store = Store()
    stop = threading.Event()
    renewer = threading.Thread(target=_renew_loop, args=(store, name, stop), daemon=True)
    renewer.start()
    print("ready", flush=True)
    out = sys.stdout
    while True:
        rows = store.claim_notifications(name, limit=50, lease_seconds=LEASE)
        if not rows:
            store.wait_for_notifications(0.5)
            continue
        for row in rows:
            key = row.item["resource"]
            marked = store.finish_notification(row.seq, name, [(row.instance_id, key)])
            if marked is not None:
                out.write(f"done {row.seq} {key} {len(marked)}\n")
        out.flush()


def _renew_loop(store: Store, name: str, stop: threading.Event) -> None:
    while not stop.is_set():
        for instance in store.list_trigger_instances():
            ends = float(instance.state.get("window_ends", 0))
            if ends - store.clock() > MARGIN:
                continue
            lease = renewal_lease_name(instance.id)
            if not store.acquire_lease(lease, name, 30):
                continue
            try:
                current = store.get_trigger_instance(instance.id)
                if current is None:
                    continue
                ends = float(current.state.get("window_ends", 0))
                if ends - store.clock() > MARGIN:
                    continue  # another worker renewed it since the listing
                if not store.kv_add("renewals", f"{instance.id}:{ends!r}", name):
                    print(f"double {instance.id} {ends!r}", flush=True)
                store.update_trigger_state(instance.id, {"window_ends": store.clock() + PERIOD})
                print(f"renewed {instance.id}", flush=True)
            finally:
                store.release_lease(lease, name)
        time.sleep(0.5)


if __name__ == "__main__":
    if sys.argv[1] == "receiver":
        receiver()
    else:
        worker(sys.argv[2])
