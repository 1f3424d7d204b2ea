"""Cold start: whole-process time of `outlook-connector run get_current_user` vs a minimal httpx script.

    .venv/bin/python bench/cold_start.py [--runs 15]

A sandbox runs in this process; a connection to it is saved in a temporary OUTLOOK_CONNECTOR_HOME
(so the CLI reads its token from the encrypted store, as a user's would). Each run starts a new
process; runs alternate between the CLI and the baseline script (which GETs /me with the same
token). Medians and their ratio are printed. Goal: at most 1.5x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import seed  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402

BASELINE = """
import sys, httpx
response = httpx.get(sys.argv[1] + "/v1.0/me", headers={"Authorization": "Bearer " + sys.argv[2]})
response.raise_for_status()
print(response.json()["userPrincipalName"])
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, done.stdout


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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("outlook-connector"))

    with SandboxServer() as server, tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "OUTLOOK_CONNECTOR_HOME": home}
        subprocess.run(
            [cli, "connect", "bench", "--sandbox", server.url], env=env, check=True, capture_output=True
        )
        token = delegated_token(server.url)
        run_cli = [cli, "run", "get_current_user", "--connection", "bench"]
        run_raw = [sys.executable, "-c", BASELINE, server.url, token]
        timed(run_cli, env), timed(run_raw, env)  # warm the file cache
        cli_s: list[float] = []
        raw_s: list[float] = []
        for _ in range(args.runs):
            elapsed, out = timed(run_raw, env)
            assert seed.DEFAULT_USER.lower() in out.lower()
            raw_s.append(elapsed)
            elapsed, out = timed(run_cli, env)
            assert seed.DEFAULT_USER.lower() in out.lower()
            cli_s.append(elapsed)

    raw_median, cli_median = statistics.median(raw_s), statistics.median(cli_s)
    print(f"runs: {args.runs} each, alternating")
    print(f"minimal httpx script:              {raw_median * 1000:7.1f} ms (median)")
    print(f"outlook-connector run get_current_user: {cli_median * 1000:7.1f} ms (median)")
    print(f"ratio cli/raw: {cli_median / raw_median:.3f}x  (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
