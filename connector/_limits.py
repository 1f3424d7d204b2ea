"""Graph's per app+mailbox concurrency limit, shared by every thread and client in the process,
and the protocol of a pool shared with other processes (``connector.store.slots``)."""

from __future__ import annotations

import queue
import re
import threading
from typing import Protocol
from urllib.parse import unquote

# A slot pool is a SimpleQueue pre-filled with ``limit`` tokens: get() takes a slot (blocking while
# none is free), put() gives it back. It acts as a bounded semaphore (a caller only returns the token
# it took) but is implemented in C: ~0.1 us per acquire+release against ~1-5 us for
# threading.BoundedSemaphore, which is written in Python on top of a Condition.
Slots = queue.SimpleQueue[None]


class SharedSlots(Protocol):
    """Slots shared with other processes and machines, taken after the process-wide ones."""

    def acquire(self, key: str, count: int, seconds: float) -> object:
        """Wait for ``count`` slots of ``key`` (all or none), held at most ``seconds`` (then they
        free themselves: a holder that died); a token for ``release``. Raises only the
        connector's errors (nothing is sent then)."""
        ...

    def release(self, token: object) -> None:
        """Give back what ``acquire`` took; never raises."""
        ...


_registry: dict[str, Slots] = {}
_registry_lock = threading.Lock()

# "/me", "/me/...", "/users/{id}/...", "/users('{id}')/..." at the start of a path below the version.
_MAILBOX_RE = re.compile(r"/(?:(me)(?=[/?#(]|$)|users/([^/?#]+)|users\('([^']+)'\))", re.IGNORECASE)


def slots(key: str, limit: int) -> Slots:
    """The process-wide slot pool for ``key``; ``limit`` applies when it is first created."""
    pool = _registry.get(key)
    if pool is None:
        with _registry_lock:
            pool = _registry.get(key)
            if pool is None:
                pool = queue.SimpleQueue()
                for _ in range(limit):
                    pool.put(None)
                _registry[key] = pool
    return pool


_several_lock = threading.Lock()


def take(pool: Slots, count: int) -> None:
    """Take ``count`` slots (blocking). One taker of several slots at a time, so two of them can never
    each hold part of the pool while waiting for the rest; single-slot takers are not held up."""
    with _several_lock:
        for _ in range(count):
            pool.get()


def give_back(pool: Slots, count: int) -> None:
    for _ in range(count):
        pool.put(None)


def mailbox_of(path: str) -> str:
    """``/me/...`` -> ``"me"``; ``/users/{id}/...`` -> the id, decoded and lowercased; else ``""``.

    ``path`` is relative to the version (``/me/messages``, not ``/v1.0/me/messages``).
    """
    match = _MAILBOX_RE.match(path)
    if match is None:
        return ""
    if match.group(1):
        return "me"
    user = match.group(2) or match.group(3)
    return unquote(user).lower()
