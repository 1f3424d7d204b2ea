"""The receiver's inbox: append-only segment files that make accepted notifications durable
before the 202 answer with one ``os.write`` per POST, instead of a database commit per POST.
``Store.absorb_inbox`` moves them into the queue later, in batches, exactly once.

Layout: ``<db>.inbox/<creation time>-<pid>-<random>.seg`` files (0600, in a 0700 folder). Each
process appends to its own segment and holds an exclusive ``flock`` on it for as long as it may
append; a segment nobody holds is finished (its process rotated to a new one, exited or died)
and is deleted once it has been moved. A record is an 8-byte header (payload length, CRC-32 of
the payload; little endian) and a JSON payload ``[instance id, sealed clientState (base64),
received at, [[kind, item], ...]]``. A reader stops at the first incomplete or damaged record:
in a held segment it is still being written; in a finished one it is a torn tail, a write that
never completed and was never answered 202.

Durability is the SQLite store's (WAL, ``synchronous=NORMAL``): a record survives the process
dying as soon as ``os.write`` returned, not a power cut.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the receiver writes to the queue directly
    fcntl = None  # type: ignore[assignment]

SEGMENT_SUFFIX = ".seg"
DEFAULT_SEGMENT_BYTES = 8 << 20
"""A process starts a new segment once its current one is this large."""
_HEADER = struct.Struct("<II")
_STALE_NEW_SECONDS = 60.0
"""A ``.new`` file (a segment being created) older than this belongs to a process that died."""

SUPPORTED = fcntl is not None
"""The inbox needs ``flock`` (POSIX); elsewhere the receiver commits each POST to the queue."""


@dataclass(frozen=True)
class InboxRecord:
    """One POST's accepted items, checked against ``sealed_client_state``."""

    instance_id: str
    sealed_client_state: bytes
    received_at: float
    rows: list[tuple[str, dict[str, Any]]]


def encode(
    instance_id: str,
    sealed_client_state: bytes,
    received_at: float,
    rows: Sequence[tuple[str, Mapping[str, Any]]],
) -> bytes:
    """A framed record (header + payload) for ``InboxWriter.append``."""
    payload = orjson.dumps(
        [instance_id, base64.b64encode(sealed_client_state).decode("ascii"), received_at, rows]
    )
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode(data: bytes) -> tuple[list[InboxRecord], int]:
    """The complete, intact records at the start of ``data`` and how many bytes they take."""
    records: list[InboxRecord] = []
    offset = 0
    view = memoryview(data)
    while len(data) - offset >= _HEADER.size:
        length, crc = _HEADER.unpack_from(data, offset)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if length == 0 or end > len(data):
            break
        payload = view[start:end]
        if zlib.crc32(payload) != crc:
            break
        try:
            instance_id, sealed, received_at, rows = orjson.loads(payload)
            record = InboxRecord(
                instance_id,
                base64.b64decode(sealed),
                float(received_at),
                [(kind, item) for kind, item in rows],
            )
        except (ValueError, TypeError):
            break
        records.append(record)
        offset = end
    return records, offset


def missing_bytes(data: bytes) -> int:
    """How many more bytes complete the first record, if ``data`` holds only part of it."""
    if len(data) < _HEADER.size:
        return 0
    length: int = _HEADER.unpack_from(data)[0]
    return max(0, _HEADER.size + length - len(data))


class _Segment:
    __slots__ = ("fd", "path", "pid", "size")

    def __init__(self, fd: int, path: Path, pid: int) -> None:
        self.fd = fd
        self.path = path
        self.pid = pid
        self.size = 0


class InboxWriter:
    """Appends records to this process's segment (opened on first use, again after a fork, and
    rotated past ``segment_bytes``). Thread-safe; a failed append is undone (the segment is cut
    back to where it was, or given up if even that fails) and raises ``OSError``."""

    def __init__(self, folder: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> None:
        if not SUPPORTED:  # pragma: no cover
            raise OSError("the notification inbox needs flock (POSIX)")
        self.folder = folder
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._current: _Segment | None = None

    def append(self, record: bytes) -> None:
        with self._lock:
            segment = self._segment()
            start = segment.size
            try:
                view = memoryview(record)
                while view:
                    view = view[os.write(segment.fd, view) :]
            except BaseException:
                self._undo(segment, start)
                raise
            segment.size += len(record)

    def ready(self) -> None:
        """Open this process's segment now (raises ``OSError`` if the folder is not writable)."""
        with self._lock:
            self._segment()

    def close(self) -> None:
        """Give up the current segment (it becomes finished and is moved and deleted later)."""
        with self._lock:
            self._release()

    def _segment(self) -> _Segment:
        current = self._current
        if current is not None and current.pid == os.getpid() and current.size < self.segment_bytes:
            return current
        self._release()
        self._current = self._open()
        return self._current

    def _open(self) -> _Segment:
        assert fcntl is not None
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(6)}"  # sorts as created
        creating = self.folder / f"{name}.new"
        fd = os.open(creating, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held before readers can see the name
            path = self.folder / f"{name}{SEGMENT_SUFFIX}"
            os.rename(creating, path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                creating.unlink()
            raise
        return _Segment(fd, path, os.getpid())

    def _release(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            os.close(current.fd)  # in a forked child: only its copy; the parent keeps its lock

    def _undo(self, segment: _Segment, size: int) -> None:
        try:
            os.ftruncate(segment.fd, size)
        except OSError:  # give the segment up: readers drop its torn tail
            self._release()


def segments(folder: Path) -> list[Path]:
    """The segment files in ``folder``, oldest first; removes ``.new`` files left behind by
    processes that died while creating one."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        if entry.name.endswith(SEGMENT_SUFFIX):
            found.append(Path(entry.path))
        elif entry.name.endswith(".new"):
            with contextlib.suppress(OSError):
                if time.time() - entry.stat().st_mtime > _STALE_NEW_SECONDS:
                    with hold_if_finished(Path(entry.path)) as held:
                        if held:
                            os.unlink(entry.path)
    return sorted(found)


@contextlib.contextmanager
def hold_if_finished(path: Path) -> Iterator[bool]:
    """True (and the segment's lock held until the block ends) if no process holds ``path`` any
    more, so nothing will be appended to it; False while its process may still append, or if it
    has been deleted meanwhile."""
    assert fcntl is not None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield names_open_file(path, fd)  # another reader may have deleted it before our lock
    finally:
        os.close(fd)


def names_open_file(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not deleted by another reader)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
