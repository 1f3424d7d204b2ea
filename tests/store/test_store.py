"""Connections, tokens, health and the key-value table; schema versions; threads and processes."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from connector.errors import ConfigurationError
from connector.store import ConnectionRecord, Store
from connector.store import postgres as postgres_module
from connector.store import sqlite as store_module
from tests.store.conftest import FakeClock

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _record(name: str = "work", **config: object) -> ConnectionRecord:
    return ConnectionRecord(
        name=name,
        type_key="oauth2_code",
        config={"tenant": "common", "client_id": "abc", **config},
        secrets={"client_secret": "s3cret-value"},
    )


def test_default_location_is_the_home_directory(tmp_path: Path) -> None:
    with Store() as opened:
        assert opened.path == tmp_path / "home" / "state.db"
        assert opened.path.exists()


def test_new_database_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path / "state.db") as store:
        assert store.path is not None and stat.S_IMODE(store.path.stat().st_mode) == 0o600
        with store.read() as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.schema_version() == store_module.MIGRATIONS[-1][0]


def test_both_backends_have_the_same_schema_versions(store: Store) -> None:
    assert [m[0] for m in store_module.MIGRATIONS] == [m[0] for m in postgres_module.MIGRATIONS]
    assert [m[1] for m in store_module.MIGRATIONS] == [m[1] for m in postgres_module.MIGRATIONS]
    assert store.schema_version() == store_module.MIGRATIONS[-1][0]


def test_connection_round_trip(store: Store, clock: FakeClock) -> None:
    store.save_connection(_record(), tokens={"access_token": "at", "expires_at": 1.0})
    record = store.get_connection("work")
    assert record is not None
    assert record.type_key == "oauth2_code"
    assert record.config == {"tenant": "common", "client_id": "abc"}
    assert record.secrets == {"client_secret": "s3cret-value"}
    assert record.created_at == record.updated_at == clock.now
    assert record.has_tokens
    assert "s3cret" not in repr(record)
    assert store.load_tokens("work") == {"access_token": "at", "expires_at": 1.0}


def test_listing_leaves_secrets_encrypted_unless_asked(store: Store) -> None:
    store.save_connection(_record("b"))
    store.save_connection(_record("a"))
    listed = store.list_connections()
    assert [r.name for r in listed] == ["a", "b"]
    assert all(r.secrets == {} for r in listed)
    assert all(
        r.secrets == {"client_secret": "s3cret-value"} for r in store.list_connections(include_secrets=True)
    )


def test_replacing_keeps_creation_time_and_resets_tokens_and_health(store: Store, clock: FakeClock) -> None:
    store.save_connection(_record(), tokens={"access_token": "old"})
    store.record_health("work", ok=False, error="boom")
    clock.now += 60
    store.save_connection(_record(tenant="contoso.com"))
    record = store.get_connection("work")
    assert record is not None
    assert record.created_at == clock.now - 60 and record.updated_at == clock.now
    assert record.config["tenant"] == "contoso.com"
    assert store.load_tokens("work") is None and not record.has_tokens
    assert record.last_error is None


def test_tokens_are_replaced_atomically_and_removable(store: Store) -> None:
    store.save_connection(_record())
    assert store.load_tokens("work") is None
    store.save_tokens("work", {"access_token": "a1", "refresh_token": "r1"})
    store.save_tokens("work", {"access_token": "a2", "refresh_token": "r2"})
    assert store.load_tokens("work") == {"access_token": "a2", "refresh_token": "r2"}
    store.save_tokens("work", None)
    assert store.load_tokens("work") is None


def test_tokens_for_an_unknown_connection(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="no connection named 'nope'"):
        store.save_tokens("nope", {"access_token": "x"})
    assert store.load_tokens("nope") is None
    assert store.get_connection("nope") is None


def test_delete(store: Store) -> None:
    store.save_connection(_record(), tokens={"access_token": "x"})
    assert store.delete_connection("work")
    assert not store.delete_connection("work")
    assert store.get_connection("work") is None


def test_health(store: Store, clock: FakeClock) -> None:
    store.save_connection(_record())
    store.record_health("work", ok=False, error="AADSTS70008: expired")
    record = store.get_connection("work")
    assert record is not None
    assert (record.last_error, record.last_error_at, record.last_success_at) == (
        "AADSTS70008: expired",
        clock.now,
        None,
    )
    clock.now += 5
    store.record_health("work", ok=True)
    record = store.get_connection("work")
    assert record is not None
    assert (record.last_error, record.last_success_at) == (None, clock.now)


@pytest.mark.parametrize("name", ["", "   ", "a\0b", "line\nbreak", "x" * 201])
def test_bad_connection_names(store: Store, name: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid connection name"):
        store.save_connection(_record(name))


# -- key-value table -----------------------------------------------------------------------------------
def test_kv_put_get_items_delete(store: Store) -> None:
    store.kv_put("delta", "work:inbox", {"link": "https://graph/delta?token=1"})
    store.kv_put("delta", "work:sent", "cursor-2")
    store.kv_put("delta", "other:inbox", 3)
    assert store.kv_get("delta", "work:inbox") == {"link": "https://graph/delta?token=1"}
    assert store.kv_get("delta", "missing", "dflt") == "dflt"
    assert store.kv_items("delta", prefix="work:") == [
        ("work:inbox", {"link": "https://graph/delta?token=1"}),
        ("work:sent", "cursor-2"),
    ]
    assert store.kv_delete("delta", "work:sent")
    assert not store.kv_delete("delta", "work:sent")
    assert [k for k, _ in store.kv_items("delta")] == ["other:inbox", "work:inbox"]


def test_kv_add_and_expiry(store: Store, clock: FakeClock) -> None:
    assert store.kv_add("seen", "n1", ttl=60)
    assert not store.kv_add("seen", "n1", ttl=60)
    clock.now += 61
    assert store.kv_get("seen", "n1") is None
    assert store.kv_items("seen") == []
    assert store.kv_add("seen", "n1", ttl=60)  # expired entries do not block
    store.kv_put("seen", "n2", True, ttl=1)
    clock.now += 2
    assert store.kv_purge_expired() == 1  # n2 only; n1 was stored again
    assert store.kv_get("seen", "n1") is True


def test_kv_encrypted_values(store: Store) -> None:
    store.kv_put("subscriptions", "sub-1", {"client_state": "very-secret-client-state"}, encrypt=True)
    assert store.kv_get("subscriptions", "sub-1") == {"client_state": "very-secret-client-state"}
    with store.read() as db:
        raw = db.execute("SELECT value FROM kv WHERE key = 'sub-1'").fetchone()[0]
    assert b"very-secret" not in raw


def test_kv_add_is_exclusive_across_threads(store: Store) -> None:
    barrier = threading.Barrier(8)
    wins: list[bool] = []
    lock = threading.Lock()

    def contend() -> None:
        barrier.wait()
        for i in range(40):
            won = store.kv_add("seen", f"key-{i}")
            with lock:
                wins.append(won)

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(wins) == 40 and len(wins) == 320


_WRITER = """
import sys
from connector.store import Store
store = Store(sys.argv[1], key=bytes(32))
for i in range(60):
    store.kv_put("proc", f"{sys.argv[2]}-{i}", i)
    store.kv_add("shared", f"k{i}")
