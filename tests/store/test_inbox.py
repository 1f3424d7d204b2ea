"""The receiver's inbox: records appended by receiver processes are moved into the queue exactly
once (threads, processes, killed writers), torn tails are dropped, a failed append is undone."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from connector import inbox
from connector.inbox import InboxWriter, decode, encode
from connector.store import Store, TriggerInstance

if not inbox.SUPPORTED:  # pragma: no cover
    pytest.skip("the inbox needs flock (POSIX)", allow_module_level=True)

SECRET = "inbox-test-client-state-0123456789abcdefghijklmnop"
INSTANCE = "InboxInstance0123456789abcdefghij"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def location(tmp_path: Path) -> str:
    """The inbox is the SQLite store's (on PostgreSQL receivers write to the queue directly)."""
    return str(tmp_path / "state.db")


def _item(n: int, size: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = {"changeType": "created", "resource": f"Users/u1/Messages/m{n}", "n": n}
    if size:
        item["padding"] = "x" * size
    return item


def _record(store: Store, numbers: range, instance_id: str = INSTANCE) -> bytes:
    access = store.receiver_access(INSTANCE)
    assert access is not None
    return encode(
        instance_id, access.sealed_client_state, store.clock(), [("change", _item(n)) for n in numbers]
    )


def _claimed(store: Store) -> list[int]:
    """Claim and complete everything due, as a processor would."""
    rows = store.claim_notifications("test", limit=100_000)
    for row in rows:
        store.complete_notification(row.seq)
    return [row.item["n"] for row in rows]


@pytest.fixture
def store(store: Store) -> Store:
    store.save_trigger_instance(
        TriggerInstance(
            id=INSTANCE, trigger_key="webhook", connection_name="work", config={}, client_state=SECRET
        )
    )
    return store


def test_a_reader_takes_whole_intact_records_only() -> None:
    records = [encode(INSTANCE, b"sealed", 1.5, [("change", _item(n))]) for n in range(3)]
    data = b"".join(records)
    found, used = decode(data)
    assert [r.rows[0][1]["n"] for r in found] == [0, 1, 2] and used == len(data)
    assert found[0] == inbox.InboxRecord(INSTANCE, b"sealed", 1.5, [("change", _item(0))])
    cut = len(records[0]) + len(records[1]) + 5  # the third is still being written
    assert [r.rows[0][1]["n"] for r in decode(data[:cut])[0]] == [0, 1]
    assert decode(data[:cut])[1] == len(records[0]) + len(records[1])
    damaged = bytearray(data)
    damaged[len(records[0]) + 20] ^= 0xFF  # a flipped bit in the second record
    assert decode(bytes(damaged)) == (found[:1], len(records[0]))
    assert inbox.missing_bytes(data[:10]) == len(records[0]) - 10
    assert inbox.missing_bytes(data) == 0


def test_records_are_moved_once_and_a_finished_segment_is_deleted(store: Store, tmp_path: Path) -> None:
    writer = InboxWriter(store.inbox_dir)
    writer.append(_record(store, range(0, 3)))
    writer.append(_record(store, range(3, 5)))
    assert _claimed(store) == [0, 1, 2, 3, 4]
    [segment] = inbox.segments(store.inbox_dir)
    assert segment.stat().st_mode & 0o777 == 0o600 and store.inbox_dir.stat().st_mode & 0o777 == 0o700
    writer.append(_record(store, range(5, 6)))
    with Store(store.path) as another:  # another process moves it
        assert another.pending_notification_count() == 1
    assert _claimed(store) == [5]
    writer.close()  # the segment is finished: moved to its end, then deleted
    assert store.absorb_inbox() == 0 and _claimed(store) == []
    assert inbox.segments(store.inbox_dir) == []
    with store.read() as db:
        assert db.execute("SELECT COUNT(*) FROM trigger_inbox").fetchone()[0] == 0


def test_a_segment_is_rotated_and_a_record_larger_than_one_read_is_moved(store: Store) -> None:
    writer = InboxWriter(store.inbox_dir, segment_bytes=1_000)
    access = store.receiver_access(INSTANCE)
    assert access is not None
    huge = [("change", _item(0, size=5 << 20))]  # more than the store reads per transaction
    writer.append(encode(INSTANCE, access.sealed_client_state, store.clock(), huge))
    writer.append(_record(store, range(1, 4)))  # the first segment is full: a second one
    assert len(inbox.segments(store.inbox_dir)) == 2
    rows = store.claim_notifications("test")
    assert [row.item["n"] for row in rows] == [0, 1, 2, 3] and len(rows[0].item["padding"]) == 5 << 20
    assert len(inbox.segments(store.inbox_dir)) == 1  # the finished one is gone, the current one stays


def test_records_for_a_missing_disabled_or_rekeyed_instance_are_dropped(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    writer = InboxWriter(store.inbox_dir)
    writer.append(_record(store, range(0, 2), instance_id="NoSuchInstance"))
    writer.append(_record(store, range(2, 4)))
    assert _claimed(store) == [2, 3]
    assert "trigger NoSuchInstance: dropped 2 notification(s)" in caplog.text
    writer.append(_record(store, range(4, 5)))
    store.set_trigger_status(INSTANCE, "disabled")
    assert _claimed(store) == []
    store.set_trigger_status(INSTANCE, "active")
    assert store.pending_notification_count() == 0  # dropped for good, not held back


def test_concurrent_readers_in_threads_and_processes_move_each_record_once(store: Store) -> None:
    writers = [InboxWriter(store.inbox_dir, segment_bytes=5_000) for _ in range(2)]
    records = [_record(store, range(n * 5, n * 5 + 5)) for n in range(400)]
    claimed: list[int] = []
    done = threading.Event()

    def write(mine: list[bytes], writer: InboxWriter) -> None:
        for record in mine:
            writer.append(record)

    def read() -> None:
        with Store(store.path, clock=store.clock) as own:
            while True:
                finished = done.is_set()
                batch = own.claim_notifications(threading.current_thread().name, limit=37)
                claimed.extend(row.item["n"] for row in batch)
                if finished and not batch:
                    return

    counting = f"from connector.store import Store\ns = Store({str(store.path)!r})\n"
    counting += "while s.pending_notification_count() < 2000: pass"
    child = subprocess.Popen([sys.executable, "-c", counting], cwd=ROOT)  # moves records too
    writing = [threading.Thread(target=write, args=(records[k::2], writers[k])) for k in range(2)]
    reading = [threading.Thread(target=read, name=f"reader-{k}") for k in range(3)]
    for t in writing + reading:
        t.start()
    for t in writing:
        t.join(60)
    for writer in writers:
        writer.close()
    done.set()
    for t in reading:
        t.join(60)
    assert child.wait(60) == 0
    claimed.extend(_claimed(store))
    assert sorted(claimed) == list(range(2000))  # each once
    assert inbox.segments(store.inbox_dir) == [] or store.absorb_inbox() == 0


_KILLED_RECEIVER = """
import os, signal, sys
from connector.store import Store
from connector.webhooks import create_app
store = Store(sys.argv[1])
client = create_app(store).test_client()
for n in range(40):
    items = [{"clientState": sys.argv[2], "changeType": "created", "n": n * 3 + k} for k in range(3)]
    assert client.post("/hooks/%s/notifications" % sys.argv[3], json={"value": items}).status_code == 202
    print(n, flush=True)  # acknowledged
[segment] = os.listdir(store.inbox_dir)
with open(os.path.join(store.inbox_dir, segment), "ab") as torn:  # killed in the middle of a write
    torn.write(b"\\x00\\x10\\x00\\x00" + b"{partial")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_receiver_killed_after_answering_loses_nothing_it_acknowledged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_RECEIVER, str(store.path), SECRET, INSTANCE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == -9, result.stderr
    assert result.stdout.split() == [str(n) for n in range(40)]
    with caplog.at_level(logging.WARNING), Store(store.path) as reader:  # its records carry real time
        assert sorted(row.item["n"] for row in reader.claim_notifications("test", 1000)) == list(range(120))
    assert "dropped a torn tail of 12 bytes" in caplog.text
    assert inbox.segments(store.inbox_dir) == []


_FAILING_APPEND = """
import resource, sys
from pathlib import Path
from connector.inbox import InboxWriter
writer = InboxWriter(Path(sys.argv[1]))
first, second, third = (bytes.fromhex(h) for h in sys.argv[2:5])
writer.append(first)
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (len(first) + len(second) // 2, hard))  # the disk fills up
try:
    writer.append(second)
except OSError as exc:
    print("failed:", exc.strerror)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
writer.append(third)
"""


def test_a_failed_append_is_cut_back_so_the_next_record_lands_whole(store: Store) -> None:
    records = [_record(store, range(n, n + 1)) for n in range(3)]
    result = subprocess.run(
        [sys.executable, "-c", _FAILING_APPEND, str(store.inbox_dir), *(r.hex() for r in records)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("failed: File too large")  # part of it had been written
    assert _claimed(store) == [0, 2]


def test_a_new_file_left_by_a_process_that_died_creating_a_segment_is_removed(store: Store) -> None:
    store.inbox_dir.mkdir(mode=0o700)
    old, recent = store.inbox_dir / "1-dead.new", store.inbox_dir / "2-creating.new"
    old.write_bytes(b"")
    recent.write_bytes(b"")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert inbox.segments(store.inbox_dir) == []
    assert not old.exists() and recent.exists()
