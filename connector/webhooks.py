"""The receiver of Microsoft Graph change and lifecycle notifications (a Flask app factory).

    gunicorn --workers 2 --bind 0.0.0.0:8000 'connector.webhooks:create_app()'

Each trigger instance has its own opaque URLs: ``POST /hooks/<instance_id>/notifications`` and
``POST /hooks/<instance_id>/lifecycle``. The receiver only checks and persists; it never calls
Graph (Graph wants the answer within 3 seconds). For each POST:

- ``?validationToken=...`` (Graph validating a new subscription): 200, ``text/plain``, the decoded
  token - for a known, enabled instance only.
- unknown or disabled instance: 404 (a paused instance still accepts and queues);
  a body over ``max_body_bytes``: 413 (Content-Length checked first, the streamed read capped too);
  a body that is not JSON ``{"value": [{...}, ...]}``: 400.
- each item's ``clientState`` is compared in constant time with the instance's secret; a wrong
  one is dropped and logged (never the secret, never the value received), never queued.
- the good items are written to the store in one transaction (``kind`` "lifecycle" for items
  carrying ``lifecycleEvent``, else "change"; ``clientState`` removed, the body's
  ``validationTokens`` copied onto each item) BEFORE the 202 answer. Requests that wait while
  another one of the same process is writing share its next transaction (group commit); a
  request's items are never split. If the write fails the answer is 503, so Graph sends the
  batch again; nothing is half written.
- the clientState is read from the store once per instance and process; the transaction that
  queues the items re-checks the instance (not disabled, same stored clientState), so a disabled,
  deleted or re-keyed instance is never written to from that cache.

``create_app()`` without a store opens ``$OUTLOOK_CONNECTOR_HOME/state.db`` once per process (each
gunicorn worker has its own pooled connections; the queue is safe across processes).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from flask import Flask, Response, request

from connector.store import ReceiverAccess, Store

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1_000_000
"""Graph sends at most 100 items per POST (rich ones are a few KB each)."""

_INSTANCE_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
_READ_CHUNK = 64 * 1024


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(
    store: Store | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    on_enqueued: Callable[[str], None] | None = None,
) -> Flask:
    """The receiver app. ``on_enqueued(instance_id)`` is called after notifications were
    committed (e.g. to wake a processor thread in the same process); its errors are logged only."""
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be positive")
    state = store if store is not None else Store()
    state.cipher()  # a wrong or missing key fails at start, not on the first notification

    writer = _GroupWriter(state)
    accesses = _Accesses(state)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = None  # checked below, with our own answer

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            with state.read() as db:
                db.execute("SELECT 1 FROM trigger_instances LIMIT 1").fetchall()
        except Exception:
            log.exception("health check: the state store is not usable")
            return _text("store unavailable\n", 503)
        return _text("ok\n", 200)

    @app.post("/hooks/<instance_id>/notifications")
    def notifications(instance_id: str) -> Response:
        return _receive(instance_id)

    @app.post("/hooks/<instance_id>/lifecycle")
    def lifecycle(instance_id: str) -> Response:
        return _receive(instance_id)

    def _receive(instance_id: str) -> Response:
        token = request.args.get("validationToken")
        if token is not None:
            if accesses.fresh(instance_id) is None:
                return _text("unknown trigger\n", 404)
            return _text(token, 200)  # request.args is URL-decoded

        length = request.content_length
        if length is not None and length > max_body_bytes:
            return _text("notification body too large\n", 413)
        access = accesses.get(instance_id)
        cached = access is not None
        if access is None and (access := accesses.fresh(instance_id)) is None:
            return _text("unknown trigger\n", 404)
        try:
            items, validation_tokens = _parse(_read_body(max_body_bytes))
        except _BadRequest as exc:
            return _text(exc.message + "\n", exc.status)
        received = [item.pop("clientState", None) for item in items]

        while True:  # twice at most: an access from the cache that the store refuses is read again
            rows = _accepted(items, received, access.client_state, validation_tokens)
            if rows:
                try:
                    if writer.write(instance_id, access.sealed_client_state, rows):
                        break
                except Exception:
                    log.exception("trigger %s: could not store %d notification(s)", instance_id, len(rows))
                    return _text("could not store the notifications; send them again\n", 503)
            elif not cached:
                break  # nothing to queue, checked against the instance as stored now
            if not cached:  # refused although just read: disabled or deleted meanwhile
                return _text("unknown trigger\n", 404)
            cached = False
            if (access := accesses.fresh(instance_id)) is None:
                return _text("unknown trigger\n", 404)

        if len(rows) < len(items):
            log.warning(
                "trigger %s: dropped %d of %d notification item(s) with a wrong or missing clientState",
                instance_id,
                len(items) - len(rows),
                len(items),
            )
        if rows and on_enqueued is not None:
            try:
                on_enqueued(instance_id)
            except Exception:
                log.exception("trigger %s: the on_enqueued callback failed", instance_id)
        return Response(status=202)

    return app


def _accepted(
    items: list[dict[str, Any]],
    received: list[Any],
    client_state: str,
    validation_tokens: list[Any] | None,
) -> list[tuple[str, dict[str, Any]]]:
    """(kind, item) of the items whose clientState (``received``, taken out of the items) is the
    instance's, compared in constant time; rich notifications' validationTokens copied onto each."""
    expected = client_state.encode("utf-8")
    rows: list[tuple[str, dict[str, Any]]] = []
    for item, state in zip(items, received, strict=True):
        if isinstance(state, str) and hmac.compare_digest(state.encode("utf-8"), expected):
            if validation_tokens is not None:
                item["validationTokens"] = validation_tokens
            rows.append(("lifecycle" if "lifecycleEvent" in item else "change", item))
    return rows


class _Accesses:
    """The instances' clientStates, read once per process: the store re-checks the sealed value
    (and the status) in the same transaction that queues the items, so a stale entry can only
    cause one more read, never an item accepted against an old secret or a disabled instance."""

    _LIMIT = 4096

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[str, ReceiverAccess] = {}

    def get(self, instance_id: str) -> ReceiverAccess | None:
        return self._known.get(instance_id)

    def fresh(self, instance_id: str) -> ReceiverAccess | None:
        """Read from the store: None if the instance is unknown or disabled (a paused one still
        accepts and queues)."""
        self._known.pop(instance_id, None)
        if not _INSTANCE_ID.fullmatch(instance_id):
            return None
        access = self.store.receiver_access(instance_id)
        if access is None or access.status == "disabled":
            return None
        if len(self._known) >= self._LIMIT:
            self._known.clear()
        self._known[instance_id] = access
        return access


class _Job:
    __slots__ = ("done", "error", "instance_id", "queued", "rows", "sealed")

    def __init__(self, instance_id: str, sealed: bytes, rows: list[tuple[str, dict[str, Any]]]) -> None:
        self.instance_id = instance_id
        self.sealed = sealed
        self.rows = rows
        self.done = False
        self.queued = False
        self.error: BaseException | None = None


class _GroupWriter:
    """Group commit: the items of requests that arrive while another request of this process is
    writing are committed together, by the next request to get the write lock, in one
    transaction. Each request still returns only after its own items are committed (or raises),
    and a request's items are never split between transactions. Across processes the writers take
    turns on a store lock (a kernel lock that wakes the next one at once, where SQLite's busy
    handler would sleep and poll)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[_Job] = []
        self._guard = threading.Lock()
        self._write = threading.Lock()
        self._lock_fd: tuple[int, int] | None = None  # (pid, fd) of the cross-process lock file

    def write(self, instance_id: str, sealed: bytes, rows: list[tuple[str, dict[str, Any]]]) -> bool:
        """Queue the rows (see ``Store.enqueue_checked_notifications``); False if the store refused
        them (instance gone, disabled, or its clientState changed)."""
        job = _Job(instance_id, sealed, rows)
        with self._guard:
            self._pending.append(job)
        with self._write:
            if not job.done:  # nobody took it along: write it and whatever else is waiting
                with self._guard:
                    jobs, self._pending = self._pending, []
                self._commit(jobs)
        if job.error is not None:
            raise job.error
        return job.queued

    def _commit(self, jobs: list[_Job]) -> None:
        try:
            with self._across_processes():
                queued = self.store.enqueue_checked_notifications(
                    [(job.instance_id, job.sealed, job.rows) for job in jobs]
                )
            for job, ok in zip(jobs, queued, strict=True):
                job.queued = ok
        except Exception as exc:  # nothing was written: each request answers 503
            for job in jobs:
                job.error = exc
        finally:
            for job in jobs:
                job.done = True

    @contextlib.contextmanager
    def _across_processes(self) -> Iterator[None]:
        """An flock on a file kept open by this process (called with ``_write`` held)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: SQLite's own locking only
            yield
            return
        if self._lock_fd is None or self._lock_fd[0] != os.getpid():  # new, or forked
            self.store.lock_dir.mkdir(mode=0o700, exist_ok=True)
            path = self.store.lock_dir / "notification-receiver-write.lock"
            self._lock_fd = (os.getpid(), os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        fd = self._lock_fd[1]
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _text(body: str, status: int) -> Response:
    response = Response(body, status=status, mimetype="text/plain")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _read_body(limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes whatever Content-Length said."""
    if request.content_length is not None:  # checked against the limit; werkzeug reads no more than it
        return request.get_data(cache=False)
    stream = request.stream
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(_READ_CHUNK, limit + 1 - total))
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise _BadRequest(413, "notification body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """The items of ``{"value": [...]}`` and the body's ``validationTokens`` (rich notifications)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _BadRequest(400, "the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        raise _BadRequest(400, 'the body is not a notification collection {"value": [...]}')
    items = data["value"]
    if not all(isinstance(item, dict) for item in items):
        raise _BadRequest(400, "every notification in value must be an object")
    tokens = data.get("validationTokens")
    if tokens is not None and not isinstance(tokens, list):
        raise _BadRequest(400, "validationTokens must be a list")
    return items, tokens
