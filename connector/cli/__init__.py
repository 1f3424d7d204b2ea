"""The local runner: ``outlook-connector ...``, one module per command group.

``main`` (in ``_common``) is the root group; importing each module registers its commands.
"""

from connector.cli import (
    actions,
    agents,
    connections,
    manifest,
    polling,
    sandbox,
    sync,
    triggers,
    ui,
)
from connector.cli._common import main

__all__ = [
    "actions",
    "agents",
    "connections",
    "main",
    "manifest",
    "polling",
    "sandbox",
    "sync",
    "triggers",
    "ui",
]
