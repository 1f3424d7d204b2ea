"""Audit records of trigger instances' Graph reads (``connector.audit.ReadPass``).

The trigger service and the poller read mail through the Graph client, not through the runtime's
actions, so they audit here: one record per read pass of an instance (a batch of notifications, a
delta catch-up, a poll), caller ``trigger``, the trigger key as the action, the instance id as the
principal. Into the runtime's audit log (the state store's, when the runtime was given none).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from connector.audit import ReadPass, read_pass

if TYPE_CHECKING:
    from connector.runtime import Runtime
    from connector.store import Store, TriggerInstance
    from connector.store.interfaces import AuditLog


def audit_log(store: Store, runtime: Runtime) -> AuditLog:
    log = runtime.audit_log
    return store if log is None else log


def _fields(instance: TriggerInstance, default_mailbox: str | None) -> dict[str, str]:
    mailbox = instance.config.get("user_id")
    return {
        "action": instance.trigger_key,
        "connection": instance.connection_name,
        "mailbox": str(mailbox or default_mailbox or "me"),
        "principal": instance.id,
    }


def batch_pass(
    store: Store,
    runtime: Runtime,
    instance: TriggerInstance,
    default_mailbox: str | None,
    clock: Callable[[], float],
) -> ReadPass:
    """A pass spanning several blocks (``ReadPass.reading``); the caller closes it."""
    return ReadPass(audit_log(store, runtime), clock, **_fields(instance, default_mailbox))


def reading(
    store: Store,
    runtime: Runtime,
    instance: TriggerInstance,
    default_mailbox: str | None,
    clock: Callable[[], float],
) -> AbstractContextManager[ReadPass]:
    """One pass around a block (joining the instance's pass already open around it)."""
    return read_pass(audit_log(store, runtime), clock, **_fields(instance, default_mailbox))
