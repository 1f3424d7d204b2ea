"""The delivery record (``Store.commit_delivery``) and the outbox a host reads, on both backends:
the marks, the queue row's completion and the event commit together; the dedupe key decides who
writes the event; a lost claim records the delivery without completing another worker's row; a
reader following its cursor while writers commit concurrently sees every event once, in order."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from connector.errors import ConfigurationError
from connector.store import Principal, Store, TriggerInstance
from tests.store.conftest import FakeClock

INSTANCE = "OutboxInstance0123456789abcdefgh"


def _instance(id_: str = INSTANCE, scope: str = "organization") -> TriggerInstance:
    return TriggerInstance(
        id=id_, trigger_key="webhook", connection_name="work", config={}, client_state="s" * 40, scope=scope
    )


def _event(key: str, **extra: object) -> dict[str, object]:
    return {"instance_id": INSTANCE, "dedupe_key": key, "resource": {"subject": "Quarterly report"}, **extra}


def test_marks_completion_and_event_commit_together(store: Store) -> None:
    store.save_trigger_instance(_instance())
    store.enqueue_notifications(INSTANCE, "change", [{"n": 1}])
    [row] = store.claim_notifications("w1")
    assert store.is_queued(row.seq)
    commit = store.commit_delivery(INSTANCE, ["k1", "k1-created"], event=_event("k1"), finish=(row.seq, "w1"))
    assert commit.delivered and commit.finished and not store.is_queued(row.seq)
    assert store.was_delivered(INSTANCE, "k1") and store.was_delivered(INSTANCE, "k1-created")
    assert store.pending_notification_count() == 0
    [stored] = store.read_trigger_events()
    assert stored.event == _event("k1") and stored.instance_id == INSTANCE and stored.dedupe_key == "k1"

    # the same version again (a copy Graph sent twice, another path): no second event
    again = store.commit_delivery(INSTANCE, ["k1"], event=_event("k1"))
    assert not again.delivered and again.finished is None
    assert len(store.read_trigger_events()) == 1


def test_events_are_sealed_in_the_database(store: Store) -> None:
    store.save_trigger_instance(_instance())
    store.commit_delivery(INSTANCE, ["k1"], event=_event("k1"))
    with store.read() as db:
        [(raw,)] = db.execute("SELECT event FROM trigger_events").fetchall()
    assert b"Quarterly report" not in bytes(raw)
    with store.transaction() as db:  # moved to another key's row: it no longer opens
        db.execute("UPDATE trigger_events SET dedupe_key = 'k2'")
    with pytest.raises(ConfigurationError):
        store.read_trigger_events()


def test_a_lost_claim_records_the_delivery_but_leaves_the_row_to_its_new_claimant(
    store: Store, clock: FakeClock
) -> None:
    store.save_trigger_instance(_instance())
    store.enqueue_notifications(INSTANCE, "change", [{"n": 1}])
    [row] = store.claim_notifications("w1", lease_seconds=10)
    clock.now += 10  # w1's host was slow: its lease ran out and w2 claimed the row
    [again] = store.claim_notifications("w2", lease_seconds=10)
    assert again.seq == row.seq

    late = store.commit_delivery(INSTANCE, ["k1"], event=_event("k1"), finish=(row.seq, "w1"))
    assert late.delivered and late.finished is False
    assert store.pending_notification_count() == 1  # w2's row is untouched

    # w2 finds the version delivered: it writes no event and completes its row
    second = store.commit_delivery(INSTANCE, ["k1"], event=_event("k1"), finish=(row.seq, "w2"))
    assert not second.delivered and second.finished is True
    assert store.pending_notification_count() == 0
    assert [e.dedupe_key for e in store.read_trigger_events()] == ["k1"]


def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    store.save_trigger_instance(_instance())
    store.enqueue_notifications(INSTANCE, "change", [{"n": 1}])
    [row] = store.claim_notifications("w1")
    with pytest.raises(TypeError):  # not JSON: fails inside, after the row's DELETE was prepared
        store.commit_delivery(INSTANCE, ["k1"], event={"bad": object()}, finish=(row.seq, "w1"))
    assert not store.was_delivered(INSTANCE, "k1")
    assert store.pending_notification_count() == 1 and store.read_trigger_events() == []


def test_the_outbox_is_read_with_a_cursor_and_pruned(store: Store, clock: FakeClock) -> None:
    store.save_trigger_instance(_instance())
    for n in range(5):
        store.commit_delivery(INSTANCE, [f"k{n}"], event=_event(f"k{n}"))
        clock.now += 100
    first = store.read_trigger_events(0, 2)
    rest = store.read_trigger_events(first[-1].seq, 100)
    assert [e.dedupe_key for e in first + rest] == [f"k{n}" for n in range(5)]
    assert store.read_trigger_events(rest[-1].seq) == []
    assert store.prune_trigger_events(through=first[-1].seq) == 2
    assert store.prune_trigger_events(older_than=250) == 1  # k2 is 300 s old, k3 200 s, k4 100 s
    assert [e.dedupe_key for e in store.read_trigger_events()] == ["k3", "k4"]


@pytest.mark.parametrize(
    ("after", "limit", "field"),
    [(-1, 10, "after"), (0, 0, "limit"), (0, 10_001, "limit"), (True, 5, "after")],
)
def test_bad_cursors_are_refused_naming_the_field(store: Store, after: int, limit: int, field: str) -> None:
    with pytest.raises(ConfigurationError, match=f"invalid {field}"):
        store.read_trigger_events(after, limit)


def test_a_principal_reads_only_its_instances_events(store: Store) -> None:
    alice, bob = Principal("tenant-a", "alice"), Principal("tenant-b", "bob")
    store.for_principal(alice).save_trigger_instance(_instance("A" * 32))
    store.for_principal(bob).save_trigger_instance(_instance("B" * 32))
    store.commit_delivery("A" * 32, ["ka"], event=_event("ka"))
    store.commit_delivery("B" * 32, ["kb"], event=_event("kb"))
    assert [e.dedupe_key for e in store.for_principal(alice).read_trigger_events()] == ["ka"]
    assert [e.dedupe_key for e in store.for_principal(bob).read_trigger_events()] == ["kb"]
    assert store.for_principal(bob).prune_trigger_events(through=10**9) == 1  # only its own
    assert [e.dedupe_key for e in store.read_trigger_events()] == ["ka"]  # the host sees all


def test_a_reader_following_concurrent_writers_sees_every_event_once(
    store: Store, open_store: Callable[..., Store]
) -> None:
    """Positions become visible in commit order: a reader whose cursor passed a position never
    finds a smaller one appear later (it would skip it)."""
    store.save_trigger_instance(_instance())
    writers, per_writer = 4, 60
    done = threading.Event()
    seen: list[str] = []
    reader = open_store()

    def write(w: int) -> None:
        mine = open_store()
        for n in range(per_writer):
            mine.commit_delivery(INSTANCE, [f"w{w}-{n}"], event=_event(f"w{w}-{n}"))

    def read() -> None:
        after = 0
        while True:
            finished = done.is_set()  # read once more after the writers finished
            rows = reader.read_trigger_events(after, 50)
            seen.extend(row.dedupe_key for row in rows)
            if rows:
                after = rows[-1].seq
            elif finished:
                return

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    following = threading.Thread(target=read)
    following.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    following.join()
    assert len(seen) == len(set(seen)) == writers * per_writer


def test_the_processor_records_created_and_updated_on_both_backends(store: Store) -> None:
    """``deliver_changes`` with the outbox: an item's ``created`` mark (no NUL byte: PostgreSQL's
    text refuses it) makes a later "created" of a new version go out as updated."""
    from triggers.delivery import OutboxDelivery
    from triggers.delta import Change
    from triggers.processor import deliver_changes

    instance = _instance()
    store.save_trigger_instance(instance)
    changes = [
        Change("created", "m1", "k1", {"id": "m1", "changeKey": "k1"}),
        Change("created", "m1", "k1", {"id": "m1", "changeKey": "k1"}),  # the same version again
        Change("created", "m1", "k2", {"id": "m1", "changeKey": "k2"}),  # delta calls it created
        Change("deleted", "m1", None, None),
    ]
    assert deliver_changes(store, OutboxDelivery(store), instance, changes, "delta") == 3
    events = [e.event for e in store.read_trigger_events()]
    assert [(e["change_type"], e["resource_id"]) for e in events] == [
        ("created", "m1"),
        ("updated", "m1"),
        ("deleted", "m1"),
    ]
    assert len(store.list_delivered(INSTANCE)) == 4  # three versions and the item's created mark
