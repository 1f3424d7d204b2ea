"""The connections the page runs steps on: the store's saved connections, and a sandbox started on
the spot (on first use) with triggers that deliver their events to the page.

Everything runs through a ``Runtime``: the saved connections through the runtime the page was given
(over the user's store), the sandbox through one of its own over a throw-away store, so nothing of
the sandbox is left in the user's store when the page stops.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.errors import ConfigurationError, ConnectorError

if TYPE_CHECKING:
    from connections.base import Connection
    from connector.audit import Caller
    from connector.runtime import Runtime
    from connector.store import Store
    from sandbox.server import SandboxServer
    from triggers.delivery import Delivery, TriggerEvent
    from triggers.service import TriggerService
    from triggers.worker import Receiver, Worker


def ui_caller() -> Caller:
    """The page as the audit log names it: ``ui`` and the operating-system user who started it."""
    import getpass

    from connector.audit import Caller

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = ""
    return Caller(kind="ui", principal=user)


SANDBOX = "@sandbox"
"""The name the page uses for the sandbox started on the spot (not a saved connection's name)."""


POLL_EVERY = 2.0
"""Seconds between two polls of a polling trigger started from the page."""


@dataclass
class TriggerRun:
    """A trigger instance started from the page, the events it delivered so far and its last
    error (a polling trigger's failed poll)."""

    instance_id: str
    trigger_key: str
    events: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False
    error: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    poller: threading.Thread | None = None


class SandboxSession:
    """A sandbox server, a delegated connection to it in a throw-away store, and (once a trigger
    starts) a receiver and a worker that process its notifications."""

    def __init__(self, manifest_runtime: Runtime) -> None:
        from connections.sandbox import sandbox_connection
        from connector.policy import PRESETS
        from connector.runtime import Runtime
        from connector.store import Store
        from sandbox.config import SandboxConfig
        from sandbox.server import SandboxServer

        self._home = tempfile.TemporaryDirectory(prefix="outlook-connector-ui-")
        # a local sandbox: a subscription tried from the page may name a local http receiver
        self.server: SandboxServer = SandboxServer(SandboxConfig(http_notification_urls=True)).start()
        self.store: Store = Store(Path(self._home.name) / "state.db")
        try:
            self.connection: Connection = sandbox_connection(self.store, self.server.url, "delegated")
        except BaseException:
            self.store.close()
            self.server.stop()
            self._home.cleanup()
            raise
        # the sandbox is nobody's mailbox: its default policy allows everything (as `run --sandbox`);
        # the page's policy switch changes it like any connection's
        self.store.set_policy(None, PRESETS["open"].to_dict())
        self.runtime: Runtime = Runtime(manifest_runtime.manifest, store=self.store)
        self._lock = threading.Lock()
        self._delivered = threading.Condition(self._lock)
        self._runs: dict[str, TriggerRun] = {}
        self._service: TriggerService | None = None
        self._receiver: Receiver | None = None
        self._worker: Worker | None = None

    def _trigger_service(self) -> TriggerService:
        """The receiver, service and worker, started with the first trigger."""
        if self._service is None:
            from triggers.delivery import CallbackDelivery
            from triggers.service import TriggerService
            from triggers.worker import Receiver, Worker

            wake = threading.Event()
            self._receiver = Receiver(self.store, on_enqueued=lambda _: wake.set()).start()
            self._service = TriggerService(
                self.store, self.runtime, CallbackDelivery(self._record), public_url=self._receiver.url
            )
            self._worker = Worker(self._service, poll_every=1.0, wake=wake).start()
        return self._service

    def _record(self, event: TriggerEvent) -> None:
        with self._lock:
            run = self._runs.get(event.instance_id)
            if run is not None:
                run.events.append(event.to_json())
                self._delivered.notify_all()

    def start_trigger(self, key: str, raw_input: Any) -> TriggerRun:
        """Enable trigger ``key`` on the sandbox (bad input raises before any request): a webhook
        trigger subscribes to the receiver; a polling trigger is polled every ``POLL_EVERY`` s."""
        entry = self.runtime.manifest.triggers.get(key)
        if entry is not None and entry.get("kind") == "polling":
            return self._start_polling(key, raw_input)
        with self._lock:
            service = self._trigger_service()
            instance = service.enable(key, self.connection.name, raw_input or {})
            run = TriggerRun(instance.id, key)
            self._runs[instance.id] = run
            return run

    def _start_polling(self, key: str, raw_input: Any) -> TriggerRun:
        from triggers import polling
        from triggers.delivery import CallbackDelivery

        instance = polling.create_instance(
            self.store, self.runtime, key, self.connection.name, raw_input or {}, connection=self.connection
        )
        run = TriggerRun(instance.id, key)
        with self._lock:
            self._runs[instance.id] = run
        delivery = CallbackDelivery(self._record)
        # the first poll takes the cursor before the page is told the trigger listens
        polling.poll(self.store, self.runtime, delivery, run.instance_id, connection=self.connection)
        run.poller = threading.Thread(
            target=self._poll_loop, args=(run, delivery), name="ui-poll", daemon=True
        )
        run.poller.start()
        return run

    def _poll_loop(self, run: TriggerRun, delivery: Delivery) -> None:
        """Poll every ``POLL_EVERY`` seconds until stopped, delivering the changes since the last."""
        from triggers import polling

        while not run.stop.wait(POLL_EVERY):
            try:
                polling.poll(self.store, self.runtime, delivery, run.instance_id, connection=self.connection)
                error = None
            except ConnectorError as exc:
                error = exc.message
            with self._lock:
                run.error = error

    def events(
        self, instance_id: str, after: int, wait: float = 0.0
    ) -> tuple[list[dict[str, Any]], TriggerRun]:
        """The run's events after the first ``after``; with ``wait``, block up to that many seconds
        for one to come (a long poll)."""
        with self._lock:
            run = self._runs.get(instance_id)
            if run is None:
                raise ConfigurationError(f"no trigger started here with instance id {instance_id!r}")
            if wait > 0:
                self._delivered.wait_for(lambda: len(run.events) > after or run.stopped, timeout=wait)
            return list(run.events[after:]), run

    def stop_trigger(self, instance_id: str) -> None:
        with self._lock:
            run = self._runs.get(instance_id)
            if run is None:
                raise ConfigurationError(f"no trigger started here with instance id {instance_id!r}")
        if run.poller is not None:
            run.stop.set()
            run.poller.join()
        with self._lock:
            if not run.stopped:
                if run.poller is None and self._service is not None:
                    self._service.disable(instance_id)
                run.stopped = True
                self._delivered.notify_all()

    def close(self) -> None:
        for run in list(self._runs.values()):
            run.stop.set()
            if run.poller is not None:
                run.poller.join()
        if self._worker is not None:
            self._worker.stop()
        if self._receiver is not None:
            self._receiver.stop()
        self.runtime.close()
        self.server.stop()
        self.store.close()
        self._home.cleanup()


class Workspace:
    """Resolves a connection name from the page to ``(runtime, connection)``."""

    def __init__(self, runtime: Runtime, store: Store) -> None:
        self.runtime = runtime
        self.store = store
        self._sandbox: SandboxSession | None = None
        self._lock = threading.Lock()

    def connections(self) -> list[dict[str, Any]]:
        """The saved connections (type and health, never secrets), then the sandbox."""
        from connections.registry import connection_summary

        saved = [{**connection_summary(record), "kind": "saved"} for record in self.store.list_connections()]
        session = self._sandbox
        sandbox = {
            "name": SANDBOX,
            "type": "oauth2_code",
            "kind": "sandbox",
            "detail": session.server.graph_url if session else "a local Graph, started on first use",
        }
        return [*saved, sandbox]

    def sandbox(self) -> SandboxSession:
        with self._lock:
            if self._sandbox is None:
                self._sandbox = SandboxSession(self.runtime)
            return self._sandbox

    def policy_scope(self, name: str) -> tuple[Runtime, str]:
        """The runtime whose store holds connection ``name``'s policy, and the name it is stored under."""
        if name == SANDBOX:
            session = self.sandbox()
            return session.runtime, session.connection.name
        if self.store.get_connection(name) is None:
            raise ConfigurationError(f"no connection named {name!r}")
        return self.runtime, name

    def resolve(self, name: str | None) -> tuple[Runtime, Connection]:
        if not name:
            raise ConfigurationError("choose a connection (or the sandbox)")
        if name == SANDBOX:
            session = self.sandbox()
            return session.runtime, session.connection
        from connections.registry import load_connection

        return self.runtime, load_connection(self.store, name)

    def close(self) -> None:
        with self._lock:
            if self._sandbox is not None:
                self._sandbox.close()
                self._sandbox = None
