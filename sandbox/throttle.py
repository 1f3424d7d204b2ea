"""Outlook's per app + mailbox limits: requests in flight, and requests per time window."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

ThrottleKey = tuple[str, str]
"""(app id, mailbox) - the unit Outlook throttles."""


@dataclass(frozen=True)
class Rejection:
    message: str
    retry_after: float


class Throttle:
    def __init__(
        self,
        max_concurrent: int,
        requests_per_window: int,
        window_seconds: float,
        concurrency_retry_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.requests_per_window = requests_per_window
        self.window_seconds = window_seconds
        self.concurrency_retry_after = concurrency_retry_after
        self._clock = clock
        self._changed = threading.Condition()
        self._in_flight: dict[ThrottleKey, int] = {}
        self._recent: dict[ThrottleKey, deque[float]] = {}

    def acquire(self, key: ThrottleKey) -> Rejection | None:
        """Admit a request (call ``release`` when it ends), or say why not."""
        with self._changed:
            now = self._clock()
            recent = self._recent.setdefault(key, deque())
            while recent and recent[0] <= now - self.window_seconds:
                recent.popleft()
            if self._in_flight.get(key, 0) >= self.max_concurrent:
                return Rejection(
                    "Application is over its MailboxConcurrency limit.", self.concurrency_retry_after
                )
            if len(recent) >= self.requests_per_window:
                wait = recent[0] + self.window_seconds - now
                return Rejection(  # whole seconds, at least one, as Graph sends
                    "Application is over its request rate limit for this mailbox.", max(math.ceil(wait), 1)
                )
            recent.append(now)
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
            self._changed.notify_all()
            return None

    def release(self, key: ThrottleKey) -> None:
        with self._changed:
            remaining = self._in_flight.get(key, 0) - 1
            if remaining > 0:
                self._in_flight[key] = remaining
            else:
                self._in_flight.pop(key, None)
            self._changed.notify_all()

    def in_flight(self, key: ThrottleKey | None = None) -> int:
        with self._changed:
            return self._in_flight.get(key, 0) if key else sum(self._in_flight.values())

    def wait_for_in_flight(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests are in flight (all keys); False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: sum(self._in_flight.values()) >= count, timeout)

    def reset(self) -> None:
        with self._changed:
            self._recent.clear()


def format_retry_after(seconds: float) -> str:
    """Retry-After as Graph sends it: whole seconds (rounded up from a second on; the short waits
    under a second that tests configure round to the nearest, so 0.1 is ``0``)."""
    if seconds >= 1:
        return str(math.ceil(seconds - 1e-9))
    return str(round(max(seconds, 0.0)))
