"""Many customers: connections and trigger instances belong to a tenant and an owner, scope
personal or organization; connection names are unique per tenant. A store bound to a principal
never lets it list, read, use, change or delete another tenant's (or another member's personal)
connections, instances, policies, approvals, audit records or queued notifications, and its
refusals for another tenant's names are those for names nobody has; the host (an unbound store)
sees everything, a tenant's connections by their stored names. Both backends; the CLI too."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import ConfigurationError
from connector.store import ConnectionRecord, Principal, Store, TriggerInstance, stored_name
from sandbox import seed
from sandbox.server import SandboxServer

A1, A2, B1 = Principal("tenant-a", "alice"), Principal("tenant-a", "anna"), Principal("tenant-b", "bob")
OTHER_USER = next(u["userPrincipalName"] for u in seed.USERS if u["userPrincipalName"] != seed.DEFAULT_USER)


def a(name: str) -> str:
    """How the host names tenant-a's connection ``name``."""
    return stored_name("tenant-a", name)


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

    assert names("host") == [a("a-shared"), a("alice-own"), stored_name("tenant-b", "b-shared")]
    assert (
        names("a1") == ["a-shared", "alice-own"]
        and names("a2") == ["a-shared"]
        and names("b1") == ["b-shared"]
    )
    assert instances("a1") == ["inst-a-shared", "inst-alice-own"]
    assert instances("a2") == ["inst-a-shared"] and instances("b1") == ["inst-b"]
    assert views["host"].get_connection("alice-own") is None  # the host names it with its tenant
    saved = views["host"].get_connection(a("alice-own"))
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
    assert host.load_tokens(a("a-shared")) == {"access_token": "t"} and host.load_tokens(a("alice-own"))
    assert all(c.last_error is None for c in host.list_connections())
    for id_ in ("inst-a-shared", "inst-alice-own"):
        kept = host.get_trigger_instance(id_)
        assert kept is not None and kept.status == "active" and kept.state == {} and kept.last_error is None


def test_each_tenant_has_its_own_connection_of_a_name(views: dict[str, Store]) -> None:
    host, a1, a2, b1 = views["host"], views["a1"], views["a2"], views["b1"]
    b1.save_connection(
        ConnectionRecord("a-shared", "app_only", {"tenant": "fabrikam.com"}, {"client_secret": "b-secret"}),
        {"access_token": "b-token"},
    )
    mine, theirs = b1.get_connection("a-shared"), a2.get_connection("a-shared")
    assert mine is not None and theirs is not None
    assert (mine.name, mine.tenant, mine.config, mine.secrets) == (
        "a-shared",
        "tenant-b",
        {"tenant": "fabrikam.com"},
        {"client_secret": "b-secret"},
    )
    assert (theirs.name, theirs.tenant, theirs.secrets) == ("a-shared", "tenant-a", {"client_secret": "s3"})
    assert b1.load_tokens("a-shared") == {"access_token": "b-token"}
    assert a1.load_tokens("a-shared") == {"access_token": "t"}
    assert b1.connection_revision("a-shared") != a1.connection_revision("a-shared")
    assert [c.name for c in b1.list_connections()] == ["a-shared", "b-shared"]
    assert host.get_connection(stored_name("tenant-b", "a-shared")) is not None
    # what is keyed by a connection (locks, kv keys, client caches) meets the host on the stored name
    assert b1.storage_name("a-shared") == stored_name("tenant-b", "a-shared") != a1.storage_name("a-shared")
    assert host.storage_name(a("a-shared")) == a1.storage_name("a-shared")
    b1.save_tokens("a-shared", {"access_token": "b2"})
    b1.record_health("a-shared", ok=False, error="b's failure")
    assert b1.delete_connection("a-shared") and b1.get_connection("a-shared") is None
    kept = host.get_connection(a("a-shared"))
    assert (
        kept is not None
        and kept.last_error is None
        and host.load_tokens(a("a-shared")) == {"access_token": "t"}
    )
    with pytest.raises(ConfigurationError, match="'alice-own' is taken"):  # a colleague's personal one
        a2.save_connection(_connection("alice-own"))
    with pytest.raises(ConfigurationError, match="no trigger instance"):
        b1.save_trigger_instance(_instance("inst-a-shared", "b-shared"))
    a2.save_connection(_connection("a-shared"))  # an organization connection: any member
    replaced = host.get_connection(a("a-shared"))
    assert replaced is not None and (replaced.tenant, replaced.owner) == ("tenant-a", "anna")


