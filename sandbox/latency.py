"""The latency model: each Graph request takes a service time like Graph's, so a busy client meets the
4-concurrent-requests limit and the per-window budget the way it would on Graph (switchable; off by
default so tests stay fast)."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class LatencyModel:
    """Log-normal service times around typical Graph figures for small Outlook items (reads ~100 ms,
    writes ~200 ms at the median; our estimate, not a figure Microsoft publishes), capped; seeded so a
    run can be repeated. At these times 4 concurrent requests can just spend Outlook's 10,000 requests
    per 10 minutes, so a busy client meets both limits, as on Graph."""

    read_median: float = 0.10
    """Median seconds of a GET."""
    write_median: float = 0.20
    """Median seconds of a POST, PATCH, PUT or DELETE."""
    spread: float = 0.30
    """Standard deviation of the log of the time (0: every request takes the median)."""
    max_seconds: float = 2.0
    seed: int = 0

    def validate(self) -> None:
        if min(self.read_median, self.write_median, self.spread, self.max_seconds) < 0:
            raise ValueError("latency model figures must be >= 0")


class Latency:
    """Draws and waits out each request's service time (thread-safe)."""

    def __init__(self, model: LatencyModel) -> None:
        self.model = model
        self._random = random.Random(model.seed)
        self._lock = threading.Lock()

    def draw(self, method: str) -> float:
        median = self.model.read_median if method in ("GET", "HEAD") else self.model.write_median
        with self._lock:
            factor = math.exp(self._random.gauss(0.0, self.model.spread)) if self.model.spread else 1.0
        return min(self.model.max_seconds, median * factor)

    def wait(self, method: str) -> None:
        time.sleep(self.draw(method))
