"""One node of the scale-out test (``test_scale_out``), run as its own process:

    python -m tests.store.scale_node receiver      # the real receiver app on a free port
    python -m tests.store.scale_node worker NAME   # the real trigger worker

The store comes from ``$OUTLOOK_CONNECTOR_STORE`` (PostgreSQL: the only state nodes share) and
the key from ``$OUTLOOK_CONNECTOR_KEY``; each node's ``$OUTLOOK_CONNECTOR_HOME`` and working
directory are its own. Graph is one sandbox process that every node calls (a Graph, not shared
state), through the connection stored in PostgreSQL.

A worker is what ``outlook-connector triggers worker --deliver-to store`` runs: a
``TriggerService`` whose events go to the store's outbox (``OutboxDelivery``: sealed in the
transaction that marks them delivered and completes their queue row) and a ``Worker`` that
processes the queue (woken by PostgreSQL's NOTIFY) and renews due subscriptions with
``TriggerService.renew_due`` under the instances' leases. Only the timings differ, so that a test
sees several renewal windows: a renewed subscription is due again ``PERIOD`` seconds later, a
killed worker's queue rows come back after ``LEASE`` seconds and its renewal leases after
``RENEWAL_LEASE``. It prints "ready", then "renewed SUBSCRIPTION" for each subscription its
renewal passes renewed.
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime, timedelta

from connector.store import Store

PERIOD = 5.0
"""Seconds from one renewal of a subscription to its next (its window)."""
LEASE = 3.0
RENEWAL_LEASE = 10.0
RENEW_EVERY = 0.5
WATCHED = "users/someone/mailFolders('inbox')/messages"


def renew_margin() -> timedelta:
    """The margin that makes a subscription renewed now due again ``PERIOD`` seconds later: a
    renewal asks for Graph's longest lifetime (less the connector's safety margin)."""
    from actions._subscriptions import expiry

    now = datetime.now(UTC)
    return expiry(WATCHED, False, now=now).moment - now - timedelta(seconds=PERIOD)


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
    from connector.runtime import Runtime
    from triggers.delivery import OutboxDelivery
    from triggers.service import RenewReport, TriggerService
    from triggers.worker import Worker

    store = Store()
    service = TriggerService(
        store,
        Runtime(store=store),
        OutboxDelivery(store),
        worker=name,
        lease_seconds=LEASE,
        renewal_lease_seconds=RENEWAL_LEASE,
    )
    out = threading.Lock()

    def renewed(report: RenewReport) -> None:
        with out:
            sys.stdout.write("".join(f"renewed {sub}\n" for sub in report.renewed))
            sys.stdout.flush()

    running = Worker(
        service,
        poll_every=0.5,
        renew_every=RENEW_EVERY,
        renew_margin=renew_margin(),
        on_renewed=renewed,
        catch_up_every=None,
    ).start()
    with out:
        print("ready", flush=True)
    running.wait()


if __name__ == "__main__":
    if sys.argv[1] == "receiver":
        receiver()
    else:
        worker(sys.argv[2])
