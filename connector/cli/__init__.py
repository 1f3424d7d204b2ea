"""The local runner: ``outlook-connector ...``, one module per command group.

``main`` (in ``_common``) is the root group; it imports a command's modules (which register it)
when that command is used (``_common.LAZY_COMMANDS``), to keep ``run`` quick to start.
"""

from connector.cli._common import main

__all__ = ["main"]
