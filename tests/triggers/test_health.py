"""Health of a connection or trigger instance from its last success and last error."""

from __future__ import annotations

from triggers.health import STALE_AFTER, Health, health

NOW = 1_800_000_000.0


def test_never_synced() -> None:
    assert health(None, None, None, NOW) == Health("never synced", None)


def test_healthy_within_25_hours() -> None:
    assert health(NOW - STALE_AFTER + 1, None, None, NOW).status == "healthy"
    assert STALE_AFTER == 25 * 3600


def test_stale_after_25_hours_without_a_success() -> None:
    found = health(NOW - 26 * 3600, None, None, NOW)
    assert found.status == "stale" and found.message == "last success 26 h ago"


def test_an_error_newer_than_the_last_success_wins() -> None:
    found = health(NOW - 600, "Graph error 401 InvalidAuthenticationToken", NOW - 120, NOW)
    assert found == Health("error", "Graph error 401 InvalidAuthenticationToken (2 min ago)")
    assert health(None, "refused", NOW - 5, NOW).status == "error"  # never a success


def test_a_success_after_the_error_heals() -> None:
    assert health(NOW - 60, "old trouble", NOW - 120, NOW).status == "healthy"
    assert health(NOW - 30 * 3600, "old trouble", NOW - 31 * 3600, NOW).status == "stale"
