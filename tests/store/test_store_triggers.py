"""Trigger state in the store: instances (secrets encrypted at rest), the durable notification
queue (claims with leases, safe across threads and processes) and delivered keys (exactly once)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from connector.crypto import DecryptionError
from connector.errors import ConfigurationError
from connector.store import (
    QueuedNotification,
    Store,
    TriggerInstance,
    UnknownTriggerInstanceError,
)
from connector.store import sqlite as store_module
from tests.store.conftest import FakeClock

CLIENT_STATE = "kW3u9q-client-state-do-not-leak-0123456789abcdef"
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEv-private-key-do-not-leak\n-----END PRIVATE KEY-----\n"


def _instance(id_: str = "inst-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", **overrides: object) -> TriggerInstance:
    fields: dict[str, object] = {
        "id": id_,
        "trigger_key": "mail_message_webhook",
        "connection_name": "work",
        "config": {"folder_id": "inbox", "change_types": ["created"]},
        "client_state": CLIENT_STATE,
        "state": {"watches": [{"subscription_id": "sub-1", "cursor": "https://graph/delta?x=1"}]},
        "secrets": {"private_key_pem": PRIVATE_KEY},
        "status": "active",
        "created_at": 0.0,
        "updated_at": 0.0,
        "last_success_at": None,
        "last_error": None,
        "last_error_at": None,
    }
    fields.update(overrides)
    return TriggerInstance(**fields)  # type: ignore[arg-type]


def _item(n: int) -> dict[str, object]:
    return {
        "subscriptionId": "sub-1",
        "changeType": "created",
        "resource": f"Users/u1/Messages/m{n}",
        "resourceData": {"id": f"m{n}", "@odata.etag": f'W/"ck{n}"'},
    }


def _raw_bytes(db_path: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")) if p.exists()
    )


# -- instances ---------------------------------------------------------------------------------------
def test_instance_round_trip_and_upsert(store: Store, clock: FakeClock) -> None:
    assert store.get_trigger_instance("nope") is None
    store.save_trigger_instance(_instance())
    got = store.get_trigger_instance(_instance().id)
    assert got == replace(_instance(), created_at=clock.now, updated_at=clock.now)
    assert CLIENT_STATE not in repr(got) and "do-not-leak" not in repr(got)

    clock.now += 10
    store.save_trigger_instance(replace(got, status="paused", config={"folder_id": "archive"}))
    again = store.get_trigger_instance(got.id)
    assert again is not None
    assert (again.status, again.config, again.created_at, again.updated_at) == (
        "paused",
        {"folder_id": "archive"},
        clock.now - 10,  # replacing keeps the creation time
        clock.now,
    )
    store.save_trigger_instance(_instance("inst-second", created_at=clock.now + 1))
    assert [i.id for i in store.list_trigger_instances()] == [got.id, "inst-second"]


def test_invalid_status_is_refused_naming_it(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="status 'running'"):
        store.save_trigger_instance(_instance(status="running"))
    store.save_trigger_instance(_instance())
    with pytest.raises(ConfigurationError, match="status 'off'"):
        store.set_trigger_status(_instance().id, "off")
    assert store.set_trigger_status(_instance().id, "disabled")
    assert store.get_trigger_instance(_instance().id).status == "disabled"  # type: ignore[union-attr]
    assert not store.set_trigger_status("missing", "paused")


def test_update_state_compare_and_set(store: Store) -> None:
    inst = _instance()
    store.save_trigger_instance(inst)
    new = {"watches": [{"subscription_id": "sub-2"}]}
    assert not store.update_trigger_state(inst.id, new, expected={"watches": []})  # stale expectation
    assert store.get_trigger_instance(inst.id).state == inst.state  # type: ignore[union-attr]
    assert store.update_trigger_state(inst.id, new, expected=inst.state)
    assert store.get_trigger_instance(inst.id).state == new  # type: ignore[union-attr]
    assert store.update_trigger_state(inst.id, {"x": 1})  # unconditional
    assert not store.update_trigger_state("missing", {"x": 1})


def test_compare_and_set_lets_one_of_many_concurrent_writers_win(store: Store) -> None:
    inst = _instance()
    store.save_trigger_instance(inst)
    wins: list[int] = []

    def write(n: int) -> None:
        if store.update_trigger_state(inst.id, {"writer": n}, expected=inst.state):
            wins.append(n)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert store.get_trigger_instance(inst.id).state == {"writer": wins[0]}  # type: ignore[union-attr]


def test_health_success_and_error(store: Store, clock: FakeClock) -> None:
    store.save_trigger_instance(_instance())
    clock.now += 5
    store.record_trigger_error(_instance().id, "renewing: 403 Forbidden")
    got = store.get_trigger_instance(_instance().id)
    assert got is not None and (got.last_error, got.last_error_at) == ("renewing: 403 Forbidden", clock.now)
    clock.now += 5
    store.record_trigger_success(_instance().id)
    got = store.get_trigger_instance(_instance().id)
    assert got is not None
    assert (got.last_success_at, got.last_error, got.last_error_at) == (clock.now, None, None)


def test_client_state_and_secrets_never_in_the_database_files(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    store.save_trigger_instance(_instance())
    store.enqueue_notifications(_instance().id, "change", [_item(1)])
    assert store.get_trigger_instance(_instance().id).client_state == CLIENT_STATE  # type: ignore[union-attr]
    raw = _raw_bytes(path)
    assert b"sub-1" in raw and b"mail_message_webhook" in raw  # the method does see the data in clear
    for secret in (CLIENT_STATE, "do-not-leak", "MIIEv"):
        assert secret.encode() not in raw
    store.close()
    assert b"do-not-leak" not in _raw_bytes(path)


def test_sealed_client_state_is_bound_to_its_instance(store: Store) -> None:
    store.save_trigger_instance(_instance("inst-a"))
    store.save_trigger_instance(_instance("inst-b", client_state="another-secret-another-secret-xx"))
    with store.transaction() as db:  # copy a's sealed clientState onto b
        db.execute(
            "UPDATE trigger_instances SET client_state ="
            " (SELECT client_state FROM trigger_instances WHERE id = 'inst-a') WHERE id = 'inst-b'"
        )
    with pytest.raises(DecryptionError):
        store.get_trigger_instance("inst-b")


def test_delete_removes_the_instance_its_queue_and_its_keys(store: Store) -> None:
    store.save_trigger_instance(_instance("inst-a"))
    store.save_trigger_instance(_instance("inst-b"))
    for inst in ("inst-a", "inst-b"):
        store.enqueue_notifications(inst, "change", [_item(1), _item(2)])
        store.mark_delivered(inst, "k1")
    assert store.delete_trigger_instance("inst-a")
    assert not store.delete_trigger_instance("inst-a")
    assert store.get_trigger_instance("inst-a") is None
    assert store.pending_notification_count("inst-a") == 0
    assert not store.was_delivered("inst-a", "k1")
    assert store.pending_notification_count("inst-b") == 2 and store.was_delivered("inst-b", "k1")
    with store.read() as db:
        assert (
            db.execute("SELECT COUNT(*) FROM trigger_queue WHERE instance_id = 'inst-a'").fetchone()[0] == 0
        )


def test_upgrade_from_the_first_schema_keeps_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.db"
    with monkeypatch.context() as patch:
        patch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
        with Store(path) as old, old.transaction() as db:  # a connection as the first version saved it
            db.execute(
                "INSERT INTO connections (name, type_key, config, created_at, updated_at)"
                """ VALUES ('work', 'oauth2_code', '{"tenant":"common"}', 0, 0)"""
            )
            assert int(db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]) == 1
    with Store(path) as upgraded:
        assert upgraded.schema_version() >= 2
        work = upgraded.get_connection("work")
        assert work is not None and (work.tenant, work.owner, work.scope) == ("", "", "organization")
        upgraded.save_trigger_instance(_instance())
        assert upgraded.enqueue_notifications(_instance().id, "change", [_item(1)]) == 1


# -- queue -------------------------------------------------------------------------------------------
def test_enqueue_is_one_transaction_for_a_known_instance(store: Store) -> None:
    with pytest.raises(UnknownTriggerInstanceError, match="inst-missing"):
        store.enqueue_notifications("inst-missing", "change", [_item(1)])
    with pytest.raises(ConfigurationError, match="kind 'other'"):
        store.enqueue_notifications(_instance().id, "other", [_item(1)])
    assert store.pending_notification_count() == 0
    store.save_trigger_instance(_instance())
    assert store.enqueue_notifications(_instance().id, "change", []) == 0
    with pytest.raises(TypeError):  # an item that is not JSON: nothing of the batch is written
        store.enqueue_notifications(_instance().id, "change", [_item(1), {"bad": object()}])
    assert store.pending_notification_count() == 0
    assert store.enqueue_notifications(_instance().id, "change", [_item(1), _item(2)]) == 2
    assert store.enqueue_notifications(_instance().id, "lifecycle", [{"lifecycleEvent": "missed"}]) == 1
    assert store.pending_notification_count() == 3
    assert store.pending_notification_count(_instance().id) == 3
    assert store.pending_notification_count("other") == 0


def test_claim_lease_expiry_retry_complete(store: Store, clock: FakeClock) -> None:
    inst = _instance()
    store.save_trigger_instance(inst)
    received = clock.now
    store.enqueue_notifications(inst.id, "change", [_item(n) for n in range(5)])
    store.enqueue_notifications(inst.id, "lifecycle", [{"lifecycleEvent": "missed"}])

    first = store.claim_notifications("w1", limit=2, lease_seconds=60)
    assert [(q.item, q.kind, q.attempts, q.received_at) for q in first] == [
        (_item(0), "change", 1, received),
        (_item(1), "change", 1, received),
    ]
    assert all(isinstance(q, QueuedNotification) and q.instance_id == inst.id for q in first)
    rest = store.claim_notifications("w2", limit=100)
    assert [q.kind for q in rest] == ["change"] * 3 + ["lifecycle"]
    assert store.claim_notifications("w3") == []  # everything is leased
    assert store.pending_notification_count() == 6  # claimed rows are still pending

    store.complete_notification(first[0].seq)
    store.retry_notification(first[1].seq, "host refused", delay=30)
    for q in rest:
        store.complete_notification(q.seq)
    assert store.pending_notification_count() == 1
    clock.now += 29.9
    assert store.claim_notifications("w3") == []  # not due yet
    clock.now += 0.1
    again = store.claim_notifications("w3")
    assert [(q.seq, q.attempts) for q in again] == [(first[1].seq, 2)]

    # w3 dies holding it: the lease runs out and the row is claimable again
    clock.now += 59.9
    assert store.claim_notifications("w4") == []
    clock.now += 0.1
    taken = store.claim_notifications("w4")
    assert [(q.seq, q.attempts) for q in taken] == [(first[1].seq, 3)]
    store.complete_notification(taken[0].seq)
    assert store.pending_notification_count() == 0
    assert store.claim_notifications("w4", limit=0) == []


def test_concurrent_claims_never_hand_a_row_to_two_threads(location: str) -> None:
    with Store(location) as store:
        store.save_trigger_instance(_instance())
        for start in range(0, 600, 100):
            store.enqueue_notifications(
                _instance().id, "change", [_item(n) for n in range(start, start + 100)]
            )
        claimed: dict[str, list[int]] = {}

        def work(name: str) -> None:
            mine = claimed.setdefault(name, [])
            while batch := store.claim_notifications(name, limit=7):
                mine.extend(q.seq for q in batch)
                for q in batch:
                    store.complete_notification(q.seq)

        threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seqs = [s for mine in claimed.values() for s in mine]
        assert len(seqs) == 600 and len(set(seqs)) == 600
        assert store.pending_notification_count() == 0


# -- delivered keys ----------------------------------------------------------------------------------
def test_mark_delivered_is_true_once_and_prunable(store: Store, clock: FakeClock) -> None:
    assert not store.was_delivered("inst", "k1")
    assert store.mark_delivered("inst", "k1")
    assert not store.mark_delivered("inst", "k1")
    assert store.was_delivered("inst", "k1") and not store.was_delivered("other", "k1")
    clock.now += 3 * 86400
    assert store.mark_delivered("inst", "k2")
    clock.now += 4 * 86400 + 1  # k1 is now 7 days and 1 s old, k2 4 days
    assert store.prune_delivered(older_than=7 * 86400) == 1
    assert not store.was_delivered("inst", "k1") and store.was_delivered("inst", "k2")
    assert store.prune_delivered() == 0


def _mark_all(path: str, keys: list[str], start: Any, out: Any) -> None:
    with Store(path) as store:
        store.was_delivered("inst", "warm-up")  # the connection is open before the race starts
        out.put("ready")
        start.wait(30)
        won = [key for key in keys if store.mark_delivered("inst", key)]
    out.put(won)


def _claim_all(path: str, name: str, start: Any, out: Any) -> None:
    got: list[int] = []
    with Store(path) as store:
        store.pending_notification_count()
        out.put("ready")
        start.wait(30)
        while batch := store.claim_notifications(name, limit=5):
            got.extend(q.seq for q in batch)
            for q in batch:
                store.complete_notification(q.seq)
    out.put(got)


def test_two_processes_mark_and_claim_each_thing_once(location: str) -> None:
    path = location
    with Store(path) as store:  # creates the key file and the schema before the children start
        store.save_trigger_instance(_instance("inst"))
        store.enqueue_notifications("inst", "change", [_item(n) for n in range(300)])
    keys = [f"key-{n}" for n in range(300)]
    ctx = multiprocessing.get_context("spawn")
    for target, args in ((_mark_all, (keys,)), (_claim_all, ())):
        start, out = ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(target=target, args=(str(path), *(args or (f"p{n}",)), start, out)) for n in range(2)
        ]
        for p in procs:
            p.start()
        assert [out.get(timeout=60) for _ in procs] == ["ready", "ready"]
        start.set()
        results = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join(30)
            assert p.exitcode == 0
        got = [x for r in results for x in r]
        assert len(got) == 300 and len(set(got)) == 300  # each exactly once, across both processes


def test_checked_enqueue_queues_a_group_only_for_its_instance_as_it_was_checked(store: Store) -> None:
    store.save_trigger_instance(_instance("inst-a"))
    store.save_trigger_instance(_instance("inst-b"))
    store.save_trigger_instance(_instance("inst-c"))
    access = {name: store.receiver_access(name) for name in ("inst-a", "inst-b", "inst-c")}
    sealed = {name: found.sealed_client_state for name, found in access.items() if found is not None}
    assert access["inst-a"] is not None and access["inst-a"].client_state == CLIENT_STATE
    assert store.receiver_access("inst-missing") is None
    store.set_trigger_status("inst-b", "disabled")
    rekeyed = store.get_trigger_instance("inst-c")
    assert rekeyed is not None
    store.save_trigger_instance(replace(rekeyed, client_state="another-secret-" + "x" * 40))
    many = [("change", _item(n)) for n in range(1_234)]  # more rows than one INSERT statement takes
    queued = store.enqueue_checked_notifications(
        [
            ("inst-a", sealed["inst-a"], many),
            ("inst-b", sealed["inst-b"], [("change", _item(1))]),  # disabled since it was checked
            ("inst-c", sealed["inst-c"], [("change", _item(2))]),  # clientState changed since
            ("inst-missing", sealed["inst-a"], [("change", _item(3))]),
            ("inst-a", sealed["inst-a"], [("lifecycle", {"lifecycleEvent": "missed"})]),
        ]
    )
    assert queued == [True, False, False, False, True]
    rows = store.claim_notifications("test", limit=2_000)
    assert {row.instance_id for row in rows} == {"inst-a"}
    assert [row.item["resourceData"]["id"] for row in rows[:-1]] == [f"m{n}" for n in range(1_234)]
    assert rows[-1].kind == "lifecycle"
    with pytest.raises(ConfigurationError, match="kind 'other'"):  # nothing of the call is written
        store.enqueue_checked_notifications(
            [
                ("inst-a", sealed["inst-a"], [("change", _item(1))]),
                ("inst-a", sealed["inst-a"], [("other", {})]),
            ]
        )
    assert store.pending_notification_count() == len(rows)


def test_the_queue_rows_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Store(path) as store:
        store.save_trigger_instance(_instance())
        store.enqueue_notifications(_instance().id, "change", [_item(1)])
    db = sqlite3.connect(path)  # the row is committed to the file, not only to a cache
    assert db.execute("SELECT COUNT(*) FROM trigger_queue").fetchone()[0] == 1
    db.close()
    with Store(path) as reopened:
        assert [q.item for q in reopened.claim_notifications("w")] == [_item(1)]
