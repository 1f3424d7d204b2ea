"""The emulator's state: tenant data, identity grants, limits, faults, and the request log."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from sandbox import seed
from sandbox.config import SandboxConfig
from sandbox.faults import FaultInjector, FaultSettings
from sandbox.grants import IdentityStore
from sandbox.latency import Latency
from sandbox.mailbox import Mailbox
from sandbox.notifications import SubscriptionHub
from sandbox.throttle import Throttle

EXTENSION_KEY = "outlook_sandbox"
_SECRET_FORM_FIELDS = {
    "client_secret",
    "code",
    "code_verifier",
    "refresh_token",
    "client_assertion",
    "password",
    "assertion",
}


@dataclass
class RequestRecord:
    """One request as the sandbox saw it. Never holds the Authorization header or form secrets."""

    method: str
    path: str
    """Path after the host, e.g. ``/v1.0/me/messages``."""
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    """The JSON body, or None."""
    form: dict[str, str] = field(default_factory=dict)
    """Form fields (token requests), secrets replaced by ``"***"``."""
    request_id: str = ""
    status: int | None = None
    fault: str | None = None
    time: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "form": self.form,
            "request_id": self.request_id,
            "status": self.status,
            "fault": self.fault,
            "time": self.time,
        }


def redact_form(form: dict[str, str]) -> dict[str, str]:
    return {name: ("***" if name in _SECRET_FORM_FIELDS else value) for name, value in form.items()}


class SandboxState:
    """Everything one sandbox app knows. Data changes go through ``lock``."""

    def __init__(self, config: SandboxConfig) -> None:
        config.validate()
        self.config = config
        self.lock = threading.RLock()
        self.identity = IdentityStore(
            config.clock, config.token_lifetime, config.code_lifetime, config.refresh_token_lifetime
        )
        self.app_roles = tuple(config.app_roles)
        self.faults = FaultInjector(FaultSettings.from_config(config))
        self.throttle = Throttle(
            config.max_concurrent,
            config.requests_per_window,
            config.window_seconds,
            config.throttle_retry_after,
        )
        self.latency = Latency(config.latency) if config.latency is not None else None
        self.request_log: list[RequestRecord] = []
        self._gate: threading.Event | None = None
        self.mailboxes: dict[str, Mailbox] = {}
        self.subscriptions = SubscriptionHub(config)
        self.webhook_inbox: dict[str, list[Any]] = {}
        """What ``/_sandbox/webhooks/{name}`` received: a notification endpoint to try subscriptions with."""
        self.deferred_sends: dict[tuple[str, str], bool] = {}
        """Messages held in an Outbox until their deferred send time: (mailbox id, message id) ->
        saveToSentItems (sandbox/delivery.py)."""
        self._load_mailboxes()

    def _load_mailboxes(self) -> None:
        seeded = seed.build_mailboxes(
            self.config.seed, self.config.resolved_anchor(), self.config.messages_per_user
        )
        self.mailboxes = {
            box.user_id: box.copy(f"sandbox-live:{self.config.seed}:{box.user_id}") for box in seeded
        }
        for box in self.mailboxes.values():
            box.observer = self.subscriptions.observe

    def reset(self) -> None:
        """Back to the seeded data, no faults, empty logs and limits. Signing keys and issued grants stay,
        so clients holding tokens keep working."""
        with self.lock:
            self._load_mailboxes()
            self.subscriptions.clear()
            self.webhook_inbox.clear()
            self.deferred_sends.clear()
            self.request_log.clear()
            self.faults.log.clear()
            self.faults.configure(FaultSettings.from_config(self.config))
            self.throttle.reset()
            self.release_requests()

    # -- directory ---------------------------------------------------------------------------------------
    @staticmethod
    def find_user(ref: str) -> dict[str, Any] | None:
        """A directory user by id or UPN/mail, case-insensitive (like Graph)."""
        lowered = ref.lower()
        for user in seed.DIRECTORY:
            if lowered in (user["id"], user["userPrincipalName"].lower(), user["mail"].lower()):
                return user
        return None

    def mailbox(self, user_id: str) -> Mailbox:
        return self.mailboxes[user_id]

    def mailbox_by_address(self, address: str) -> Mailbox | None:
        user = self.find_user(address)
        return self.mailboxes.get(user["id"]) if user else None

    # -- request gate (tests hold admitted requests to create concurrency without sleeps) ----------------
    def hold_requests(self) -> None:
        """Admitted Graph requests wait (holding their throttle slot) until ``release_requests``."""
        self._gate = threading.Event()

    def release_requests(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def wait_at_gate(self, timeout: float = 30.0) -> None:
        gate = self._gate
        if gate is not None:
            gate.wait(timeout)

    # -- test controls (also behind the /_sandbox admin endpoints) ---------------------------------------
    def identity_subject(self, user: str | None = None, app: bool = False) -> str | None:
        """The identity store's subject for a user (UPN or id), for the sandbox app, or None (everyone)."""
        if app:
            return f"app:{seed.CLIENT_ID}"
        if user is None:
            return None
        found = self.find_user(user)
        if found is None:
            raise ValueError(f"no user {user!r} in the sandbox tenant")
        return str(found["id"])

    def force_token_failure(self, aadsts: int, user: str | None = None, app: bool = False) -> None:
        """Make the next token request of ``user`` (default: the default user), or of the app's client
        credentials, fail with AADSTS ``aadsts`` (65001 consent, 50076 MFA, 70008 expired grant...)."""
        subject = self.identity_subject(user or (None if app else seed.DEFAULT_USER), app)
        assert subject is not None
        self.identity.force_failure(subject, aadsts)

    def expire_tokens(self, user: str | None = None, app: bool = False, refresh_tokens: bool = False) -> int:
        """Expire access tokens now (of ``user``, of the app, or of everyone); Graph then answers 401."""
        return self.identity.expire(self.identity_subject(user, app), refresh_tokens)

    def set_faults(self, rates: dict[str, float], **options: Any) -> FaultSettings:
        """Replace fault injection settings: ``rates`` per kind, and optionally ``seed``, ``paths``,
        ``methods``, ``slow_seconds``, ``retry_after`` (see FaultSettings)."""
        current = self.faults.settings
        settings = FaultSettings(
            rates=dict(rates),
            seed=int(options.get("seed", current.seed)),
            paths=tuple(options.get("paths", current.paths)),
            methods=tuple(m.upper() for m in options.get("methods", current.methods)),
            slow_seconds=float(options.get("slow_seconds", current.slow_seconds)),
            retry_after=tuple(float(v) for v in options.get("retry_after", current.retry_after)),
        )
        self.faults.configure(settings)
        return settings

    def log_request(self, record: RequestRecord) -> int:
        with self.lock:
            self.request_log.append(record)
            return len(self.request_log) - 1


def current_state() -> SandboxState:
    state = current_app.extensions[EXTENSION_KEY]
    assert isinstance(state, SandboxState)
    return state
