"""Settings of one sandbox instance: tenant size and dates, limits, token lifetimes, fault injection."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandbox.latency import LatencyModel
from sandbox.seed import APP_ROLES

__all__ = ["FAULT_KINDS", "GRAPH_PREFIX", "LatencyModel", "SandboxConfig"]

FAULT_KINDS: tuple[str, ...] = ("429", "503", "504", "drop", "slow", "503_after", "504_after", "drop_after")
"""Injectable faults. Plain kinds strike before the request is processed; ``*_after`` kinds let the
request change state first and then fail, which is what a client must never blindly retry."""

GRAPH_PREFIX = "/v1.0/"


@dataclass
class SandboxConfig:
    """Everything that shapes a sandbox; ``create_app(SandboxConfig(...))`` applies it."""

    # Seeded tenant: same seed + anchor + size, same data.
    seed: int = 42
    anchor: datetime | None = None
    """Seeded messages are dated in the 365 days before this instant (default: the current UTC hour)."""
    messages_per_user: int = 900
    """Messages in each seeded mailbox (5 users + the shared mailbox: 5,400 by default)."""

    # Throttling, per app (token appid) and mailbox, like Outlook's limits.
    max_concurrent: int = 4
    requests_per_window: int = 10_000
    window_seconds: float = 600
    throttle_retry_after: float = 1.0
    """Retry-After (seconds) sent when the concurrency limit is hit."""

    # Identity platform.
    token_lifetime: int = 3600
    code_lifetime: int = 600
    refresh_token_lifetime: int = 90 * 24 * 3600
    clock: Callable[[], float] = time.time
    """Time source (epoch seconds) for token and code expiry; tests may pass a fake clock."""
    app_roles: tuple[str, ...] = APP_ROLES
    """Application permissions in client-credentials tokens (narrow it to test 403 answers)."""

    # Fault injection: one seeded draw per eligible request.
    fault_seed: int = 0
    fault_rates: dict[str, float] = field(default_factory=dict)
    """Probability of each kind in FAULT_KINDS; the rates must add up to at most 1."""
    fault_paths: tuple[str, ...] = ()
    """Eligible request paths (after the host): prefixes, or fnmatch patterns when they contain ``*``.
    Empty means every Graph path (``/v1.0/...``)."""
    fault_methods: tuple[str, ...] = ()
    """Eligible HTTP methods; empty means all."""
    slow_seconds: float = 0.2
    fault_retry_after: tuple[float, ...] = (0.01, 0.05, 0.1)
    """Retry-After values (seconds) drawn for injected 429/503 answers; kept small so tests are fast."""

    latency: LatencyModel | None = None
    """Per-request service times like Graph's (``LatencyModel()``); None answers at once. A request
    holds its concurrency slot while it waits, as on Graph."""

    max_request_bytes: int = 4 * 1024 * 1024
    """Graph refuses larger request bodies with 413."""
    upload_bytes_per_window: int = 150 * 1024 * 1024
    upload_window_seconds: float = 300
    """Outlook's upload limit per app and mailbox: 150 MB in 5 minutes; upload fragments beyond it
    answer 429 with Retry-After (the seconds until enough of the window has passed)."""

    # Subscriptions and change notifications (sandbox/notifications.py).
    validation_timeout: float = 10.0
    """Seconds a notificationUrl has to answer the validation request (Graph: 10)."""
    notification_timeout: float = 3.0
    """Seconds a notification or lifecycle POST may take before it counts as failed."""
    notification_interval: float = 0.5
    """The delivery thread's period (seconds) while the server runs; 0 disables the thread (tests
    then call ``state.subscriptions.deliver_pending()``)."""
    notification_batch_size: int = 100
    """Notification items per POST."""
    notification_max_attempts: int = 5
    """POSTs of one batch before it is dropped (and a ``missed`` lifecycle event sent)."""
    notification_retry_delay: float = 1.0
    """Seconds before the first retry of a failed batch; doubles each time, at most 60."""
    max_subscriptions_per_mailbox: int = 1000
    """Live subscriptions per mailbox over all apps (Graph: 1,000); more answer 403."""
    http_notification_urls: bool = False
    """Take ``http://`` notification and lifecycle URLs (a local receiver). Graph takes only https, and
    so does the sandbox unless this local option is set (tests and ``outlook-connector sandbox`` set it)."""

    def resolved_anchor(self) -> datetime:
        """The anchor as an aware UTC datetime; the default is the start of the current UTC hour, so
        apps created close together share one generated tenant."""
        if self.anchor is None:
            return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        if self.anchor.tzinfo is None:
            return self.anchor.replace(tzinfo=UTC)
        return self.anchor.astimezone(UTC)

    def validate(self) -> None:
        """Check the limits (fault settings are checked by ``FaultSettings.validate``)."""
        if self.max_concurrent < 1 or self.requests_per_window < 1 or self.window_seconds <= 0:
            raise ValueError("throttling limits must be positive")
        if self.latency is not None:
            self.latency.validate()
        if self.messages_per_user < 0:
            raise ValueError("messages_per_user must be >= 0")
        if self.notification_batch_size < 1 or self.notification_max_attempts < 1:
            raise ValueError("notification_batch_size and notification_max_attempts must be >= 1")
        if self.validation_timeout <= 0 or self.notification_timeout <= 0 or self.notification_interval < 0:
            raise ValueError("notification timeouts must be positive and notification_interval >= 0")
