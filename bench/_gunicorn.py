"""Run a WSGI app under gunicorn on a free loopback port, for benchmarks and tests.

    with Gunicorn("connector.webhooks:create_app()", env={...}) as server:
        httpx.post(server.url + "/hooks/...", ...)

gunicorn binds port 0 and prints the port it got ("Listening at: http://127.0.0.1:PORT"); the
server is ready when every worker answers (``ready_path`` polled with a deadline, no fixed sleep).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
_LISTENING = re.compile(r"Listening at: (http://\S+)")
_BOOTED = re.compile(r"Booting worker with pid: (\d+)")


class GunicornError(RuntimeError):
    """gunicorn did not start (its log is in the message)."""


class Gunicorn:
    """A gunicorn process serving ``app`` (``module:callable()``); stop() ends it and only it."""

    def __init__(
        self,
        app: str,
        *,
        workers: int = 2,
        worker_class: str = "gthread",
        threads: int = 4,
        env: Mapping[str, str] | None = None,
        ready_path: str = "/healthz",
        start_timeout: float = 30.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.env = dict(env or {})
        self.ready_path = ready_path
        self.start_timeout = start_timeout
        self.extra_args = extra_args
        self.url = ""
        self.worker_pids: list[int] = []
        self._log: list[str] = []
        self._changed = threading.Condition()
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> Gunicorn:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            "127.0.0.1:0",
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--threads",
            str(self.threads),
            "--log-level",
            "info",
            "--chdir",
            str(ROOT),
            *self.extra_args,
            self.app,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )
        threading.Thread(target=self._read_log, name="gunicorn-log", daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        with self._changed:
            while not (self.url and len(self.worker_pids) >= self.workers):
                if self._process.poll() is not None or time.monotonic() >= deadline:
                    self.stop()
                    raise GunicornError("gunicorn did not start:\n" + self.log())
                self._changed.wait(max(0.0, min(1.0, deadline - time.monotonic())))
        self._wait_ready(deadline)
        return self

    def _read_log(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            with self._changed:
                self._log.append(line)
                if match := _LISTENING.search(line):
                    self.url = match.group(1)
                if match := _BOOTED.search(line):
                    self.worker_pids.append(int(match.group(1)))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _wait_ready(self, deadline: float) -> None:
        """Poll ``ready_path`` until it answers 200. A worker accepts connections only once it has
        loaded the app, so one answer means requests are served (the others wait in the backlog)."""
        with httpx.Client(timeout=2.0) as client:
            while True:
                try:
                    if client.get(self.url + self.ready_path).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() >= deadline:
                    self.stop()
                    raise GunicornError(f"gunicorn never answered {self.ready_path}:\n" + self.log())
                with self._changed:  # until a log line arrives (a worker booted), at most 50 ms
                    self._changed.wait(0.05)

    def log(self) -> str:
        with self._changed:
            return "".join(self._log)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # graceful: gunicorn stops its workers
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
