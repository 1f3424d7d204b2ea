"""The local runner: ``outlook-connector ...``, one module per command group.

``main`` (in ``_common``) is the root group; it imports a command's modules (which register it)
when that command is used (``_common.LAZY_COMMANDS``), to keep ``run`` quick to start. ``entry``
is the console script (and ``python -m connector.cli``).
"""

import atexit
import gc
from typing import Any

from connector.cli import _common
from connector.cli._common import main

__all__ = ["entry", "main"]


def entry() -> Any:
    """Run the CLI as its own process.

    The interpreter's exit sweeps every object the imports created (pydantic's schemas, the
    manifest, ...) for reference cycles: a tenth or more of a short command's CPU time. Freezing
    them when the process ends (the last exit handler, after logging's and temporary files') skips
    that sweep; objects are still freed by reference counting, and the CLI closes its store and
    files itself (Python never promised finalizers of cycles left at exit would run).
    """
    _common.OWN_PROCESS = True
    atexit.register(gc.freeze)
    return main()
