"""Seeded fault injection: which request fails, how, and whether before or after it was processed."""

from __future__ import annotations

import fnmatch
import random
import threading
from dataclasses import dataclass, field

from sandbox.config import FAULT_KINDS, GRAPH_PREFIX, SandboxConfig


@dataclass(frozen=True)
class Fault:
    kind: str
    """One of FAULT_KINDS."""
    retry_after: float | None = None
    slow_seconds: float = 0.0

    @property
    def after(self) -> bool:
        """True when the request is processed first and the fault replaces the answer."""
        return self.kind.endswith("_after")

    @property
    def status(self) -> int | None:
        head = self.kind.split("_")[0]
        return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class FaultRecord:
    index: int
    """Position of the request in the sandbox's request log."""
    method: str
    path: str
    kind: str
    phase: str
    """``before`` (the request was not processed) or ``after`` (it was processed, then failed)."""


@dataclass
class FaultSettings:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    paths: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    slow_seconds: float = 0.2
    retry_after: tuple[float, ...] = (0.01, 0.05, 0.1)

    @classmethod
    def from_config(cls, config: SandboxConfig) -> FaultSettings:
        return cls(
            dict(config.fault_rates),
            config.fault_seed,
            tuple(config.fault_paths),
            tuple(m.upper() for m in config.fault_methods),
            config.slow_seconds,
            tuple(config.fault_retry_after),
        )

    def validate(self) -> None:
        unknown = set(self.rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if any(rate < 0 for rate in self.rates.values()) or sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        if not self.retry_after:
            raise ValueError("retry_after needs at least one value")


class FaultInjector:
    def __init__(self, settings: FaultSettings) -> None:
        self._lock = threading.Lock()
        self.log: list[FaultRecord] = []
        self.configure(settings)

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings and restart the seeded sequence."""
        settings.validate()
        with self._lock:
            self.settings = settings
            self._rng = random.Random(settings.seed)

    def eligible(self, method: str, path: str) -> bool:
        settings = self.settings
        if settings.methods and method.upper() not in settings.methods:
            return False
        if not settings.paths:
            return path.startswith(GRAPH_PREFIX)
        return any(fnmatch.fnmatchcase(path, p) if "*" in p else path.startswith(p) for p in settings.paths)

    def draw(self, method: str, path: str) -> Fault | None:
        """The fault for this request, if any: one seeded draw per eligible request."""
        with self._lock:
            settings = self.settings
            if not any(settings.rates.values()) or not self.eligible(method, path):
                return None
            roll = self._rng.random()
            edge = 0.0
            for kind in FAULT_KINDS:
                edge += settings.rates.get(kind, 0.0)
                if roll < edge:
                    retry_after = (
                        self._rng.choice(settings.retry_after) if kind.startswith(("429", "503")) else None
                    )
                    return Fault(kind, retry_after, settings.slow_seconds if kind == "slow" else 0.0)
            return None

    def record(self, index: int, method: str, path: str, fault: Fault) -> None:
        with self._lock:
            self.log.append(
                FaultRecord(index, method, path, fault.kind, "after" if fault.after else "before")
            )