store.close()
"""


def test_several_processes_write_the_same_database(location: str) -> None:
    path = location
    Store(path, key=bytes(32)).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), str(n)], cwd=PROJECT_ROOT, stderr=subprocess.PIPE
        )
        for n in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with Store(path, key=bytes(32)) as opened:
        assert len(opened.kv_items("proc")) == 180
        assert len(opened.kv_items("shared")) == 60


# -- lock ----------------------------------------------------------------------------------------------
_LOCK_HOLDER = """
import sys
from connector.store import Store
store = Store(sys.argv[1], key=bytes(32))
with store.lock("tokens:work"):
    print("held", flush=True)
    sys.stdin.readline()
    store.kv_put("test", "released", "the holder was done")
store.close()
"""


def test_lock_excludes_other_processes(store: Store, location: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _LOCK_HOLDER, location],
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "held"
        seen: list[Any] = []
        waiter = threading.Thread(target=lambda: _take_lock_and_read(location, seen))
        waiter.start()
        holder.stdin.write("\n")  # the holder notes its release, then releases
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        waiter.join(30)
        assert seen == ["the holder was done"]  # the waiter got the lock only after the holder
    finally:
        holder.kill()
        holder.wait()


def _take_lock_and_read(location: str, seen: list[Any]) -> None:
    with Store(location, key=bytes(32)) as mine, mine.lock("tokens:work"):
        seen.append(mine.kv_get("test", "released"))


def test_lock_serializes_threads(store: Store) -> None:
    inside = 0
    most = 0
    guard = threading.Lock()
    barrier = threading.Barrier(10)

    def work() -> None:
        nonlocal inside, most
        barrier.wait()
        for _ in range(20):
            with store.lock("k"):
                with guard:
                    inside += 1
                    most = max(most, inside)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1


# -- schema versions -------------------------------------------------------------------------------------
def test_migrations_are_applied_once_in_order(location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module: Any = postgres_module if location.startswith("postgresql://") else store_module
    Store(location).close()
    later = module.MIGRATIONS[-1][0] + 1
    extra: store_module.Migration = (later, "test table", ("CREATE TABLE later_feature (id INTEGER)",))
    monkeypatch.setattr(module, "MIGRATIONS", (*module.MIGRATIONS, extra))
    with Store(location) as upgraded:
        assert upgraded.schema_version() == later
        with upgraded.read() as db:
            assert db.execute("SELECT COUNT(*) FROM later_feature").fetchone()[0] == 0
    with Store(location) as again:  # nothing to apply twice
        assert again.schema_version() == later


def test_database_from_a_newer_version_is_refused(store: Store, location: str) -> None:
    with store.transaction() as db:
        db.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    with pytest.raises(ConfigurationError, match="newer outlook-connector") as refused:
        Store(location)
    assert "@" not in str(refused.value)  # a PostgreSQL URL is named without its user info


def test_closed_store_refuses_work(location: str) -> None:
    opened = Store(location)
    opened.close()
    with pytest.raises(ConfigurationError, match="closed"):
        opened.list_connections()


def test_imports_stay_light() -> None:
    code = (
        "import sys, connector.store, connector.crypto, connections.registry;"
        "heavy = [m for m in ('sqlite3', 'cryptography', 'authlib') if m in sys.modules];"
        "print(json.dumps(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json;" + code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == []
