"""The store-backed slot pool (Graph's 4 requests in flight per app + mailbox, across processes),
on both backends; separate ``Store`` objects (separate connections) stand for separate machines."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from connector.errors import ConfigurationError
from connector.store import Store
from connector.store.slots import SHARED_LIMITS_ENV, SlotToken, StoreSlotPool, shared_slot_pool
from tests.store.conftest import FakeClock

KEY = "client-id@contoso:alice@contoso.com"
WAIT = 10.0  # bounds the waits on barriers and events; never reached when the code is right


def test_at_most_four_holders_across_stores(
    store: Store, open_store: Callable[..., Store], clock: FakeClock
) -> None:
    stores = [store, open_store(clock=clock), open_store(clock=clock)]
    pools = [StoreSlotPool(s) for s in stores]
    names, turn = pools[0].names(KEY)
    assert pools[1].names(KEY) == (names, turn)  # every process finds the same rows

    taken = [s.take_slots(names, 1, f"holder-{n}", 60, turn) for n, s in enumerate([*stores, store])]
    assert [len(t) for t in taken] == [1, 1, 1, 1]
    assert len({t[0] for t in taken}) == 4
    assert [s.take_slots(names, 1, "fifth", 60, turn) for s in stores] == [[], [], []]

    assert stores[2].give_back_slots(taken[1], "holder-1") == 1
    assert stores[1].take_slots(names, 1, "fifth", 60, turn) == taken[1]
    assert stores[0].take_slots(names, 1, "sixth", 60, turn) == []


def test_threads_of_three_stores_never_hold_more_than_four(
    store: Store, open_store: Callable[..., Store], clock: FakeClock
) -> None:
    pools = [StoreSlotPool(s) for s in (store, open_store(clock=clock), open_store(clock=clock))]
    together = threading.Barrier(4, timeout=WAIT)  # passes only when 4 hold a slot at once
    guard = threading.Lock()
    holding = [0]
    peak = [0]
    errors: list[BaseException] = []

    def work(pool: StoreSlotPool) -> None:
        try:
            token = pool.acquire(KEY, 1, 60)
            with guard:
                holding[0] += 1
                peak[0] = max(peak[0], holding[0])
            together.wait()
            with guard:
                holding[0] -= 1
            pool.release(token)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(pools[n % 3],)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 3)
    assert errors == []
    assert peak[0] == 4
    names, turn = pools[0].names(KEY)
    assert len(store.take_slots(names, 4, "after", 60, turn)) == 4  # all were given back


def test_takers_racing_for_the_slots_never_get_more_than_four(
    store: Store, open_store: Callable[..., Store], clock: FakeClock
) -> None:
    """16 takers on 4 connections, let go at once, 30 rounds: never more than 4 slots handed out
    (a take that read a slot as free must not win it once another taker has)."""
    stores = [store, *(open_store(clock=clock) for _ in range(3))]
    names, turn = StoreSlotPool(store).names(KEY)
    start = threading.Barrier(16, timeout=WAIT)
    won: list[list[str]] = []

    def take(n: int, round_: int) -> None:
        start.wait()
        won.append(stores[n % 4].take_slots(names, 1 + n % 2, f"taker-{round_}-{n}", 60, turn))

    for round_ in range(30):
        won.clear()
        threads = [threading.Thread(target=take, args=(n, round_)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        handed_out = [name for names_won in won for name in names_won]
        assert len(handed_out) == len(set(handed_out)) <= 4
        with store.transaction() as db:  # free every slot for the next round
            db.execute("UPDATE graph_slots SET holder = '', expires_at = 0")


def test_several_slots_all_or_none(store: Store, open_store: Callable[..., Store], clock: FakeClock) -> None:
    other = open_store(clock=clock)
    names, turn = StoreSlotPool(store).names(KEY)
    one = store.take_slots(names, 1, "single", 60, turn)
    assert other.take_slots(names, 4, "batch", 60, turn) == []  # 3 are free: it takes none of them
    assert len(other.take_slots(names, 3, "three", 60, turn)) == 3
    assert store.give_back_slots(one, "single") == 1
    assert other.take_slots(names, 2, "batch", 60, turn) == []  # 1 free: none taken
    assert len(other.take_slots(names, 1, "batch", 60, turn)) == 1


def test_a_dead_holders_slots_are_taken_over_when_their_lease_ends(
    store: Store, open_store: Callable[..., Store], clock: FakeClock
) -> None:
    other = open_store(clock=clock)
    names, turn = StoreSlotPool(store).names(KEY)
    dead = store.take_slots(names, 4, "dead-node", 120, turn)  # a holder killed with SIGKILL
    assert len(dead) == 4
    clock.now += 119
    assert other.take_slots(names, 1, "live", 120, turn) == []
    clock.now += 2
    taken = other.take_slots(names, 4, "live", 120, turn)
    assert sorted(taken) == sorted(dead)
    # The dead holder coming back cannot free what is no longer its own.
    assert store.give_back_slots(dead, "dead-node") == 0
    assert store.take_slots(names, 1, "third", 120, turn) == []


def test_release_by_a_non_holder_does_nothing(store: Store) -> None:
    pool = StoreSlotPool(store)
    token = pool.acquire(KEY, 4, 60)
    assert isinstance(token, SlotToken) and len(token.names) == 4
    pool.release(SlotToken(token.names, "someone-else"))
    pool.release("not a token")
    names, turn = pool.names(KEY)
    assert store.take_slots(names, 1, "other", 60, turn) == []
    pool.release(token)
    assert len(store.take_slots(names, 4, "other", 60, turn)) == 4


def test_slot_rows_that_vanished_are_made_again(store: Store) -> None:
    """After a PostgreSQL crash the UNLOGGED table is empty: a pool that made the rows before
    makes them again instead of waiting for rows that no longer exist."""
    pool = StoreSlotPool(store)
    pool.release(pool.acquire(KEY, 1, 60))
    with store.transaction() as db:
        db.execute("DELETE FROM graph_slots")
    token = pool.acquire(KEY, 4, 60)
    assert len(token.names) == 4
    names, turn = pool.names(KEY)
    assert store.take_slots(names, 1, "other", 60, turn) == []


def test_the_slot_table_is_unlogged_on_postgresql(postgres_url: str) -> None:
    """No WAL flush per take and give back; a crash empties it (every slot free)."""
    with Store(postgres_url) as store, store.read() as db:
        row = db.execute("SELECT relpersistence FROM pg_class WHERE oid = 'graph_slots'::regclass").fetchone()
    assert row[0] == "u"


def test_keys_have_their_own_slots(store: Store) -> None:
    pool = StoreSlotPool(store)
    alice = pool.acquire(KEY, 4, 60)
    bob = pool.acquire("client-id@contoso:bob@contoso.com", 4, 60)
    assert set(alice.names).isdisjoint(bob.names)  # type: ignore[attr-defined]
    assert all("alice" not in name for name in alice.names)  # type: ignore[attr-defined]


def test_a_batch_waiting_for_its_turn_keeps_single_takers_off(
    store: Store, open_store: Callable[..., Store], clock: FakeClock
) -> None:
    """A multi-slot taker holds the key's turn while it waits: the slots freed meanwhile are not
    taken by single requests of any process, so a stream of them cannot starve it."""
    single_store, batch_store = open_store(clock=clock), open_store(clock=clock)
    waiting = threading.Event()

    def note_wait(seconds: float) -> None:
        waiting.set()  # the batch found too few free slots and holds the turn
        time.sleep(seconds)  # the pool's own backoff poll (the test waits on events, not on time)

    batch_pool = StoreSlotPool(batch_store, sleep=note_wait)
    names, turn = batch_pool.names(KEY)
    single = single_store.take_slots(names, 1, "single", 60, turn)
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(batch_pool.acquire(KEY, 4, 60)))
    thread.start()
    assert waiting.wait(WAIT)
    assert store.turn_holder(turn) is not None
    assert store.take_slots(names, 1, "another-single", 60, turn) == []  # 3 free, but not its turn
    assert single_store.give_back_slots(single, "single") == 1
    thread.join(WAIT)
    assert not thread.is_alive()
    assert len(got[0].names) == 4  # type: ignore[attr-defined]
    assert store.turn_holder(turn) is None  # the turn is given back with the slots taken


def test_a_failing_store_is_a_connector_error_and_a_release_never_raises(store: Store) -> None:
    pool = StoreSlotPool(store)
    token = pool.acquire(KEY, 1, 60)
    with store.transaction() as db:
        db.execute("DROP TABLE graph_slots")  # the database answers with an error
    with pytest.raises(ConfigurationError, match="concurrency limit shared through") as caught:
        pool.acquire("client-id@contoso:bob@contoso.com", 1, 60)
    assert "bob" not in str(caught.value)
    pool.release(token)  # logged; the slot frees itself when its lease ends


@pytest.mark.parametrize(
    ("value", "postgres_shared", "sqlite_shared"),
    [(None, True, False), ("1", True, True), ("0", False, False), ("off", False, False)],
)
def test_on_for_postgresql_off_for_sqlite_unless_the_environment_says(
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
    postgres_shared: bool,
    sqlite_shared: bool,
) -> None:
    if value is None:
        monkeypatch.delenv(SHARED_LIMITS_ENV, raising=False)
    else:
        monkeypatch.setenv(SHARED_LIMITS_ENV, value)
    expected = postgres_shared if store.url is not None else sqlite_shared
    assert (shared_slot_pool(store) is not None) is expected


def test_a_bad_environment_value_names_the_variable(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SHARED_LIMITS_ENV, "maybe")
    with pytest.raises(ConfigurationError, match=SHARED_LIMITS_ENV):
        shared_slot_pool(store)
