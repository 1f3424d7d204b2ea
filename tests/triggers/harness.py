"""A whole trigger set-up in one process, for the lifecycle, processing and exactly-once tests.

A served sandbox (no background delivery: tests call ``deliver``), a state store with a movable
clock, the real receiver (``connector.webhooks.create_app``) on a free local port behind a switch
that can make it answer 503 (the receiver "down"), and a ``TriggerService`` whose host is a list.
Nothing of the connector is mocked: the sandbox POSTs real HTTP to the receiver.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

from connections.sandbox import sandbox_connection
from connector.runtime import Runtime
from connector.store import Store
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.support.sandbox import delegated_token
from triggers.delivery import TriggerEvent
from triggers.service import TriggerService

SANDBOX = {
    "http_notification_urls": True,  # the local receiver is http (Graph: https only)
    "messages_per_user": 20,
    "notification_interval": 0.0,  # deliveries only when a test calls deliver()
    "notification_retry_delay": 0.0,  # a failed batch is due again at once (attempts still count)
    "notification_timeout": 10.0,
    "validation_timeout": 10.0,
}


class Clock:
    """The store's clock (queue backoff, leases), movable by tests."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self._time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        return


class Gate:
    """WSGI middleware: passes requests to the receiver, or answers 503 while ``down`` (for the
    paths it names: all when ``paths`` is empty)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.down = False
        self.paths: tuple[str, ...] = ()
        self.refused = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if self.down and (not self.paths or path.endswith(self.paths)):
            self.refused += 1
            return Response("receiver down", status=503)(environ, start_response)
        return self.app(environ, start_response)  # type: ignore[no-any-return]


class Host:
    """The workflow platform: accepts events into a list, or refuses the ones ``refuse`` picks."""

    def __init__(self) -> None:
        self.events: list[TriggerEvent] = []
        self.refusals = 0
        self.refuse: Callable[[TriggerEvent], bool] = lambda event: False
        self._lock = threading.Lock()

    def __call__(self, event: TriggerEvent) -> None:
        if self.refuse(event):
            self.refusals += 1
            raise RuntimeError("the host is busy")
        with self._lock:
            self.events.append(event)


class Harness:
    def __init__(self, tmp: Path, kind: str = "delegated", **sandbox: Any) -> None:
        from connector.webhooks import create_app
        from triggers.delivery import CallbackDelivery

        self.server = SandboxServer(SandboxConfig(**{**SANDBOX, **sandbox})).start()
        self.clock = Clock()
        self.store = Store(tmp / "state.db", clock=self.clock)
        self.connection = sandbox_connection(self.store, self.server.url, kind, name=f"trig-{kind}")  # type: ignore[arg-type]
        self.runtime = Runtime(store=self.store, strict_output=True)
        self.gate = Gate(create_app(self.store))
        self._receiver: BaseWSGIServer = make_server(
            "127.0.0.1", 0, self.gate, threaded=True, request_handler=_Quiet
        )
        self._thread = threading.Thread(
            target=self._receiver.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.public_url = f"http://127.0.0.1:{self._receiver.server_port}"
        self.host = Host()
        self.service = TriggerService(
            self.store, self.runtime, CallbackDelivery(self.host), public_url=self.public_url
        )
        self.hub = self.server.state.subscriptions
        self._graph: httpx.Client | None = None

    def close(self) -> None:
        self._receiver.shutdown()
        self._receiver.server_close()
        self._thread.join(5)
        if self._graph is not None:
            self._graph.close()
        self.runtime.close()
        self.store.close()
        self.server.stop()

    # -- driving ---------------------------------------------------------------------------------
    def deliver(self) -> int:
        """The sandbox POSTs what it has queued (one try per due batch); returns items delivered."""
        return self.hub.deliver_pending()

    def flush(self) -> int:
        """Deliver until the sandbox has nothing left, then process the queue; events delivered."""
        before = len(self.host.events)
        for _ in range(1000):
            self.hub.deliver_pending()
            if self.hub.pending_count() == 0:
                break
        self.service.process_all()
        return len(self.host.events) - before

    @property
    def graph(self) -> httpx.Client:
        """A plain Graph client as the default user, to make changes the trigger should see."""
        if self._graph is None:
            token = delegated_token(self.server.url)
            self._graph = httpx.Client(
                base_url=self.server.graph_url, headers={"Authorization": f"Bearer {token}"}, timeout=20
            )
        return self._graph

    def create_message(self, subject: str, folder: str = "inbox", **extra: Any) -> dict[str, Any]:
        body = {"subject": subject, "body": {"contentType": "text", "content": subject}, **extra}
        answer = self.graph.post(f"/me/mailFolders/{folder}/messages", json=body)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def update_message(self, message_id: str, **changes: Any) -> dict[str, Any]:
        answer = self.graph.patch(f"/me/messages/{message_id}", json=changes)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def delete_message(self, message_id: str) -> None:
        answer = self.graph.delete(f"/me/messages/{message_id}")
        assert answer.status_code == 204, answer.text

    def move_message(self, message_id: str, destination: str) -> dict[str, Any]:
        answer = self.graph.post(f"/me/messages/{message_id}/move", json={"destinationId": destination})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def folder_messages(self, folder: str = "inbox") -> dict[str, str]:
        """id -> changeKey of every message in the folder now."""
        found: dict[str, str] = {}
        url: str | None = f"/me/mailFolders/{folder}/messages?$select=id,changeKey&$top=1000"
        while url:
            page = self.graph.get(url).json()
            found.update({m["id"]: m["changeKey"] for m in page["value"]})
            url = page.get("@odata.nextLink")
        return found

    def subscription_ids(self) -> list[str]:
        return [s["id"] for s in self.hub.list()]


@contextmanager
def harness(tmp: Path, kind: str = "delegated", **sandbox: Any) -> Iterator[Harness]:
    made = Harness(tmp, kind, **sandbox)
    try:
        yield made
    finally:
        made.close()
