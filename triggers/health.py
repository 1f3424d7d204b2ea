"""Health of a connection or a trigger instance, from its last success and its last error.

healthy       a success within the last 25 hours, and no error after it
error         the last error is newer than the last success (or there was never a success)
stale         no success for 25 hours (a daily flow that stopped running, a dead renewer)
never synced  neither a success nor an error yet
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

STALE_AFTER = 25 * 3600.0
"""Seconds without a success before a connection or instance is stale (a day and an hour's slack)."""

Status = Literal["healthy", "never synced", "stale", "error"]


@dataclass(frozen=True)
class Health:
    status: Status
    message: str | None = None


def health(
    last_success_at: float | None,
    last_error: str | None,
    last_error_at: float | None,
    now: float,
    *,
    stale_after: float = STALE_AFTER,
) -> Health:
    """The health at ``now`` (epoch seconds) of something whose last success / error are given."""
    has_error = last_error_at is not None or last_error is not None
    if has_error and (last_success_at is None or (last_error_at or 0.0) > last_success_at):
        when = f" ({_ago(now - last_error_at)})" if last_error_at is not None else ""
        return Health("error", f"{last_error or 'failed'}{when}")
    if last_success_at is None:
        return Health("never synced", None)
    if now - last_success_at > stale_after:
        return Health("stale", f"last success {_ago(now - last_success_at)}")
    return Health("healthy", None)


_SEVERITY: dict[str, int] = {"healthy": 0, "never synced": 1, "stale": 2, "error": 3}


def worst(found: list[Health]) -> Health:
    """The worst of several healths (error > stale > never synced > healthy); never synced for none."""
    if not found:
        return Health("never synced", None)
    return max(found, key=lambda h: _SEVERITY[h.status])


def _ago(seconds: float) -> str:
    """``3 min ago``, ``26 h ago``, ``3 d ago``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{int(seconds)} s ago"
    if seconds < 5400:
        return f"{int(seconds // 60)} min ago"
    if seconds < 72 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"
