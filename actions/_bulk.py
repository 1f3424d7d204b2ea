"""What the bulk mail actions (bulk_update, bulk_send) share: sizes, batching and how a failed batch
call is read.

Both send their requests 20 to a ``$batch`` (actions/_batch.py: throttled sub-requests retried
alone after their Retry-After), one batch at a time; each batch call holds up to 4 of the mailbox's
concurrency slots in the client, as Graph runs up to 4 of its sub-requests at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from actions._batch import MAX_BATCH
from connector import _limits
from connector.errors import AuthError, ConnectorError, GraphError

MAX_MESSAGES = 1000
MAX_ROWS = 500
BATCH_BYTES = 4 * 1024 * 1024 - 64 * 1024
"""A batch's JSON body stays under Graph's 4 MB request limit (with room for the envelope)."""
MAX_RETRIES = 8
"""Rounds of retrying throttled sub-requests (a batch of 20 at 4 concurrent may need 5)."""
MAX_RETRY_WAIT = 120.0
JOURNAL = "bulk_send"
"""State-store namespace of the rows sent under a run_id."""
JOURNAL_TTL = 30 * 24 * 3600.0
"""A run_id remembers its rows for 30 days."""


def mailbox_bucket(base: str) -> str:
    """The client's concurrency bucket of a mailbox base path (``/me`` -> ``me``)."""
    return _limits.mailbox_of(base)


def chunks(items: Sequence[Any], size: int = MAX_BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def error_text(exc: ConnectorError) -> tuple[int, str, str]:
    """(status, code, message) of a failed batch call, without secrets (GraphError texts are redacted)."""
    if isinstance(exc, GraphError):
        return exc.status, exc.code or "GraphError", exc.message
    return 0, getattr(exc, "code", "") or type(exc).__name__, exc.message


def not_processed(exc: ConnectorError) -> bool:
    """True when a failed batch call provably never ran its sub-requests."""
    if isinstance(exc, AuthError):
        return True  # no token: nothing was sent
    if isinstance(exc, GraphError):
        if exc.status == 429 or 400 <= exc.status < 500:
            return True
        # a transport error is raised for a non-idempotent call only when it never left the client
        return exc.status == 0 and exc.code in ("ConnectionError", "Timeout")
    return False
