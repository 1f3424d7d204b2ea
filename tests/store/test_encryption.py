"""Secrets and tokens at rest: AES-256-GCM, bound to their connection, under the right key only."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from connector.crypto import KEY_ENV, Cipher, DecryptionError, load_key
from connector.errors import ConfigurationError
from connector.store import ConnectionRecord, Store

CLIENT_SECRET = "Xq8Q~client-secret-value-do-not-leak"
ACCESS_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.access-token-do-not-leak"
REFRESH_TOKEN = "1.AXkA-refresh-token-do-not-leak"


def _save_secret_connection(store: Store, name: str = "work") -> None:
    store.save_connection(
        ConnectionRecord(name, "oauth2_code", {"client_id": "cid"}, {"client_secret": CLIENT_SECRET}),
        tokens={"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN, "expires_at": 1.0},
    )
    store.save_tokens(name, {"access_token": ACCESS_TOKEN + "2", "refresh_token": REFRESH_TOKEN + "2"})


def _raw_bytes(db_path: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")) if p.exists()
    )


def test_no_secret_or_token_in_the_database_files(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path)
    _save_secret_connection(store)
    assert Path(f"{path}-wal").exists()  # still in the write-ahead log
    for raw in (_raw_bytes(path),):
        for secret in (CLIENT_SECRET, ACCESS_TOKEN, REFRESH_TOKEN, "do-not-leak"):
            assert secret.encode() not in raw
    store.close()  # checkpointed into the main file
    raw = _raw_bytes(path)
    assert b"do-not-leak" not in raw
    assert b"cid" in raw  # non-secret settings are stored in clear (sanity check of the method)


def test_key_file_is_created_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = Store(tmp_path / "home" / "state.db")
        _save_secret_connection(store)
    finally:
        os.umask(old)
    key_file = tmp_path / "home" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert len(base64.b64decode(key_file.read_text())) == 32
    assert [p.name for p in key_file.parent.iterdir() if p.name.endswith(".tmp")] == []
    reopened = Store(tmp_path / "home" / "state.db")
    assert reopened.load_tokens("work") is not None


def test_concurrent_key_creation_agrees_on_one_key(tmp_path: Path) -> None:
    key_file = tmp_path / "k" / "secret.key"
    barrier = threading.Barrier(12)
    keys: list[bytes] = []

    def create() -> None:
        barrier.wait()
        keys.append(load_key(key_file))

    threads = [threading.Thread(target=create) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys) == 12


def test_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    monkeypatch.setenv(KEY_ENV, base64.b64encode(key).decode())
    store = Store(tmp_path / "state.db")
    _save_secret_connection(store)
    assert not (tmp_path / "secret.key").exists()
    assert Store(tmp_path / "state.db", key=key).load_tokens("work") is not None


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode(), "QUJD"])
def test_malformed_environment_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(KEY_ENV, value)
    store = Store(tmp_path / "state.db")
    with pytest.raises(ConfigurationError, match=f"{KEY_ENV} must be the base64 encoding of exactly 32"):
        _save_secret_connection(store)


def test_wrong_key_is_a_clear_error_not_garbage(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _save_secret_connection(Store(path, key=b"a" * 32))
    other = Store(path, key=b"b" * 32)
    assert [r.name for r in other.list_connections()] == ["work"]  # listing needs no key
    for read in (lambda: other.get_connection("work"), lambda: other.load_tokens("work")):
        with pytest.raises(ConfigurationError, match="encryption key is not the one") as info:
            read()
        assert "do-not-leak" not in str(info.value)


def test_sealed_values_cannot_be_moved_to_another_connection(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = Store(path, key=b"k" * 32)
    _save_secret_connection(store, "a")
    _save_secret_connection(store, "b")
    store.close()
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE connections SET tokens = (SELECT tokens FROM connections WHERE name = 'a') WHERE name = 'b'"
    )
    db.commit()
    db.close()
    with pytest.raises(DecryptionError, match="cannot decrypt the tokens of 'b'"):
        Store(path, key=b"k" * 32).load_tokens("b")


def test_tampered_value_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    _save_secret_connection(Store(path, key=b"k" * 32))
    db = sqlite3.connect(path)
    sealed = bytearray(db.execute("SELECT secrets FROM connections").fetchone()[0])
    sealed[-1] ^= 1
    db.execute("UPDATE connections SET secrets = ?", (bytes(sealed),))
    db.commit()
    db.close()
    with pytest.raises(DecryptionError, match="altered"):
        Store(path, key=b"k" * 32).get_connection("work")


def test_cipher_uses_a_fresh_nonce_per_value() -> None:
    cipher = Cipher(os.urandom(32))
    first, second = cipher.seal(b"same", b"ad"), cipher.seal(b"same", b"ad")
    assert first != second and first[1:13] != second[1:13]
    assert cipher.open(first, b"ad") == b"same"
    with pytest.raises(DecryptionError):
        cipher.open(first, b"other associated data")
    assert "key" in repr(cipher) and repr(cipher) == "Cipher(<key hidden>)"
