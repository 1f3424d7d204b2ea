"""The durable notification queue: rows claimed with leases, and the receivers' inbox moved into it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.errors import ConfigurationError
from connector.store.core import StoreCore
from connector.store.interfaces import Connection
from connector.store.records import QueuedNotification, UnknownTriggerInstanceError

if TYPE_CHECKING:
    from connector.inbox import InboxRecord

log = logging.getLogger("connector.store")

_ROWS_PER_INSERT = 500
"""Rows per multi-row INSERT of queued notifications (2 parameters a row; SQLite allows 32,766)."""
_INBOX_READ_BYTES = 4 << 20
"""Bytes of an inbox segment moved per transaction (more if one record is larger)."""


class Queue(StoreCore):
    """``NotificationQueue`` over the backend. Where the store has an inbox folder
    (``inbox_dir``), receivers append there and every claim moves it into the queue first."""

    inbox_dir: Path | None
    _inbox_moved: dict[str, int]  # segment -> bytes known moved (skips unchanged ones)

    def enqueue_notifications(self, instance_id: str, kind: str, items: list[dict[str, Any]]) -> int:
        """Queue notification items (``kind`` "change" or "lifecycle") in one transaction: all of
        them or none. Returns how many rows were added. Raises ``UnknownTriggerInstanceError`` if
        the instance does not exist."""
        statements = _queue_inserts(instance_id, [(kind, item) for item in items], self.clock())
        if not statements:
            return 0
        try:
            with self.db.transaction() as db:
                for sql, parameters, _ in statements:
                    db.execute(sql, parameters)
                self.db.announce_enqueue(db)
        except self.db.integrity_errors:  # the foreign key: no such instance
            raise UnknownTriggerInstanceError(f"no trigger instance {instance_id!r}") from None
        return len(items)

    def enqueue_checked_notifications(
        self, groups: Sequence[tuple[str, bytes, Sequence[tuple[str, Mapping[str, Any]]]]]
    ) -> list[bool]:
        """The receiver's direct write: (instance id, sealed clientState, (kind, item) rows)
        groups, in ONE transaction. A group is queued whole only if its instance exists, is not
        disabled and still has that sealed clientState (the one its items were checked against);
        otherwise none of its rows are, and the other groups are not affected. Returns, per
        group, whether it was queued."""
        now = self.clock()
        with self.db.transaction() as db:
            return [
                _queue_checked(db, instance_id, sealed, rows, now) for instance_id, sealed, rows in groups
            ]

    def absorb_inbox(self) -> int:
        """Move what receivers appended to the inbox (``connector.inbox``) into the queue and
        return how many items were queued. Each record is moved once whichever thread or process
        calls this: the moved length of a segment is stored in the transaction that queues its
        rows. Like ``enqueue_checked_notifications``, a record is dropped (and logged) if its
        instance is gone, disabled or has another clientState than the one it was checked
        against. Finished segments are deleted once moved. ``claim_notifications`` and
        ``pending_notification_count`` call this first."""
        from connector import inbox

        if self.inbox_dir is None or not inbox.SUPPORTED:  # receivers write to the queue directly
            return 0
        queued = 0
        found = inbox.segments(self.inbox_dir)
        for gone in self._inbox_moved.keys() - {path.name for path in found}:
            self._inbox_moved.pop(gone, None)  # deleted by another process
        for path in found:
            try:
                with inbox.hold_if_finished(path) as finished:
                    if finished or self._inbox_moved.get(path.name) != path.stat().st_size:
                        queued += self._absorb_segment(path, finished=finished)
            except FileNotFoundError:
                continue  # deleted by another reader meanwhile
            except Exception:  # one bad segment must not stop the others, nor the queue
                log.exception("could not move inbox segment %s into the queue", path.name)
        return queued

    def _absorb_segment(self, path: Path, *, finished: bool) -> int:
        from connector import inbox

        queued = 0
        with open(path, "rb") as segment:
            while True:
                with self.db.transaction() as db:
                    if not inbox.names_open_file(path, segment.fileno()):
                        raise FileNotFoundError(path)
                    # Still there with the write lock held: a reader that finished the segment
                    # deletes the file before its moved length, so that length is not gone yet.
                    row = db.execute(
                        "SELECT moved_bytes FROM trigger_inbox WHERE segment = ?", (path.name,)
                    ).fetchone()
                    moved = int(row[0]) if row else 0
                    segment.seek(moved)
                    data = segment.read(_INBOX_READ_BYTES)
                    records, used = inbox.decode(data + segment.read(inbox.missing_bytes(data)))
                    for record in records:
                        queued += _queue_record(db, record)
                    if used:
                        db.execute(
                            "INSERT INTO trigger_inbox (segment, moved_bytes) VALUES (?, ?)"
                            " ON CONFLICT (segment) DO UPDATE SET moved_bytes = excluded.moved_bytes",
                            (path.name, moved + used),
                        )
                self._inbox_moved[path.name] = moved + used
                if not used or len(data) < _INBOX_READ_BYTES:
                    break
        if finished:  # nothing will be appended: what is left is a torn tail
            torn = path.stat().st_size - self._inbox_moved[path.name]
            if torn:
                log.warning(
                    "inbox segment %s: dropped a torn tail of %d bytes (never answered 202)", path.name, torn
                )
            path.unlink()  # before its moved length is forgotten, so it can never be moved twice
            with self.db.transaction() as db:
                db.execute("DELETE FROM trigger_inbox WHERE segment = ?", (path.name,))
            self._inbox_moved.pop(path.name, None)
        return queued

    def claim_notifications(
        self, worker: str, limit: int = 100, lease_seconds: float = 60
    ) -> list[QueuedNotification]:
        """Claim up to ``limit`` due rows, oldest first, for ``lease_seconds``: no other claim
        (thread or process) gets them until the lease runs out, after which they are due again
        (a worker that died loses them to the next claim). Finish each with ``finish_notification``
        (or ``commit_delivery`` with its delivery record), ``complete_notification`` or
        ``retry_notification``. The inbox is moved into the queue first."""
        if limit <= 0:
            return []
        import orjson

        self.absorb_inbox()

        now = self.clock()
        mine, parameters = self._own_instances()
        if self.db.name == "postgresql":  # one statement, one round trip (rows locked, skipped by others)
            with self.db.read() as db:
                claimed = db.execute(
                    "UPDATE trigger_queue SET available_at = ?, attempts = attempts + 1, claimed_by = ?"
                    f" WHERE seq IN (SELECT seq FROM trigger_queue WHERE available_at <= ?{mine}"
                    " ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED)"
                    " RETURNING seq, instance_id, kind, item, received_at, attempts - 1",
                    (now + lease_seconds, worker, now, *parameters, limit),
                ).fetchall()
            rows = sorted(claimed)
        else:
            with self.db.transaction() as db:
                rows = db.execute(
                    "SELECT seq, instance_id, kind, item, received_at, attempts FROM trigger_queue"
                    f" WHERE available_at <= ?{mine} ORDER BY seq LIMIT ?",
                    (now, *parameters, limit),
                ).fetchall()
                if rows:
                    db.execute(
                        "UPDATE trigger_queue SET available_at = ?, attempts = attempts + 1, claimed_by = ?"
                        f" WHERE seq IN ({', '.join('?' * len(rows))})",
                        (now + lease_seconds, worker, *(row[0] for row in rows)),
                    )
        return [
            QueuedNotification(
                seq=seq,
                instance_id=instance_id,
                kind=kind,
                item=orjson.loads(item),
                received_at=received_at,
                attempts=attempts + 1,
            )
            for seq, instance_id, kind, item, received_at, attempts in rows
        ]

    def complete_notification(self, seq: int) -> None:
        """The row was handled: remove it from the queue."""
        with self.db.transaction() as db:
            db.execute("DELETE FROM trigger_queue WHERE seq = ?", (seq,))

    def finish_notification(
        self, seq: int, worker: str, delivered: Sequence[tuple[str, str]] = ()
    ) -> list[tuple[str, str]] | None:
        """Complete a row claimed by ``worker`` and mark its ``delivered`` (instance id, dedupe
        key) pairs, in ONE transaction: exactly once whoever else handled the same row or item.
        None (and nothing written) if the row is no longer this worker's (its lease ran out and
        another worker claimed it, or it was completed); else the pairs marked now (the others
        were delivered before, e.g. by a copy Graph sent twice)."""
        now = self.clock()
        if self.db.name == "postgresql":  # one statement, one round trip
            return self._finish_in_one_statement(seq, worker, delivered, now)
        with self.db.transaction() as db:
            sql = "DELETE FROM trigger_queue WHERE seq = ? AND claimed_by = ?"
            if db.execute(sql, (seq, worker)).rowcount == 0:
                return None
            return [
                (instance_id, key)
                for instance_id, key in delivered
                if db.execute(
                    "INSERT INTO trigger_delivered (instance_id, dedupe_key, delivered_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (instance_id, dedupe_key) DO NOTHING",
                    (instance_id, key, now),
                ).rowcount
                > 0
            ]

    def _finish_in_one_statement(
        self, seq: int, worker: str, delivered: Sequence[tuple[str, str]], now: float
    ) -> list[tuple[str, str]] | None:
        """``finish_notification`` as one PostgreSQL statement (data-modifying CTEs run atomically)."""
        marks = list(dict.fromkeys(delivered))
        sql = "WITH done AS (DELETE FROM trigger_queue WHERE seq = ? AND claimed_by = ? RETURNING seq)"
        parameters: list[Any] = [seq, worker]
        if marks:
            sql += (
                ", marked AS (INSERT INTO trigger_delivered (instance_id, dedupe_key, delivered_at)"
                " SELECT v.column1, v.column2, ? FROM (VALUES "
                + ", ".join(["(?, ?)"] * len(marks))
                + ") AS v WHERE EXISTS (SELECT 1 FROM done)"
                " ON CONFLICT (instance_id, dedupe_key) DO NOTHING RETURNING instance_id, dedupe_key)"
                " SELECT 'done', NULL, NULL FROM done"
                " UNION ALL SELECT 'marked', instance_id, dedupe_key FROM marked"
            )
            parameters += [now, *(value for pair in marks for value in pair)]
        else:
            sql += " SELECT 'done', NULL, NULL FROM done"
        with self.db.read() as db:
            rows = db.execute(sql, parameters).fetchall()
        if not any(row[0] == "done" for row in rows):
            return None
        newly = {(row[1], row[2]) for row in rows if row[0] == "marked"}
        return [pair for pair in marks if pair in newly]

    def wait_for_notifications(self, timeout: float) -> bool:
        """Block until something may have been queued (PostgreSQL: a NOTIFY from any node's
        enqueue; SQLite: a plain wait, the short poll) or ``timeout`` seconds passed; True if woken."""
        return self.db.wait_for_enqueue(timeout)

    def retry_notification(self, seq: int, error: str, delay: float, worker: str | None = None) -> None:
        """The row failed: release it, due again in ``delay`` seconds (``error`` kept for listings).
        With ``worker``, only while the row is still that worker's claim (a worker whose lease ran
        out must not release the row another worker now holds)."""
        sql = "UPDATE trigger_queue SET available_at = ?, claimed_by = NULL, last_error = ? WHERE seq = ?"
        parameters: list[Any] = [self.clock() + max(0.0, delay), (error or "failed")[:2000], seq]
        if worker is not None:
            sql += " AND claimed_by = ?"
            parameters.append(worker)
        with self.db.transaction() as db:
            db.execute(sql, parameters)

    def is_queued(self, seq: int) -> bool:
        """Whether row ``seq`` is still in the queue (not completed yet)."""
        with self.db.read() as db:
            return db.execute("SELECT 1 FROM trigger_queue WHERE seq = ?", (seq,)).fetchone() is not None

    def pending_notification_count(self, instance_id: str | None = None) -> int:
        """Rows not completed yet (due, waiting for a retry, or claimed), of one instance or all."""
        self.absorb_inbox()
        mine, parameters = self._own_instances()
        with self.db.read() as db:
            if instance_id is None:
                row = db.execute(
                    f"SELECT COUNT(*) FROM trigger_queue WHERE 1 = 1{mine}", parameters
                ).fetchone()
            else:
                row = db.execute(
                    f"SELECT COUNT(*) FROM trigger_queue WHERE instance_id = ?{mine}",
                    (instance_id, *parameters),
                ).fetchone()
        return int(row[0])


def _queue_inserts(
    instance_id: str,
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    now: float,
    *,
    checked_against: bytes | None = None,
) -> list[tuple[str, list[Any], int]]:
    """(SQL, parameters, row count) of the INSERTs that queue ``rows`` ((kind, item) pairs), at
    most ``_ROWS_PER_INSERT`` rows each (one multi-row statement is faster than executemany).
    With ``checked_against`` (a sealed clientState) a statement inserts nothing unless the
    instance exists, is not disabled and still has that clientState. Items are serialized with
    orjson, as the receiver writes every item it accepts."""
    import orjson

    encoded: list[tuple[str, str]] = []
    for kind, item in rows:
        if kind not in ("change", "lifecycle"):
            raise ConfigurationError(f"invalid notification kind {kind!r}: change or lifecycle")
        encoded.append((kind, orjson.dumps(item).decode("utf-8")))
    condition, condition_parameters = "", []
    if checked_against is not None:
        condition = (
            " WHERE EXISTS (SELECT 1 FROM trigger_instances WHERE id = ?"
            " AND status != 'disabled' AND client_state = ?)"
        )
        condition_parameters = [instance_id, checked_against]
    statements = []
    for start in range(0, len(encoded), _ROWS_PER_INSERT):
        chunk = encoded[start : start + _ROWS_PER_INSERT]
        sql = (
            "INSERT INTO trigger_queue (instance_id, kind, item, received_at, available_at)"
            " SELECT ?, column1, column2, ?, ? FROM (VALUES "
            + ", ".join(["(?, ?)"] * len(chunk))
            + ") AS v"
            + condition
        )
        values = [value for pair in chunk for value in pair]
        statements.append((sql, [instance_id, now, now, *values, *condition_parameters], len(chunk)))
    return statements


def _queue_checked(
    db: Connection,
    instance_id: str,
    sealed: bytes,
    rows: Sequence[tuple[str, Mapping[str, Any]]],
    now: float,
) -> bool:
    """In ``db``'s open transaction, queue all ``rows`` if the instance exists, is not disabled and
    still has the sealed clientState ``sealed``, else none (False; so for no rows)."""
    statements = _queue_inserts(instance_id, rows, now, checked_against=sealed)
    for sql, parameters, count in statements:
        if db.execute(sql, parameters).rowcount != count:
            return False  # refused by the first statement: the same check holds for the others
    return bool(statements)


def _queue_record(db: Connection, record: InboxRecord) -> int:
    """Queue an inbox record in ``db``'s open transaction; how many items were queued (0 if its
    instance refused them, logged)."""
    if _queue_checked(db, record.instance_id, record.sealed_client_state, record.rows, record.received_at):
        return len(record.rows)
    log.warning(
        "trigger %s: dropped %d notification(s): the instance was disabled, deleted or"
        " given a new clientState after they were received",
        record.instance_id,
        len(record.rows),
    )
    return 0
