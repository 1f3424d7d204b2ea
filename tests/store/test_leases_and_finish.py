"""Leases (one holder at a time, taken over when they run out) and the exactly-once finish of a
queue row (completion and delivered marks in one transaction, only by the row's claimant), on
both backends; enqueues wake waiting workers on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

from connector.store import Store, TriggerInstance
from tests.store.conftest import FakeClock

INSTANCE = "LeaseInstance0123456789abcdefghij"


def _instance() -> TriggerInstance:
    return TriggerInstance(
        id=INSTANCE, trigger_key="webhook", connection_name="work", config={}, client_state="s" * 40
    )


def test_a_lease_has_one_holder_until_released_or_run_out(store: Store, clock: FakeClock) -> None:
    assert store.acquire_lease("renew:a", "w1", 30)
    assert not store.acquire_lease("renew:a", "w2", 30)
    assert store.acquire_lease("renew:b", "w2", 30)  # another name is another lease
    assert store.acquire_lease("renew:a", "w1", 30)  # the holder extends it
    assert store.lease_holder("renew:a") == "w1"
    assert not store.release_lease("renew:a", "w2")  # only the holder releases
    assert store.release_lease("renew:a", "w1") and store.lease_holder("renew:a") is None
    assert store.acquire_lease("renew:a", "w2", 30)
    clock.now += 30  # w2 died: its lease runs out
    assert store.lease_holder("renew:a") is None
    assert store.acquire_lease("renew:a", "w3", 30)
    assert not store.release_lease("renew:a", "w2")


def test_concurrent_acquirers_get_a_lease_once(store: Store) -> None:
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def take(name: str) -> None:
        barrier.wait()
        for n in range(25):
            if store.acquire_lease(f"job-{n}", name, 60):
                wins.append(f"job-{n}")

    threads = [threading.Thread(target=take, args=(f"w{k}",)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == sorted(f"job-{n}" for n in range(25))


def test_finish_completes_and_marks_in_one_step_only_for_the_claimant(store: Store, clock: FakeClock) -> None:
    store.save_trigger_instance(_instance())
    store.enqueue_notifications(INSTANCE, "change", [{"n": 1}, {"n": 2}])
    first, second = store.claim_notifications("w1", limit=2, lease_seconds=10)
    assert store.finish_notification(first.seq, "w1", [(INSTANCE, "k1")]) == [(INSTANCE, "k1")]
    assert store.was_delivered(INSTANCE, "k1")
    assert store.finish_notification(first.seq, "w1", [(INSTANCE, "k1")]) is None  # done already

    clock.now += 10  # w1's lease on the second row ran out; w2 claims it
    [again] = store.claim_notifications("w2", limit=5, lease_seconds=10)
    assert again.seq == second.seq
    assert store.finish_notification(second.seq, "w1", [(INSTANCE, "k2")]) is None  # not w1's any more
    assert not store.was_delivered(INSTANCE, "k2")  # and nothing of it was written
    assert store.finish_notification(second.seq, "w2", [(INSTANCE, "k2"), (INSTANCE, "k1")]) == [
        (INSTANCE, "k2")  # k1 was delivered before (a copy of the same item)
    ]
    assert store.pending_notification_count() == 0


def test_a_retried_row_cannot_be_finished_by_its_old_claimant(store: Store) -> None:
    store.save_trigger_instance(_instance())
    store.enqueue_notifications(INSTANCE, "change", [{"n": 1}])
    [row] = store.claim_notifications("w1")
    store.retry_notification(row.seq, "failed", 0)
    assert store.finish_notification(row.seq, "w1", [(INSTANCE, "k")]) is None
    assert store.pending_notification_count() == 1


def test_an_enqueue_wakes_a_waiting_worker(store: Store, open_store: Callable[..., Store]) -> None:
    store.save_trigger_instance(_instance())
    if store.url is None:  # SQLite: the wait is the short poll
        assert store.wait_for_notifications(0.0) is False
        return
    other = open_store()
    assert other.wait_for_notifications(0.0) is False  # listening from now on; nothing yet
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(other.wait_for_notifications(60.0)))
    waiter.start()
    store.enqueue_notifications(INSTANCE, "change", [{"n": 1}])
    waiter.join(60)
    assert woke == [True]
