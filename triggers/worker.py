"""Running triggers in one process: the processor and renewer threads, and an in-process receiver.

``Worker(service)`` processes queued notifications as soon as the receiver says it enqueued some
(``notify``, wired to ``create_app(on_enqueued=...)``) and at least every ``poll_every`` seconds
(another process's receiver, retries whose backoff ran out; on PostgreSQL a listener wakes it as
soon as a receiver on any node enqueued), and renews subscriptions every
``renew_every`` seconds; in the same pass it catches up (delta) every webhook instance not caught
up for ``catch_up_every`` (default a day; None: never), so a lost notification arrives within it.
``Receiver`` serves ``connector.webhooks.create_app`` with werkzeug's threaded server, for
``triggers listen`` and ``serve``; production runs the same app under gunicorn and
``outlook-connector triggers worker`` for the rest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from triggers.service import DEFAULT_CATCH_UP_EVERY, DEFAULT_RENEW_MARGIN

if TYPE_CHECKING:
    from connector.store import Store
    from triggers.service import RenewReport, TriggerService

log = logging.getLogger("outlook_connector.triggers")


class Worker:
    def __init__(
        self,
        service: TriggerService,
        *,
        poll_every: float = 2.0,
        renew_every: float = 600.0,
        renew_margin: timedelta = DEFAULT_RENEW_MARGIN,
        on_renewed: Callable[[RenewReport], None] | None = None,
        wake: threading.Event | None = None,
        catch_up_every: timedelta | None = DEFAULT_CATCH_UP_EVERY,
    ) -> None:
        self.service = service
        self.catch_up_every = catch_up_every
        self.poll_every = poll_every
        self.renew_every = renew_every
        self.renew_margin = renew_margin
        self.on_renewed = on_renewed
        self._wake = wake or threading.Event()
        """Set by the receiver's on_enqueued (or ``notify``): process now."""
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def notify(self, instance_id: str = "") -> None:
        """Something was enqueued: process now."""
        self._wake.set()

    def start(self, *, process: bool = True, renew: bool = True) -> Worker:
        listen = process and self.service.store.url is not None  # PostgreSQL: NOTIFY from any node
        loops = [(self._process_loop, process), (self._renew_loop, renew), (self._listen_loop, listen)]
        for target, wanted in loops:
            if wanted:
                thread = threading.Thread(target=target, name=f"triggers-{target.__name__}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def wait(self) -> None:
        """Block until ``stop`` (or Ctrl-C in the calling thread)."""
        while not self._stop.wait(0.5):
            pass

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _process_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_every)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.service.process_all()
            except Exception:  # the loop must outlive one bad pass (the store was busy, ...)
                log.exception("processing trigger notifications failed")

    def _listen_loop(self) -> None:
        """Wake the processor when any node's receiver enqueued (PostgreSQL ``LISTEN``)."""
        while not self._stop.is_set():
            try:
                if self.service.store.wait_for_notifications(min(self.poll_every, 1.0)):
                    self._wake.set()
            except Exception:  # the database is away: the processor's poll still runs
                log.exception("waiting for queue notifications failed")
                self._stop.wait(self.poll_every)

    def _renew_loop(self) -> None:
        while True:
            try:
                report = self.service.renew_due(self.renew_margin)
                if self.on_renewed is not None and (report.renewed or report.recreated or report.failed):
                    self.on_renewed(report)
            except Exception:
                log.exception("renewing trigger subscriptions failed")
            if self.catch_up_every is not None:
                try:
                    self.service.catch_up_due(self.catch_up_every)
                except Exception:
                    log.exception("the periodic trigger catch-up failed")
            if self._stop.wait(self.renew_every):
                return


class _Quiet(WSGIRequestHandler):
    """werkzeug's request handler without its access log on stderr (stdout carries events)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        return


class Receiver:
    """``connector.webhooks.create_app(store, on_enqueued=...)`` served in a thread."""

    def __init__(
        self,
        store: Store,
        host: str = "127.0.0.1",
        port: int = 0,
        on_enqueued: Callable[[str], None] | None = None,
    ) -> None:
        from connector.webhooks import create_app

        self.app = create_app(store, on_enqueued=on_enqueued)
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="triggers-receiver",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        host = self._server.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
