"""Shared fixtures. The Graph conformance plugin checks every Graph request the suite sends."""

from __future__ import annotations

import os

os.environ.setdefault("OUTLOOK_CONNECTOR_STRICT_OUTPUT", "1")  # an output that breaks its schema fails a test

pytest_plugins = ["tests.support.graph_conformance"]
