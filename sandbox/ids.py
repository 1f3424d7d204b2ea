"""Identifiers shaped like Microsoft's: GUIDs, Exchange item ids, change keys, internet message ids."""

from __future__ import annotations

import base64
import random
import re
import uuid

_ID_SHAPE = re.compile(r"^[A-Za-z0-9_\-]{16,}={0,2}$")


def guid(rng: random.Random) -> str:
    """A version-4 GUID drawn from ``rng`` (deterministic for a seeded generator)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _b64(raw: bytes) -> str:
    # Graph's REST ids are base64 with '-' and '_' for '+' and '/', padding kept.
    return base64.urlsafe_b64encode(raw).decode("ascii")


class IdFactory:
    """Makes Exchange-style ids for one mailbox: a fixed mailbox part and a per-item part.

    Message ids start with ``AAMkA``, folder ids with ``AQMkA``, conversation ids with ``AAQkA``,
    attachment ids extend their message id, like the ids Graph returns.
    """

    def __init__(self, mailbox_guid: str, rng: random.Random) -> None:
        self._mailbox = uuid.UUID(mailbox_guid).bytes
        self._rng = rng

    def _item(self, kind: int, size: int) -> bytes:
        return self._mailbox + bytes([0, 0x46, kind]) + self._rng.randbytes(size)

    def message_id(self) -> str:
        # 16 + 3 + 27 = 46 bytes -> one '=' of padding, like most Graph message ids.
        return "AAMkA" + _b64(self._item(0x07, 27))

    def folder_id(self) -> str:
        return "AQMkA" + _b64(self._item(0x01, 11))

    def conversation_id(self) -> str:
        return "AAQkA" + _b64(self._mailbox + self._rng.randbytes(8))

    def attachment_id(self, message_id: str) -> str:
        return message_id[:-1] + "BEgAQA" + _b64(self._rng.randbytes(17))

    def change_key(self) -> str:
        return "CQAAABYAAA" + _b64(self._rng.randbytes(18))

    def internet_message_id(self, domain: str) -> str:
        server = (
            f"{self._rng.choice(['PH0PR', 'SN6PR', 'BY5PR', 'DM6PR', 'CH2PR'])}{self._rng.randint(10, 19)}MB"
        )
        server += str(self._rng.randint(1000, 9999))
        token = self._rng.randbytes(8).hex().upper()
        return f"<{server}{token}@{server}.{domain}>"

    def conversation_index(self) -> str:
        return base64.b64encode(b"\x01" + self._rng.randbytes(21)).decode("ascii")


def looks_like_graph_id(value: str) -> bool:
    """True when ``value`` could be an Exchange id (Graph answers 400 'Id is malformed' otherwise)."""
    return bool(_ID_SHAPE.match(value))
