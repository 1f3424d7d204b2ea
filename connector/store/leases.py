"""Leases: a named job (renewing one trigger instance...) held by one worker at a time, on any
machine, until it is released or its time runs out (a worker that died loses it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connector.store.core import StoreCore

if TYPE_CHECKING:
    from connector.store.interfaces import Connection


class Leases(StoreCore):
    """``LeaseStore`` over the backend (the ``trigger_leases`` table)."""

    def acquire_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take (or extend, for the same holder) the lease ``name`` for ``seconds``; False while
        another holder has it and its time has not run out."""
        now = self.clock()
        with self.db.read() as db:  # one statement: atomic on its own, one round trip
            return take_lease(db, "trigger_leases", name, holder, now + seconds, now)

    def release_lease(self, name: str, holder: str) -> bool:
        """Give the lease back (only its holder can); False if ``holder`` did not hold it."""
        with self.db.read() as db:
            return (
                db.execute(
                    "DELETE FROM trigger_leases WHERE name = ? AND holder = ?", (name, holder)
                ).rowcount
                > 0
            )

    def lease_holder(self, name: str) -> str | None:
        """Who holds the lease now (None if nobody, or its time ran out)."""
        with self.db.read() as db:
            return holder_of(db, "trigger_leases", name, self.clock())


def take_lease(db: Connection, table: str, name: str, holder: str, until: float, now: float) -> bool:
    """In ``table`` (name, holder, expires_at): lease row ``name`` to ``holder`` until ``until``,
    in one statement; False while another holder has it and its time has not run out (the same
    holder extends it). ``table`` is one of the store's own table names, never input."""
    return (
        db.execute(
            f"INSERT INTO {table} (name, holder, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            " expires_at = excluded.expires_at"
            f" WHERE {table}.expires_at <= ? OR {table}.holder = excluded.holder",
            (name, holder, until, now),
        ).rowcount
        > 0
    )


def holder_of(db: Connection, table: str, name: str, now: float) -> str | None:
    """Who holds row ``name`` of ``table`` at ``now`` (None: nobody, or its time ran out)."""
    row = db.execute(f"SELECT holder FROM {table} WHERE name = ? AND expires_at > ?", (name, now)).fetchone()
    return None if row is None else str(row[0])
