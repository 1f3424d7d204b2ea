"""Sandbox app creation: a fresh sandbox app (one per test, or per `reset`) against the first one of
the process, which also generates the seeded tenant.

    .venv/bin/python bench/sandbox_app.py [--runs 20]

Prints the first creation, the median and worst of the later ones, and their ratio. Goal: a later app
costs at most a third of the first (the generated tenant is cached per process).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.app import create_app  # noqa: E402
from sandbox.config import SandboxConfig  # noqa: E402

ANCHOR = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    create_app(SandboxConfig(anchor=ANCHOR))
    first = time.perf_counter() - started
    later = []
    for _ in range(args.runs):
        started = time.perf_counter()
        create_app(SandboxConfig(anchor=ANCHOR))
        later.append(time.perf_counter() - started)
    median = statistics.median(later)
    print(f"first app (generates the tenant): {first * 1000:8.1f} ms")
    worst = max(later) * 1000
    print(f"later apps, median of {args.runs}:      {median * 1000:8.1f} ms (worst {worst:.1f} ms)")
    print(f"ratio later / first:              {median / first:8.2f} (goal: at most 0.33)")


if __name__ == "__main__":
    main()
