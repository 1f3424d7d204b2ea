"""Retry rules: the policy, Retry-After parsing, backoff and which failures are safe to retry."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime

import httpx

# Methods retried on any retryable failure. PATCH on Graph sets properties to given values, so a
# repeated PATCH leaves the same state: we treat it as idempotent. POST is not, unless the caller says so.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})

# Answers Graph gives before processing a request: retrying them cannot apply a request twice.
UNPROCESSED_STATUSES = frozenset({429, 503})

# Failures before the request left this process (no connection, or no free pooled connection).
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

# Transient transport failures worth another attempt (for idempotent requests).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


def equal_jitter(delay: float) -> float:
    """A random wait between half the delay and the delay."""
    return delay * (0.5 + random.random() / 2)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    ``max_attempts`` counts every send (first try included). ``max_total_wait`` bounds the sum of
    the waits between attempts: when the next wait would pass it, the client stops and raises.
    Without ``Retry-After`` the wait is ``jitter(min(backoff_max, backoff_base * 2 ** (n - 1)))``
    before retry ``n``.
    """

    max_attempts: int = 5
    max_total_wait: float = 60.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_statuses: tuple[int, ...] = (429, 503, 504)
    jitter: Callable[[float], float] = equal_jitter

    def backoff(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1 for the first retry)."""
        delay = min(self.backoff_max, self.backoff_base * (2 ** (retry - 1)))
        return max(0.0, self.jitter(delay))


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: integer or fractional seconds, or an HTTP date.

    None when absent or unreadable; never negative.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000" means UTC too
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now())
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
