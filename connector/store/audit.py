"""The audit log: append-only records (no bodies, subjects, addresses or tokens: see
``connector.audit``), listed oldest first, kept 90 days and pruned at most once an hour."""

from __future__ import annotations

from typing import Any

from connector.audit import RETENTION, AuditRecord
from connector.store.core import StoreCore

PRUNE_EVERY = 3600.0
"""Seconds between two prunes by the process appending."""
COLUMNS = (
    "at", "caller", "principal", "connection_name", "mailbox", "action", "category", "decision",
    "outcome", "approved_by", "approval_id", "error", "request_id", "recipients",
)  # fmt: skip
FIELDS = tuple("connection" if c == "connection_name" else c for c in COLUMNS)


class AuditTable(StoreCore):
    """``AuditLog`` over the backend. A record's connection is kept by its stored name
    (``records.stored_name``) and shown plainly to a bound store, which sees only the records of
    connections it may use."""

    audit_retention: float = RETENTION
    _audit_pruned_at: float = 0.0

    def append_audit(self, record: AuditRecord) -> None:
        now = self.clock()
        with self.db.transaction() as db:
            db.execute(
                f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                [
                    self.storage_name(record.connection)
                    if name == "connection" and record.connection
                    else getattr(record, name)
                    for name in FIELDS
                ],
            )
            if now - self._audit_pruned_at >= PRUNE_EVERY:
                db.execute("DELETE FROM audit_log WHERE at < ?", (now - self.audit_retention,))
                self._audit_pruned_at = now

    def list_audit(
        self,
        *,
        connection: str | None = None,
        action: str | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[AuditRecord]:
        """Records oldest first, filtered; ``limit``: only the latest ones."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("connection_name", connection), ("action", action), ("at", since)):
            if value is not None:
                if column == "connection_name":
                    value = self.storage_name(str(value))
                where.append(f"{column} >= ?" if column == "at" else f"{column} = ?")
                args.append(value)
        mine, parameters = self._own_connections()
        query = f"SELECT seq, {', '.join(COLUMNS)} FROM audit_log WHERE 1 = 1{mine}"
        args[:0] = parameters
        if where:
            query += " AND " + " AND ".join(where)
        query += " ORDER BY seq DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self.db.read() as db:
            rows = db.execute(query, args).fetchall()
        records = [AuditRecord(**dict(zip(FIELDS, row[1:], strict=True))) for row in reversed(rows)]
        if self.principal is None:
            return records
        return [r._replace(connection=self._shown(r.connection)) for r in records]

    def prune_audit(self, older_than: float = RETENTION) -> int:
        with self.db.transaction() as db:
            cursor = db.execute("DELETE FROM audit_log WHERE at < ?", (self.clock() - older_than,))
            return max(cursor.rowcount, 0)
