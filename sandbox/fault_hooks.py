"""Applying injected faults to Flask requests: answer early, drop the connection, or fail afterwards.

Each blueprint supplies how an error looks on its side (Graph's OData error, or the identity
platform's OAuth error); the mechanics are the same.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

from flask import Response, g, request

from sandbox.faults import Fault
from sandbox.state import current_state

ErrorShape = Callable[[Fault], Response]
"""Builds the error answer (429/503/504) for a fault."""


class DroppedConnection(Exception):
    """Raised instead of dropping when there is no socket (Flask's test client)."""


def drop_connection() -> Response:
    """Close the client's TCP connection without an answer (the client sees a protocol/read error)."""
    g.dropped = True
    sock = request.environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        raise DroppedConnection(f"{request.method} {request.path}: connection dropped by fault injection")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    return Response(b"", status=200)  # never reaches the client: writing to the closed socket fails quietly


def draw_fault(shape: ErrorShape) -> Response | None:
    """Draw this request's fault. A ``before`` fault answers now (returned); ``slow`` and ``*_after``
    faults are kept in ``g.fault`` for ``slow_down`` and ``fail_after``."""
    state = current_state()
    fault = state.faults.draw(request.method, request.path)
    if fault is None:
        return None
    record = g.get("log_record")
    if record is not None:
        record.fault = fault.kind
    state.faults.record(g.get("log_index", -1), request.method, request.path, fault)
    if fault.after or fault.kind == "slow":
        g.fault = fault
        return None
    return drop_connection() if fault.kind == "drop" else shape(fault)


def slow_down() -> None:
    fault: Fault | None = g.get("fault")
    if fault is not None and fault.kind == "slow":
        time.sleep(fault.slow_seconds)


def fail_after(response: Response, shape: ErrorShape) -> Response:
    """Replace a processed request's answer by its ``*_after`` fault, if it has one."""
    fault: Fault | None = g.get("fault")
    if fault is None or not fault.after:
        return response
    return drop_connection() if fault.kind == "drop_after" else shape(fault)
