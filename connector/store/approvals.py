"""Approvals: a person's permission for one exact call, decided and spent atomically.

The summary names recipients and quotes the subject and the first words of the body, so it is
sealed like a secret (bound to the approval's id); rows go a day after they expire.
"""

from __future__ import annotations

from typing import Any

from connector.policy import Approval
from connector.store.core import StoreCore, label

APPROVAL_KEEP = 86400.0
"""Seconds an approval row is kept after it expires (for ``approvals list --all``)."""
COLUMNS = (
    "id, connection_name, action, category, input_hash, summary, requested_by, created_at, expires_at,"
    " status, decided_by, decided_at"
)


class Approvals(StoreCore):
    """``ApprovalStore`` over the backend. An approval's connection is kept by its stored name
    (``records.stored_name``) and shown plainly to a bound store, which sees only the approvals of
    connections it may use."""

    def add_approval(self, approval: Approval) -> None:
        sealed = self._seal_json(approval.summary, label("approval", approval.id))
        with self.db.transaction() as db:
            db.execute("DELETE FROM approvals WHERE expires_at < ?", (self.clock() - APPROVAL_KEEP,))
            db.execute(
                f"INSERT INTO approvals ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    approval.id, self.storage_name(approval.connection), approval.action, approval.category,
                    approval.input_hash, sealed, approval.requested_by, approval.created_at,
                    approval.expires_at, approval.status, approval.decided_by, approval.decided_at,
                ),
            )  # fmt: skip

    def get_approval(self, approval_id: str) -> Approval | None:
        mine, parameters = self._own_connections()
        with self.db.read() as db:
            row = db.execute(
                f"SELECT {COLUMNS} FROM approvals WHERE id = ?{mine}", (approval_id, *parameters)
            ).fetchone()
        return None if row is None else self._approval(row)

    def decide_approval(self, approval_id: str, status: str, by: str, now: float) -> Approval | None:
        """Mark a pending, unexpired approval ``approved`` or ``denied``; None if it was not pending."""
        if status not in ("approved", "denied"):
            raise ValueError(f"an approval is decided approved or denied, not {status!r}")
        mine, parameters = self._own_connections()
        with self.db.transaction() as db:
            cursor = db.execute(
                "UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?"
                f" WHERE id = ? AND status = 'pending' AND expires_at > ?{mine}",
                (status, by, now, approval_id, now, *parameters),
            )
            if cursor.rowcount <= 0:
                return None
        return self.get_approval(approval_id)

    def use_approval(self, approval_id: str, now: float) -> bool:
        """Spend an approved, unexpired approval; of two concurrent calls exactly one gets True."""
        mine, parameters = self._own_connections()
        with self.db.transaction() as db:
            cursor = db.execute(
                "UPDATE approvals SET status = 'used'"
                f" WHERE id = ? AND status = 'approved' AND expires_at > ?{mine}",
                (approval_id, now, *parameters),
            )
            return cursor.rowcount > 0

    def list_approvals(self, *, status: str | None = None) -> list[Approval]:
        mine, parameters = self._own_connections()
        query = f"SELECT {COLUMNS} FROM approvals WHERE 1 = 1{mine}"
        args: tuple[Any, ...] = parameters
        if status is not None:
            query, args = query + " AND status = ?", (*parameters, status)
        with self.db.read() as db:
            rows = db.execute(query + " ORDER BY created_at", args).fetchall()
        return [self._approval(row) for row in rows]

    def _approval(self, row: tuple[Any, ...]) -> Approval:
        summary = self._open_json(row[5], label("approval", row[0]), f"the summary of approval {row[0]}")
        return Approval(
            id=row[0], connection=self._shown(row[1]), action=row[2], category=row[3], input_hash=row[4],
            summary=str(summary), requested_by=row[6], created_at=row[7], expires_at=row[8],
            status=row[9], decided_by=row[10], decided_at=row[11],
        )  # fmt: skip
