"""Delivered keys: what was delivered, by (instance, dedupe key), so each change goes out once."""

from __future__ import annotations

from connector.store.core import StoreCore


class Delivered(StoreCore):
    """``DeliveredKeys`` over the backend."""

    def mark_delivered(self, instance_id: str, dedupe_key: str) -> bool:
        """Remember that this change was delivered; True the first time (atomic across threads and
        processes: of two concurrent calls exactly one gets True)."""
        with self.db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO trigger_delivered (instance_id, dedupe_key, delivered_at) VALUES (?, ?, ?)"
                " ON CONFLICT (instance_id, dedupe_key) DO NOTHING",
                (instance_id, dedupe_key, self.clock()),
            )
            return cursor.rowcount > 0

    def was_delivered(self, instance_id: str, dedupe_key: str) -> bool:
        with self.db.read() as db:
            row = db.execute(
                "SELECT 1 FROM trigger_delivered WHERE instance_id = ? AND dedupe_key = ?",
                (instance_id, dedupe_key),
            ).fetchone()
        return row is not None

    def list_delivered(self, instance_id: str, limit: int = 50) -> list[tuple[str, float]]:
        """The instance's delivered keys with their delivery times, newest first."""
        with self.db.read() as db:
            rows = db.execute(
                "SELECT dedupe_key, delivered_at FROM trigger_delivered WHERE instance_id = ?"
                " ORDER BY delivered_at DESC LIMIT ?",
                (instance_id, limit),
            ).fetchall()
        return [(str(key), float(at)) for key, at in rows]

    def prune_delivered(self, older_than: float = 7 * 86400.0) -> int:
        """Forget delivered keys older than ``older_than`` seconds (Graph does not redeliver a
        notification after a few hours, and delta reports a change once); returns how many."""
        with self.db.transaction() as db:
            return db.execute(
                "DELETE FROM trigger_delivered WHERE delivered_at < ?", (self.clock() - older_than,)
            ).rowcount
