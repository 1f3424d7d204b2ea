"""Encryption at rest: AES-256-GCM with a random 96-bit nonce per value and associated data.

The key is ``$OUTLOOK_CONNECTOR_KEY`` (base64 of 32 bytes) or else a key file (``secret.key`` next to
the state database), created on first use with 0600 permissions. ``cryptography`` is imported only
when a value is actually encrypted or decrypted, to keep the CLI quick to start.

A sealed value is ``b"\\x01" + nonce (12 bytes) + ciphertext + GCM tag (16 bytes)``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from connector.errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_ENV = "OUTLOOK_CONNECTOR_KEY"
KEY_FILE_NAME = "secret.key"
KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = b"\x01"

_log = logging.getLogger("outlook_connector.crypto")


class DecryptionError(ConfigurationError):
    """A stored value cannot be decrypted: another key encrypted it, or it was altered."""


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigurationError(
            f"{source} must be the base64 encoding of exactly {KEY_BYTES} random bytes (AES-256); "
            "generate one with: "
            'python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"'
        )
    return key


def _create_key_file(path: Path) -> None:
    """Write a new random key to ``path`` unless it exists; never world-readable, even briefly.

    The key goes to a private temporary file (created 0600 with O_EXCL) that is then hard-linked to
    its final name, which fails if another process created the key first: its key wins.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.b64encode(os.urandom(KEY_BYTES)) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process won the race; use its key
        except OSError:  # no hard links on this file system: create-if-absent by rename
            if not path.exists():
                os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def load_key(key_file: Path) -> bytes:
    """The 32-byte key: ``$OUTLOOK_CONNECTOR_KEY`` if set, else ``key_file`` (created if missing)."""
    from_env = os.environ.get(KEY_ENV)
    if from_env is not None and from_env.strip():
        return _decode_key(from_env, KEY_ENV)
    if not key_file.exists():
        _create_key_file(key_file)
    mode = key_file.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning("key file %s is readable by other users; run: chmod 600 %s", key_file, key_file)
    return _decode_key(key_file.read_text(encoding="ascii", errors="replace"), f"the key file {key_file}")


class Cipher:
    """AES-256-GCM sealing of values bound to associated data (a label such as the connection name)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigurationError(f"the encryption key must be {KEY_BYTES} bytes")
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead: AESGCM = AESGCM(key)

    def __repr__(self) -> str:
        return "Cipher(<key hidden>)"

    def seal(self, plaintext: bytes, associated_data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def open(self, sealed: bytes, associated_data: bytes, what: str = "a stored value") -> bytes:
        from cryptography.exceptions import InvalidTag

        if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[:1] != _VERSION:
            raise DecryptionError(f"cannot decrypt {what}: it is not in the expected format")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, associated_data)
        except InvalidTag:
            raise DecryptionError(
                f"cannot decrypt {what}: it was encrypted with another key (check {KEY_ENV} or the "
                f"{KEY_FILE_NAME} file next to the database) or it was altered"
            ) from None
