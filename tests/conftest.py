"""Shared fixtures. The Graph conformance plugin checks every Graph request the suite sends."""

from __future__ import annotations

pytest_plugins = ["tests.support.graph_conformance"]
