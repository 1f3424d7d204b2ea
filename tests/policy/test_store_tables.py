"""The store's policies, approvals and audit log on both backends (SQLite and PostgreSQL, as the
store tests run them: PostgreSQL skips with its reason where it is missing)."""

from __future__ import annotations

from connector.audit import AuditRecord
from connector.policy import Approval
from connector.store import Store
from tests.store.conftest import (
    FakeClock,
    _isolated_env,
    clock,
    location,
    postgres_server,
    postgres_url,
    store,
)

__all__ = ["_isolated_env", "clock", "location", "postgres_server", "postgres_url", "store"]


def approval(approval_id: str, now: float, summary: str = "Send Message; to: ana@contoso.com") -> Approval:
    return Approval(
        approval_id, "work", "send_message", "send", "h" * 64, summary, "mcp:alice", now, now + 900
    )


def record(at: float, action: str = "list_messages", connection: str = "work") -> AuditRecord:
    return AuditRecord(
        at, "mcp", "alice", connection, "me", action, "read", "allowed", "ok", request_id="r-1"
    )


def test_policies_by_connection_and_default(store: Store) -> None:
    assert store.get_policy(None) is None
    store.set_policy(None, {"categories": {"read": "allow"}})
    store.set_policy("work", {"categories": {"send": "approve"}})
    store.set_policy("work", {"categories": {"send": "disabled"}})
    assert store.get_policy("work") == {"categories": {"send": "disabled"}}
    assert store.get_policy(None) == {"categories": {"read": "allow"}}
    assert store.delete_policy("work") and not store.delete_policy("work")
    assert store.get_policy("work") is None


def test_an_approval_is_decided_once_and_spent_once(store: Store, clock: FakeClock) -> None:
    store.add_approval(approval("apr_1", clock.now))
    assert store.get_approval("apr_1") == approval("apr_1", clock.now)
    assert not store.use_approval("apr_1", clock.now)  # pending: nothing to spend
    decided = store.decide_approval("apr_1", "approved", "dana (CLI)", clock.now)
    assert decided is not None and (decided.status, decided.decided_by) == ("approved", "dana (CLI)")
    assert store.decide_approval("apr_1", "denied", "eve", clock.now) is None
    assert store.use_approval("apr_1", clock.now) and not store.use_approval("apr_1", clock.now)
    store.add_approval(approval("apr_2", clock.now))
    assert store.decide_approval("apr_2", "approved", "dana", clock.now + 901) is None  # expired
    assert [a.id for a in store.list_approvals(status="pending")] == ["apr_2"]
    clock.now += 900 + 86400 + 1
    store.add_approval(approval("apr_3", clock.now))  # rows a day past their expiry go
    assert [a.id for a in store.list_approvals()] == ["apr_3"]


def test_the_summary_is_sealed(store: Store, clock: FakeClock) -> None:
    store.add_approval(approval("apr_s", clock.now, summary="subject: 'Merger with Fabrikam'"))
    with store.read() as db:
        [raw] = db.execute("SELECT summary FROM approvals").fetchone()
    assert b"Fabrikam" not in bytes(raw)
    assert store.get_approval("apr_s").summary == "subject: 'Merger with Fabrikam'"  # type: ignore[union-attr]


def test_the_audit_log_lists_filters_and_prunes(store: Store, clock: FakeClock) -> None:
    for offset, action, connection in ((0, "a", "work"), (10, "b", "work"), (20, "a", "other")):
        store.append_audit(record(clock.now + offset, action, connection))
    assert [r.action for r in store.list_audit()] == ["a", "b", "a"]
    assert store.list_audit()[0] == record(clock.now, "a", "work")
    assert [r.connection for r in store.list_audit(action="a")] == ["work", "other"]
    assert [r.action for r in store.list_audit(connection="work", since=clock.now + 5)] == ["b"]
    assert [r.at for r in store.list_audit(limit=2)] == [clock.now + 10, clock.now + 20]
    clock.now += 90 * 86400 + 15
    assert store.prune_audit() == 2
    assert [r.connection for r in store.list_audit()] == ["other"]
