"""Graph's concurrency limit (4 requests in flight per app + mailbox) kept across processes and
machines that share the store.

Each app + mailbox key has ``limit`` rows in the ``graph_slots`` table
(``graph-slot:<hash of the key>:<n>``; the hash keeps mailbox addresses out of the table). A row
is a slot leased to one request attempt: taken in ONE statement (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so concurrent takers never wait on each other's row locks), given back in one, and
taken over once its lease runs out (a holder that died, even by SIGKILL, frees its slot after
the lease: longer than the request's timeout). Several slots (a ``$batch``) are taken all or
none. A taker of several slots first holds the key's turn (row ``graph-slot:<hash>:turn``, a
short lease it renews while it waits): single takers leave free slots alone while someone else
holds it, so a batch is not starved by a stream of single requests, and no two batches ever
hold part of the slots each.

Leases rather than PostgreSQL session advisory locks: an advisory lock is held by a connection,
so every request in flight would keep a pooled connection checked out (4 per busy mailbox per
node: a node busy on 50 mailboxes needs 200 connections), while a lease costs two short
statements and no connection between them. Their own table rather than ``trigger_leases``: on
PostgreSQL it is UNLOGGED, so a take or give back does not wait for a WAL flush (a slot lives
for seconds; after a database crash the table starts empty, all slots free).
``bench/shared_limits.py`` measures the costs.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, ParamSpec, TypeVar

from connector.errors import ConfigurationError, ConnectorError
from connector.store.core import StoreCore
from connector.store.leases import holder_of, take_lease

if TYPE_CHECKING:
    from connector.store import Store
    from connector.store.interfaces import SlotStore

SHARED_LIMITS_ENV = "OUTLOOK_CONNECTOR_SHARED_LIMITS"
"""``1``: keep the concurrency limit through the store; ``0``: per process; unset: on for
PostgreSQL, off for SQLite (one machine: the per-process limit and Graph's 429s suffice)."""

_log = logging.getLogger("outlook_connector.limits")
_P = ParamSpec("_P")
_R = TypeVar("_R")


class Slots(StoreCore):
    """``SlotStore`` over the backend (the ``graph_slots`` table)."""

    def add_slots(self, names: Sequence[str]) -> None:
        """Create the slot rows ``names``, free (those that exist are left as they are)."""
        with self.db.read() as db:
            db.execute(
                "INSERT INTO graph_slots (name, holder, expires_at) VALUES "
                + ", ".join(["(?, '', 0)"] * len(names))
                + " ON CONFLICT (name) DO NOTHING",
                tuple(names),
            )

    def take_slots(
        self, names: Sequence[str], count: int, holder: str, seconds: float, turn: str
    ) -> list[str]:
        """Lease ``count`` of the slot rows ``names`` to ``holder`` for ``seconds``, all or none,
        in one statement; none either while another holder has the turn ``turn``. The names
        taken (``[]``: nothing was taken)."""
        now = self.clock()
        postgres = self.db.name == "postgresql"
        marks = ", ".join("?" * len(names))
        sql = (
            f"WITH free AS{' MATERIALIZED' if postgres else ''} ("
            f"SELECT name FROM graph_slots WHERE name IN ({marks}) AND expires_at <= ?"
            f" LIMIT ?{' FOR UPDATE SKIP LOCKED' if postgres else ''})"
            " UPDATE graph_slots SET holder = ?, expires_at = ?"
            " WHERE name IN (SELECT name FROM free) AND (SELECT COUNT(*) FROM free) = ?"
            " AND NOT EXISTS (SELECT 1 FROM graph_slots AS t"
            " WHERE t.name = ? AND t.expires_at > ? AND t.holder <> ?)"
            " RETURNING name"
        )
        parameters = (*names, now, count, holder, now + seconds, count, turn, now, holder)
        with self.db.read() as db:
            return [str(row[0]) for row in db.execute(sql, parameters).fetchall()]

    def give_back_slots(self, names: Sequence[str], holder: str) -> int:
        """Free the slots ``names`` that ``holder`` still holds; how many it did."""
        marks = ", ".join("?" * len(names))
        with self.db.read() as db:
            return db.execute(
                f"UPDATE graph_slots SET holder = '', expires_at = 0 WHERE name IN ({marks}) AND holder = ?",
                (*names, holder),
            ).rowcount

    def take_turn(self, turn: str, holder: str, seconds: float) -> bool:
        """Hold (or keep holding) the turn ``turn`` for ``seconds``; False while another holder
        has it and its time has not run out."""
        now = self.clock()
        with self.db.read() as db:
            return take_lease(db, "graph_slots", turn, holder, now + seconds, now)

    def turn_holder(self, turn: str) -> str | None:
        """Who holds the turn now (None: nobody, or their time ran out; a free row has expired)."""
        with self.db.read() as db:
            return holder_of(db, "graph_slots", turn, self.clock())


class SlotToken(NamedTuple):
    """What ``StoreSlotPool.acquire`` hands out: the slots taken and for whom."""

    names: tuple[str, ...]
    holder: str


class StoreSlotPool:
    """The shared slot pool a ``GraphClient`` takes a slot from for each request attempt (after
    its process-wide one): at most ``limit`` requests in flight per key among every process using
    ``store``. A busy pool is polled (``first_wait`` doubling up to ``max_wait`` seconds)."""

    def __init__(
        self,
        store: SlotStore,
        limit: int = 4,
        *,
        first_wait: float = 0.005,
        max_wait: float = 0.1,
        turn_seconds: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.store = store
        self.limit = limit
        self._first_wait, self._max_wait, self._turn_seconds = first_wait, max_wait, turn_seconds
        self._sleep = sleep
        self._node = uuid.uuid4().hex[:12]
        self._counter = itertools.count(1)
        self._known: dict[str, tuple[tuple[str, ...], str]] = {}
        self._guard = threading.Lock()

    def names(self, key: str) -> tuple[tuple[str, ...], str]:
        """The slot rows of ``key`` and its turn (the rows are created on first use)."""
        known = self._known.get(key)
        if known is None:
            base = "graph-slot:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
            known = (tuple(f"{base}:{n}" for n in range(self.limit)), f"{base}:turn")
            self._store_call(self.store.add_slots, known[0])
            with self._guard:
                self._known[key] = known
        return known

    def acquire(self, key: str, count: int, seconds: float) -> SlotToken:
        """Wait for and lease ``count`` slots of ``key`` for ``seconds`` (the longest an attempt
        may take). Raises ``ConfigurationError`` when the store fails."""
        names, turn = self.names(key)
        count = max(1, min(count, self.limit))
        holder = f"{self._node}.{os.getpid()}.{next(self._counter)}"
        store, wait, has_turn = self.store, self._first_wait, False
        try:
            while True:
                if count > 1:  # hold (or renew) the turn while waiting for several slots
                    has_turn = self._store_call(store.take_turn, turn, holder, self._turn_seconds)
                if count == 1 or has_turn:
                    taken = self._store_call(store.take_slots, names, count, holder, seconds, turn)
                    if taken:
                        return SlotToken(tuple(taken), holder)
                    if wait == self._first_wait:
                        # busy, or the rows are gone (a crash empties the UNLOGGED table)
                        self._store_call(store.add_slots, names)
                self._sleep(wait)
                wait = min(wait * 2, self._max_wait)
        finally:
            if has_turn:
                self._give_back(store.give_back_slots, (turn,), holder)

    def release(self, token: object) -> None:
        """Give the slots back; never raises (a slot that could not be freed frees itself when
        its lease runs out)."""
        if isinstance(token, SlotToken):
            self._give_back(self.store.give_back_slots, token.names, token.holder)

    def _store_call(self, call: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return call(*args, **kwargs)
        except ConnectorError:
            raise
        except Exception as exc:
            raise ConfigurationError(
                f"not sent: the concurrency limit shared through {_describe(self.store)} could not be"
                f" checked ({type(exc).__name__})"
            ) from None

    def _give_back(self, call: Callable[_P, object], *args: _P.args, **kwargs: _P.kwargs) -> None:
        try:
            call(*args, **kwargs)
        except Exception as exc:
            _log.warning(
                "could not give back a shared concurrency slot (%s); its lease will end", type(exc).__name__
            )


def _describe(store: object) -> str:
    describe = getattr(store, "describe", None)
    return str(describe()) if callable(describe) else "the store"


def shared_slot_pool(store: Store, limit: int = 4) -> StoreSlotPool | None:
    """The store-backed pool the runtime gives its Graph clients, or None (per process only):
    ``$OUTLOOK_CONNECTOR_SHARED_LIMITS`` (1/0), else on for PostgreSQL and off for SQLite."""
    value = os.environ.get(SHARED_LIMITS_ENV, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        shared = True
    elif value in ("0", "false", "no", "off"):
        shared = False
    elif value == "":
        shared = store.db.name == "postgresql"
    else:
        raise ConfigurationError(f"${SHARED_LIMITS_ENV} must be 1 or 0, not {value[:20]!r}")
    return StoreSlotPool(store, limit) if shared else None
