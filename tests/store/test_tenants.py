"""Many customers: connections and trigger instances belong to a tenant and an owner, scope
personal or organization. A store bound to a principal never lets it list, read, use, change or
delete another tenant's (or another member's personal) connections, instances or queued
notifications; the host (an unbound store) sees everything. Both backends; the CLI too."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import ConfigurationError
from connector.store import ConnectionRecord, Principal, Store, TriggerInstance

A1, A2, B1 = Principal("tenant-a", "alice"), Principal("tenant-a", "anna"), Principal("tenant-b", "bob")


def _connection(name: str, scope: str = "organization") -> ConnectionRecord:
    return ConnectionRecord(name, "app_only", {"tenant": "contoso.com"}, {"client_secret": "s3"}, scope=scope)


def _instance(id_: str, connection: str, scope: str = "organization") -> TriggerInstance:
    return TriggerInstance(
        id=id_,
        trigger_key="webhook",
        connection_name=connection,
        config={},
        client_state="c" * 40,
        scope=scope,
    )


@pytest.fixture
def views(store: Store) -> dict[str, Store]:
    a1, a2, b1 = (store.for_principal(p) for p in (A1, A2, B1))
    a1.save_connection(_connection("a-shared"), {"access_token": "t"})
    a1.save_connection(_connection("alice-own", "personal"), {"access_token": "t"})
    b1.save_connection(_connection("b-shared"), {"access_token": "t"})
    a1.save_trigger_instance(_instance("inst-a-shared", "a-shared"))
    a1.save_trigger_instance(_instance("inst-alice-own", "alice-own", "personal"))
    b1.save_trigger_instance(_instance("inst-b", "b-shared"))
    return {"host": store, "a1": a1, "a2": a2, "b1": b1}


def test_listings_show_only_what_the_principal_may_use(views: dict[str, Store]) -> None:
    def names(view: str) -> list[str]:
        return [c.name for c in views[view].list_connections()]

    def instances(view: str) -> list[str]:
        return sorted(i.id for i in views[view].list_trigger_instances())

    assert names("host") == ["a-shared", "alice-own", "b-shared"]
    assert (
        names("a1") == ["a-shared", "alice-own"]
        and names("a2") == ["a-shared"]
        and names("b1") == ["b-shared"]
    )
    assert instances("a1") == ["inst-a-shared", "inst-alice-own"]
    assert instances("a2") == ["inst-a-shared"] and instances("b1") == ["inst-b"]
    saved = views["host"].get_connection("alice-own")
    assert saved is not None and (saved.tenant, saved.owner, saved.scope) == ("tenant-a", "alice", "personal")


def test_another_tenant_or_member_can_neither_use_nor_change_them(views: dict[str, Store]) -> None:
    for view, name in (("b1", "a-shared"), ("a2", "alice-own"), ("b1", "alice-own")):
        store = views[view]
        assert store.get_connection(name) is None and store.load_tokens(name) is None
        assert store.connection_revision(name) is None
        with pytest.raises(ConfigurationError, match="no connection named"):
            store.save_tokens(name, {"access_token": "stolen"})
        assert not store.delete_connection(name)
        store.record_health(name, ok=False, error="from another tenant")
    for view, id_ in (("b1", "inst-a-shared"), ("a2", "inst-alice-own")):
        store = views[view]
        assert store.get_trigger_instance(id_) is None and store.receiver_access(id_) is None
        assert not store.set_trigger_status(id_, "disabled")
        assert not store.update_trigger_state(id_, {"stolen": True})
        assert not store.delete_trigger_instance(id_)
        store.record_trigger_error(id_, "from another tenant")
    host = views["host"]
    assert host.load_tokens("a-shared") == {"access_token": "t"} and host.load_tokens("alice-own") is not None
    assert all(c.last_error is None for c in host.list_connections())
    for id_ in ("inst-a-shared", "inst-alice-own"):
        kept = host.get_trigger_instance(id_)
        assert kept is not None and kept.status == "active" and kept.state == {} and kept.last_error is None


def test_a_name_of_another_tenant_cannot_be_taken_over(views: dict[str, Store]) -> None:
    with pytest.raises(ConfigurationError, match="'a-shared' is taken"):
        views["b1"].save_connection(_connection("a-shared"))
    with pytest.raises(ConfigurationError, match="no trigger instance"):
        views["b1"].save_trigger_instance(_instance("inst-a-shared", "b-shared"))
    kept = views["a2"].get_connection("a-shared")  # a member of the tenant still uses it
    assert kept is not None and kept.tenant == "tenant-a" and kept.secrets == {"client_secret": "s3"}
    views["a2"].save_connection(_connection("a-shared"))  # an organization connection: any member
    replaced = views["host"].get_connection("a-shared")
    assert replaced is not None and (replaced.tenant, replaced.owner) == ("tenant-a", "anna")


def test_queued_notifications_are_claimed_only_for_the_principals_instances(views: dict[str, Store]) -> None:
    host = views["host"]
    for id_ in ("inst-a-shared", "inst-alice-own", "inst-b"):
        host.enqueue_notifications(id_, "change", [{"for": id_}])
    assert views["b1"].pending_notification_count() == 1
    assert views["a2"].pending_notification_count() == 1
    assert views["a2"].pending_notification_count("inst-alice-own") == 0
    assert [row.instance_id for row in views["b1"].claim_notifications("b-worker")] == ["inst-b"]
    assert [row.instance_id for row in views["a2"].claim_notifications("a-worker")] == ["inst-a-shared"]
    assert [row.instance_id for row in host.claim_notifications("host-worker")] == ["inst-alice-own"]


def test_the_principal_comes_from_the_environment(
    location: str, views: dict[str, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_TENANT", "tenant-b")
    with pytest.raises(ConfigurationError, match="OUTLOOK_CONNECTOR_USER"):
        Store(location)
    monkeypatch.setenv("OUTLOOK_CONNECTOR_USER", "bob")
    with Store(location) as bound:
        assert bound.principal == B1 and [c.name for c in bound.list_connections()] == ["b-shared"]
    monkeypatch.setenv("OUTLOOK_CONNECTOR_STORE", location)
    result = CliRunner().invoke(main, ["connections", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [row["name"] for row in json.loads(result.stdout)] == ["b-shared"]


def test_bad_scopes_and_principals_are_refused_naming_the_field(
    store: Store, open_store: Callable[..., Store]
) -> None:
    with pytest.raises(ConfigurationError, match="invalid scope 'team'"):
        store.save_connection(_connection("x", scope="team"))
    with pytest.raises(ConfigurationError, match="invalid principal user"):
        Principal("tenant-a", "")
    with pytest.raises(ConfigurationError, match="invalid principal tenant"):
        Principal("bad\ntenant", "u")


def test_approvals_and_audit_records_of_another_tenant_stay_hidden(views: dict[str, Store]) -> None:
    from connector.audit import AuditRecord
    from connector.policy import Approval

    host, a2, b1 = views["host"], views["a2"], views["b1"]
    now = host.clock()
    for id_, connection in (("ap-a", "a-shared"), ("ap-alice", "alice-own"), ("ap-b", "b-shared")):
        host.add_approval(Approval(id_, connection, "send_mail", "send", "h", "to x", "u", now, now + 600))
    for connection in ("a-shared", "alice-own", "b-shared"):
        host.append_audit(AuditRecord(now, "mcp", "u", connection, "m", "send_mail", "send", "allowed", "ok"))

    assert [a.id for a in b1.list_approvals()] == ["ap-b"]
    assert [a.id for a in a2.list_approvals(status="pending")] == ["ap-a"]
    assert b1.get_approval("ap-a") is None and a2.get_approval("ap-alice") is None
    assert b1.decide_approval("ap-a", "approved", "bob", now) is None
    assert host.decide_approval("ap-a", "approved", "admin", now) is not None
    assert not b1.use_approval("ap-a", now)  # approved, but not for tenant b to spend
    assert [r.connection for r in b1.list_audit()] == ["b-shared"]
    assert [r.connection for r in a2.list_audit(action="send_mail")] == ["a-shared"]
    assert len(host.list_audit()) == 3 and host.use_approval("ap-a", now)


def test_the_cli_never_runs_with_another_tenants_connection(
    location: str, views: dict[str, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_STORE", location)
    monkeypatch.setenv("OUTLOOK_CONNECTOR_TENANT", "tenant-b")
    monkeypatch.setenv("OUTLOOK_CONNECTOR_USER", "bob")
    result = CliRunner().invoke(main, ["run", "get_current_user", "--connection", "a-shared"])
    assert result.exit_code != 0 and "no connection named 'a-shared'" in result.output
    assert "alice-own" not in result.output  # the hint names only b's own connections
    listed = CliRunner().invoke(main, ["triggers", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [row["id"] for row in json.loads(listed.stdout)] == ["inst-b"]
