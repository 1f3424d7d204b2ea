"""Leases: a named job (renewing one trigger instance...) held by one worker at a time, on any
machine, until it is released or its time runs out (a worker that died loses it)."""

from __future__ import annotations

from connector.store.core import StoreCore


class Leases(StoreCore):
    """``LeaseStore`` over the backend (the ``trigger_leases`` table)."""

    def acquire_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take (or extend, for the same holder) the lease ``name`` for ``seconds``; False while
        another holder has it and its time has not run out."""
        now = self.clock()
        with self.db.read() as db:  # one statement: atomic on its own, one round trip
            return (
                db.execute(
                    "INSERT INTO trigger_leases (name, holder, expires_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                    " expires_at = excluded.expires_at"
                    " WHERE trigger_leases.expires_at <= ? OR trigger_leases.holder = excluded.holder",
                    (name, holder, now + seconds, now),
                ).rowcount
                > 0
            )

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
            row = db.execute(
                "SELECT holder FROM trigger_leases WHERE name = ? AND expires_at > ?", (name, self.clock())
            ).fetchone()
        return None if row is None else str(row[0])
