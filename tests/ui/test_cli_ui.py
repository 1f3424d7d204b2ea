"""``outlook-connector ui`` serves the page on 127.0.0.1 and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx


def test_ui_command_serves_the_page_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "OUTLOOK_CONNECTOR_HOME": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "ui", "--port", "0", "--no-open"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("step runner at http://127.0.0.1:"), line
        url = line.split()[3]
        catalogue = httpx.get(url + "api/catalogue", timeout=30).json()
        assert any(group["name"] == "messages" for group in catalogue["groups"])
        connections = httpx.get(url + "api/connections", timeout=30).json()["connections"]
        assert [c["name"] for c in connections] == ["@sandbox"]  # an empty store: the sandbox only
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
