"""Cold start: whole-process time of `outlook-connector run get_current_user` vs a minimal httpx script.

    .venv/bin/python bench/cold_start.py [--runs 15]

A sandbox runs in this process; a connection to it is saved in a temporary OUTLOOK_CONNECTOR_HOME
(so the CLI reads its token from the encrypted store, as a user's would). Each run starts a new
process; runs alternate between the CLI and the baseline script (which GETs /me with the same
token). Medians of wall-clock and CPU time and their ratios are printed, then where the CLI's
imports spend their time
(``python -X importtime``, self time summed by package). Goal: at most 1.7x.

Both run as an installed package runs: from compiled bytecode (the project is compiled first, and
PYTHONDONTWRITEBYTECODE is dropped for the children), since pip compiles what it installs.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import seed  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402

GOAL = 1.7
PROJECT_PACKAGES = ("connector", "connections", "actions", "triggers")
BASELINE = """
import sys, httpx
response = httpx.get(sys.argv[1] + "/v1.0/me", headers={"Authorization": "Bearer " + sys.argv[2]})
response.raise_for_status()
print(response.json()["userPrincipalName"])
"""
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall-clock seconds, CPU seconds (user + system) of the process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, done.stdout


def delegated_token(server_url: str) -> str:
    """A user token for the baseline, through the same PKCE flow the CLI's connection used."""
    from connections.sandbox import sandbox_connection
    from connector.store import Store

    with tempfile.TemporaryDirectory() as home:
        store = Store(Path(home) / "state.db")
        connection = sandbox_connection(store, server_url, "delegated", name="baseline")
        request = httpx.Request("GET", server_url + "/v1.0/me")
        flow = connection.auth().sync_auth_flow(request)
        signed = next(flow)
        store.close()
    return signed.headers["Authorization"].removeprefix("Bearer ")


def _group(module: str) -> str:
    top = module.split(".")[0]
    if top in PROJECT_PACKAGES:
        return ".".join(module.split(".")[:2]) if top == "connector" else top
    if top in sys.stdlib_module_names or top.startswith("_"):
        return "(standard library)"
    return top


def import_breakdown(command: list[str], env: dict[str, str]) -> tuple[Counter[str], int, list[str]]:
    """Self import time (µs) by package, the total, and the project modules imported, of one run."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command], env=env, capture_output=True, text=True, check=True
    )
    by_group: Counter[str] = Counter()
    project: list[str] = []
    for line in done.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            module = match.group(4)
            by_group[_group(module)] += int(match.group(1))
            if module.split(".")[0] in PROJECT_PACKAGES:
                project.append(module)
    return by_group, sum(by_group.values()), project


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("outlook-connector"))
    for package in PROJECT_PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)

    with SandboxServer() as server, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "OUTLOOK_CONNECTOR_HOME": home}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [cli, "connect", "bench", "--sandbox", server.url], env=env, check=True, capture_output=True
        )
        token = delegated_token(server.url)
        run_cli = [cli, "run", "get_current_user", "--connection", "bench"]
        run_raw = [sys.executable, "-c", BASELINE, server.url, token]
        timed(run_cli, env), timed(run_raw, env)  # warm the file cache (and write the manifest cache)
        cli_s: list[float] = []
        raw_s: list[float] = []
        cli_cpu: list[float] = []
        raw_cpu: list[float] = []
        for _ in range(args.runs):
            elapsed, cpu, out = timed(run_raw, env)
            assert seed.DEFAULT_USER.lower() in out.lower()
            raw_s.append(elapsed)
            raw_cpu.append(cpu)
            elapsed, cpu, out = timed(run_cli, env)
            assert seed.DEFAULT_USER.lower() in out.lower()
            cli_s.append(elapsed)
            cli_cpu.append(cpu)
        cli_imports, cli_total, project = import_breakdown(run_cli, env)
        _, raw_total, _ = import_breakdown(run_raw[1:], env)

    raw_median, cli_median = statistics.median(raw_s), statistics.median(cli_s)
    raw_cpu_median, cli_cpu_median = statistics.median(raw_cpu), statistics.median(cli_cpu)
    print(f"runs: {args.runs} each, alternating; medians of wall-clock time and of the process's CPU time")
    for name, wall, cpu in (
        ("minimal httpx script", raw_median, raw_cpu_median),
        ("outlook-connector run get_current_user", cli_median, cli_cpu_median),
    ):
        print(f"{name + ':':<40}{wall * 1000:7.1f} ms wall, {cpu * 1000:6.1f} ms CPU")
    wall_ratio, cpu_ratio = cli_median / raw_median, cli_cpu_median / raw_cpu_median
    print(f"ratio cli/raw: {wall_ratio:.3f}x wall, {cpu_ratio:.3f}x CPU  (goal <= {GOAL}x)")
    print("(on a loaded machine the wall-clock ratio swings; CPU time is the steadier figure)")
    if importlib.util.find_spec("trio") is not None:
        print(
            "note: trio is installed here (selenium's dependency, a dev extra) and httpcore imports it in"
            " both processes, which narrows the ratio; measure in a venv without the dev extras"
            " (`pip install -e .`) for a user's figure"
        )
    print()
    print(f"imports (python -X importtime, self time, one run): cli {cli_total / 1000:.1f} ms,", end=" ")
    print(f"baseline {raw_total / 1000:.1f} ms")
    for group, micros in cli_imports.most_common(14):
        print(f"  {group:<28} {micros / 1000:6.1f} ms  {micros * 100 / cli_total:4.1f}%")
    print(f"project modules imported ({len(project)}): {' '.join(sorted(project))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