def test_another_tenants_names_are_refused_as_names_nobody_has(views: dict[str, Store]) -> None:
    """B's answers for A's connection 'a-shared' equal those for 'c-shared', which nobody has."""
    from connector.audit import AuditRecord

    host, b1 = views["host"], views["b1"]
    views["a1"].set_policy("a-shared", {"preset": "a-conn"})
    host.append_audit(
        AuditRecord(host.clock(), "mcp", "u", a("a-shared"), "m", "send_mail", "send", "allowed", "ok")
    )

    def answers(name: str) -> list[object]:
        seen: list[object] = [
            b1.get_connection(name),
            b1.load_tokens(name),
            b1.connection_revision(name),
            b1.delete_connection(name),
            b1.get_policy(name),
            b1.list_audit(connection=name),
            [i for i in b1.list_trigger_instances() if i.connection_name == name],
        ]
        with pytest.raises(ConfigurationError) as refused:
            b1.save_tokens(name, {"access_token": "x"})
        return [*seen, str(refused.value).replace(repr(name), "'NAME'")]

    refusal = "no connection named 'NAME'"
    # nor does the stored name reach it: a bound store qualifies whatever it is given
    assert answers(a("a-shared")) == answers("c-shared")
    assert answers("a-shared") == answers("c-shared") == [None, None, None, False, None, [], [], refusal]


def test_policies_are_per_tenant_with_a_tenant_default(views: dict[str, Store]) -> None:
    host, a1, a2, b1 = views["host"], views["a1"], views["a2"], views["b1"]
    host.set_policy(None, {"preset": "host-default"})
    a1.set_policy("a-shared", {"preset": "a-conn"})
    assert a2.get_policy("a-shared") == {"preset": "a-conn"} and b1.get_policy("a-shared") is None
    assert host.get_policy(a("a-shared")) == {"preset": "a-conn"}
    b1.set_policy(None, {"preset": "b-default"})  # b's default: not the host's, not a's
    assert b1.get_policy(None) == {"preset": "b-default"} and a1.get_policy(None) == {
        "preset": "host-default"
    }
    assert host.get_policy(None) == {"preset": "host-default"}
    assert b1.default_policy_for("b-shared") == {"preset": "b-default"}
    assert host.default_policy_for(stored_name("tenant-b", "b-shared")) == {"preset": "b-default"}
    assert host.default_policy_for(a("a-shared")) == {"preset": "host-default"}
    assert not b1.delete_policy("a-shared") and a1.get_policy("a-shared") == {"preset": "a-conn"}
    assert b1.delete_policy(None) and b1.get_policy(None) == {"preset": "host-default"}


def test_the_gate_judges_a_tenants_connection_by_its_tenants_default(views: dict[str, Store]) -> None:
    from connector.policy import PRESETS, PolicyGate

    host, a1, b1 = views["host"], views["a1"], views["b1"]
    host.set_policy(None, PRESETS["open"].to_dict())
    b1.set_policy(None, PRESETS["read_only"].to_dict())
    read_only, open_ = PRESETS["read_only"].to_dict(), PRESETS["open"].to_dict()
    for store, name, expected in (
        (b1, "b-shared", read_only),
        (host, stored_name("tenant-b", "b-shared"), read_only),  # the worker judges as b would
        (a1, "a-shared", open_),
        (host, a("a-shared"), open_),
    ):
        assert PolicyGate(policies=store).policy_for(name).to_dict() == expected


def test_a_sealed_secret_does_not_open_on_another_tenants_row_of_its_name(views: dict[str, Store]) -> None:
    from connector.crypto import DecryptionError

    host, b1 = views["host"], views["b1"]
    b1.save_connection(_connection("a-shared"), {"access_token": "b"})
    with host.transaction() as db:  # someone with the database copies a's sealed values onto b's row
        secrets, tokens = db.execute(
            "SELECT secrets, tokens FROM connections WHERE name = ?", (a("a-shared"),)
        ).fetchone()
        db.execute(
            "UPDATE connections SET secrets = ?, tokens = ? WHERE name = ?",
            (secrets, tokens, stored_name("tenant-b", "a-shared")),
        )
    with pytest.raises(DecryptionError):
        b1.get_connection("a-shared")
    with pytest.raises(DecryptionError):
        b1.load_tokens("a-shared")


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
    b = stored_name("tenant-b", "b-shared")
    for id_, connection in (("ap-a", a("a-shared")), ("ap-alice", a("alice-own")), ("ap-b", b)):
        host.add_approval(Approval(id_, connection, "send_mail", "send", "h", "to x", "u", now, now + 600))
    for connection in (a("a-shared"), a("alice-own"), b):
        host.append_audit(AuditRecord(now, "mcp", "u", connection, "m", "send_mail", "send", "allowed", "ok"))

    assert [(ap.id, ap.connection) for ap in b1.list_approvals()] == [("ap-b", "b-shared")]
    assert [ap.id for ap in a2.list_approvals(status="pending")] == ["ap-a"]
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
    for command in (
        ["run", "get_current_user", "--connection"],
        ["connections", "delete"],
        ["connections", "test"],
    ):
        theirs = CliRunner().invoke(main, [*command, "a-shared"])
        nobody = CliRunner().invoke(main, [*command, "c-shared"])  # a name nobody has
        assert theirs.exit_code == nobody.exit_code != 0
        assert theirs.output.replace("a-shared", "NAME") == nobody.output.replace("c-shared", "NAME")
    assert views["host"].get_connection(a("a-shared")) is not None
    listed = CliRunner().invoke(main, ["triggers", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [row["id"] for row in json.loads(listed.stdout)] == ["inst-b"]
    monkeypatch.delenv("OUTLOOK_CONNECTOR_TENANT")  # the host: every tenant's, named with its tenant
    table = CliRunner().invoke(main, ["connections", "list"])
    assert table.exit_code == 0, table.output
    assert "a-shared (tenant tenant-a)" in table.stdout and "b-shared (tenant tenant-b)" in table.stdout


def test_upgrade_from_version_6_keeps_tenants_connections_and_what_names_them(
    location: str, monkeypatch: pytest.MonkeyPatch, clock: Callable[[], float]
) -> None:
    """Version 6 kept names unique in the whole store; version 7 renames a tenant's connections to
    their stored names, with the instances, policies, approvals, audit records and noted accounts
    naming them, and re-seals their secrets and tokens under the new names."""
    from connector.audit import AuditRecord
    from connector.policy import Approval
    from connector.store import postgres, sqlite
    from connector.store.core import RESEAL_FLAG, label

    module: Any = postgres if location.startswith("postgresql://") else sqlite
    with monkeypatch.context() as patch:
        patch.setattr(module, "MIGRATIONS", module.MIGRATIONS[:6])
        with Store(location, clock=clock) as old:
            assert old.schema_version() == 6
            cipher = old.cipher()

            def sealed(kind: str, name: str, value: object) -> bytes:
                return cipher.seal(
                    json.dumps(value, separators=(",", ":"), sort_keys=True).encode(), label(kind, name)
                )

            with old.transaction() as db:  # rows as version 6 wrote them
                for name, tenant, owner in (("sales", "tenant-a", "alice"), ("solo", "", "")):
                    db.execute(
                        "INSERT INTO connections (name, type_key, config, secrets, tokens, created_at,"
                        " updated_at, tenant, owner, scope) VALUES (?, 'app_only', '{}', ?, ?, 0, 0, ?, ?,"
                        " 'organization')",
                        (
                            name,
                            sealed("secrets", name, {"client_secret": f"{name}-secret"}),
                            sealed("tokens", name, {"access_token": f"{name}-token"}),
                            tenant,
                            owner,
                        ),
                    )
                for id_, connection, tenant in (
                    ("inst-sales", "sales", "tenant-a"),
                    ("inst-gone", "gone", "tenant-a"),
                    ("inst-solo", "solo", ""),
                ):
                    db.execute(
                        "INSERT INTO trigger_instances (id, trigger_key, connection_name, config,"
                        " client_state,"
                        " state, secrets, status, created_at, updated_at, tenant, owner, scope) VALUES"
                        " (?, 'webhook', ?, '{}', ?, '{}', ?, 'active', 0, 0, ?, '', 'organization')",
                        (
                            id_,
                            connection,
                            cipher.seal(b"c" * 40, label("trigger", id_)),
                            sealed("trigger-secrets", id_, {}),
                            tenant,
                        ),
                    )
                for name in ("sales", "solo"):
                    db.execute(
                        "INSERT INTO policies (connection_name, policy, updated_at) VALUES (?, ?, 0)",
                        (name, json.dumps({"preset": name})),
                    )
            now = clock()
            old.add_approval(
                Approval("ap-sales", "sales", "send_mail", "send", "h", "to x", "u", now, now + 600)
            )
            old.append_audit(AuditRecord(now, "mcp", "u", "sales", "m", "send_mail", "send", "allowed", "ok"))
            old.kv_put("connection-account", "sales", "alice@contoso.com")

    with Store(location, clock=clock) as upgraded:
        assert upgraded.schema_version() == module.MIGRATIONS[-1][0] >= 7
        alice = upgraded.for_principal(A1)
        sales = alice.get_connection("sales")
        assert sales is not None and sales.secrets == {"client_secret": "sales-secret"}
        assert alice.load_tokens("sales") == {"access_token": "sales-token"}
        solo = upgraded.get_connection("solo")
        assert solo is not None and solo.secrets == {"client_secret": "solo-secret"}
        assert upgraded.load_tokens("solo") == {"access_token": "solo-token"}
        instance = upgraded.get_trigger_instance("inst-sales")
        assert instance is not None and instance.connection_name == a("sales")
        assert upgraded.get_connection(instance.connection_name) is not None  # the worker's lookup
        own = alice.get_trigger_instance("inst-sales")
        assert own is not None and own.connection_name == "sales" and own.client_state == "c" * 40
        gone = upgraded.get_trigger_instance("inst-gone")
        assert gone is not None and gone.connection_name == a("gone")
        solo_instance = upgraded.get_trigger_instance("inst-solo")
        assert solo_instance is not None and solo_instance.connection_name == "solo"
        assert alice.get_policy("sales") == {"preset": "sales"} and upgraded.get_policy("solo") == {
            "preset": "solo"
        }
        assert [(ap.id, ap.connection) for ap in alice.list_approvals()] == [("ap-sales", "sales")]
        assert [r.connection for r in alice.list_audit()] == ["sales"]
        assert upgraded.kv_get("connection-account", alice.storage_name("sales")) == "alice@contoso.com"
        with upgraded.read() as db:  # re-sealed under the stored name, once
            assert db.execute("SELECT COUNT(*) FROM meta WHERE key = ?", (RESEAL_FLAG,)).fetchone()[0] == 0
            secrets = db.execute("SELECT secrets FROM connections WHERE name = ?", (a("sales"),)).fetchone()[
                0
            ]
        assert upgraded.cipher().open(bytes(secrets), label("secrets", a("sales")))
        bob = upgraded.for_principal(B1)
        bob.save_connection(_connection("sales"))  # the name is free in another tenant now
        assert [c.name for c in bob.list_connections()] == ["sales"]


# -- against the sandbox: same-named connections of two tenants act on their own mailboxes ---------
@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    from sandbox.config import SandboxConfig
    from tests.triggers.harness import SANDBOX

    with SandboxServer(SandboxConfig(**SANDBOX)) as running:  # deliveries when a test asks
        yield running


@pytest.fixture
def mailboxes(store: Store, sandbox: SandboxServer) -> dict[str, str]:
    """Tenant a's connection 'mail' signs in as the sandbox's default user, tenant b's as another;
    the mailbox address each should act on, by tenant."""
    from connections.sandbox import sandbox_connection

    sandbox.state.reset()
    sandbox_connection(store.for_principal(A1), sandbox.url, "delegated", name="mail")
    sandbox_connection(store.for_principal(B1), sandbox.url, "delegated", name="mail", user=OTHER_USER)
    return {"tenant-a": seed.DEFAULT_USER, "tenant-b": OTHER_USER}


def test_two_tenants_connections_of_one_name_act_on_their_own_mailboxes(
    store: Store, mailboxes: dict[str, str]
) -> None:
    from connections.registry import load_connection
    from connector.runtime import Runtime

    with Runtime(store=store, strict_output=True) as host:  # the host: one runtime, both tenants
        for principal in (A1, B1):
            view = store.for_principal(principal)
            member = host.for_principal(principal)
            me = member.run_action("get_current_user", {}, load_connection(view, "mail"))
            assert me["userPrincipalName"].lower() == mailboxes[principal.tenant].lower()
            hosts = host.run_action("get_current_user", {}, load_connection(store, view.storage_name("mail")))
            assert hosts["userPrincipalName"].lower() == mailboxes[principal.tenant].lower()
        with pytest.raises(ConfigurationError, match="no connection named 'mail'"):
            load_connection(store, "mail")  # the host has none of its own by that name
    for principal in (A1, B1):
        records = store.for_principal(principal).list_audit(action="get_current_user")
        assert [r.connection for r in records] == ["mail", "mail"]


def test_one_unbound_worker_processes_both_tenants_instances_with_their_own_connections(
    store: Store, mailboxes: dict[str, str], sandbox: SandboxServer
) -> None:
    import threading

    import httpx
    from werkzeug.serving import make_server

    from connector.runtime import Runtime
    from connector.webhooks import create_app
    from tests.support.sandbox import delegated_token
    from triggers.delivery import CallbackDelivery, TriggerEvent
    from triggers.service import TriggerService

    receiver = make_server("127.0.0.1", 0, create_app(store), threaded=True)  # the host's receiver
    thread = threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    public_url = f"http://127.0.0.1:{receiver.server_port}"
    events: list[TriggerEvent] = []
    instances: dict[str, str] = {}
    try:
        with Runtime(store=store, strict_output=True) as host:
            for principal in (A1, B1):  # each tenant enables a trigger on its own 'mail'
                view = store.for_principal(principal)
                tenant_service = TriggerService(
                    view,
                    host.for_principal(principal),
                    CallbackDelivery(events.append),
                    public_url=public_url,
                )
                enabled = tenant_service.enable(
                    "mail_message_webhook", "mail", {"folder_id": "inbox", "change_types": ["created"]}
                )
                assert enabled.connection_name == "mail"
                instances[enabled.id] = principal.tenant
            for tenant, user in mailboxes.items():  # a message arrives in each mailbox
                token = delegated_token(sandbox.url, user)
                created = httpx.post(
                    f"{sandbox.graph_url}/me/mailFolders/inbox/messages",
                    json={"subject": f"for {tenant}", "body": {"contentType": "text", "content": tenant}},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=20,
                )
                assert created.status_code == 201, created.text
            assert sandbox.state.subscriptions.deliver_pending() >= 2
            worker = TriggerService(store, host, CallbackDelivery(events.append))  # unbound: every tenant
            assert worker.process_all() == 2
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join(5)
    got = sorted((instances[e.instance_id], (e.resource or {}).get("subject")) for e in events)
    assert got == [("tenant-a", "for tenant-a"), ("tenant-b", "for tenant-b")]
    for instance_id, tenant in instances.items():
        saved = store.get_trigger_instance(instance_id)
        assert saved is not None and saved.connection_name == stored_name(tenant, "mail")
        assert saved.last_error is None


def test_a_run_id_of_one_tenant_is_not_another_tenants(store: Store, mailboxes: dict[str, str]) -> None:
    """Send Templated Messages remembers a run_id's rows per tenant: the same run of another
    tenant sends its own rows (and learns nothing of the first)."""
    from connections.registry import load_connection
    from connector.policy import PRESETS, PolicyGate
    from connector.runtime import Runtime

    rows = [{"Email": mailboxes["tenant-a"], "N": n} for n in range(3)]
    batch = {"subject_template": "Tenant run #{{N}}", "body_template": "<p>{{N}}</p>", "to_column": "Email"}
    statuses = {}
    for principal in (A1, B1, A1):
        view = store.for_principal(principal)
        with Runtime(store=view, strict_output=True, gate=PolicyGate(policy=PRESETS["open"])) as runtime:
            sent = runtime.run_action(
                "send_templated_messages",
                {**batch, "rows": rows, "run_id": "newsletter-1"},
                load_connection(view, "mail"),
            )
        statuses.setdefault(principal.tenant, []).append([row["status"] for row in sent["rows"]])
    assert statuses["tenant-a"] == [["sent"] * 3, ["already_sent"] * 3]
    assert statuses["tenant-b"] == [["sent"] * 3]


def test_a_run_journal_written_before_tenants_still_stops_a_resend(
    store: Store, sandbox: SandboxServer, mailboxes: dict[str, str]
) -> None:
    """Journal rows from before run_ids were per tenant carry no tenant prefix: a tenant's re-run of
    that run_id after the upgrade must still see them and send nothing twice."""
    from connections.registry import load_connection
    from connector.policy import PRESETS, PolicyGate
    from connector.runtime import Runtime

    rows = [{"Email": mailboxes["tenant-a"], "N": n} for n in range(2)]
    batch = {"subject_template": "Old run #{{N}}", "body_template": "<p>{{N}}</p>", "to_column": "Email"}
    from connections.sandbox import sandbox_connection

    a1 = store.for_principal(A1)
    sandbox_connection(store, sandbox.url, "delegated", name="before-tenants")  # the host's, no tenant
    statuses = []
    for view, name in ((store, "before-tenants"), (a1, "mail")):  # the old row's keys are unprefixed
        with Runtime(store=view, strict_output=True, gate=PolicyGate(policy=PRESETS["open"])) as runtime:
            sent = runtime.run_action(
                "send_templated_messages",
                {**batch, "rows": rows, "run_id": "before-1"},
                load_connection(view, name),
            )
        statuses.append([row["status"] for row in sent["rows"]])
    assert statuses == [["sent", "sent"], ["already_sent", "already_sent"]]


def test_shared_mailboxes_and_noted_accounts_stay_in_their_tenant(
    store: Store, mailboxes: dict[str, str]
) -> None:
    from connections.registry import account_of, load_connection, note_account
    from connections.shared_mailbox import SharedMailboxConnection, dependents

    a1, b1 = store.for_principal(A1), store.for_principal(B1)
    a1.save_connection(
        ConnectionRecord("shared", "shared_mailbox", {"via": "mail", "mailbox": "team@contoso.com"})
    )
    mine = load_connection(a1, "shared")
    hosts = load_connection(store, a("shared"))  # the host (a worker) reaches it by its stored name
    for loaded, via in ((mine, "mail"), (hosts, a("mail"))):
        assert isinstance(loaded, SharedMailboxConnection)
        assert loaded.via.name == via and loaded.storage_name == a("shared")
    assert dependents(a1, "mail") == ["shared"] and dependents(store, a("mail")) == [a("shared")]
    assert dependents(b1, "mail") == []  # b's 'mail' signs in for nothing of a's
    note_account(a1, "mail", "alice@contoso.com")
    note_account(b1, "mail", "bob@fabrikam.com")
    theirs, own = a1.get_connection("mail"), b1.get_connection("mail")
    assert theirs is not None and own is not None
    assert account_of(b1, own) == "bob@fabrikam.com" and account_of(a1, theirs) == "alice@contoso.com"
    hosted = store.get_connection(a("mail"))
    assert hosted is not None and account_of(store, hosted) == "alice@contoso.com"


def test_an_approval_asked_by_a_member_is_one_call_for_the_host_too(
    store: Store, mailboxes: dict[str, str]
) -> None:
    """The approval binds the connection's stored name: a member's pending call, approved by the
    host, may be run by the host (a worker acting by stored name) with the same input, once; tenant
    b's 'mail' (another connection of the same plain name) may not spend it."""
    from connections.registry import load_connection
    from connector.policy import PRESETS, ApprovalRequired, PolicyError
    from connector.runtime import Runtime

    call = {"top": 1}
    a1, b1 = store.for_principal(A1), store.for_principal(B1)
    approve_reads = PRESETS["open"].to_dict() | {"overrides": {"list_messages": "approve"}}
    store.set_policy(None, approve_reads)
    for view in (a1, b1):
        view.set_policy(None, approve_reads)

    def run(view: Store, name: str, approval: str | None = None) -> dict[str, Any]:
        with Runtime(store=view, strict_output=True) as runtime:
            return runtime.run_action("list_messages", call, load_connection(view, name), approval=approval)

    with pytest.raises(ApprovalRequired) as asked:
        run(a1, "mail")
    approval_id = asked.value.approval.id
    assert store.decide_approval(approval_id, "approved", "admin", store.clock()) is not None
    with pytest.raises(PolicyError, match="no such approval"):
        run(b1, "mail", approval_id)  # b's 'mail' is another connection: not even shown to b
    assert len(run(store, a("mail"), approval_id)["messages"]) == 1  # the host, by stored name
    with pytest.raises(PolicyError, match="used already"):
        run(a1, "mail", approval_id)
