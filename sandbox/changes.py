"""What the stores report when a message, event or contact changes (for change notifications).

The mail, calendar and contact stores call a ``ChangeObserver`` once per mutation; the sandbox's
``SubscriptionHub`` (sandbox/notifications.py) is the observer and turns changes into notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

ItemKind = Literal["message", "event", "contact"]
ChangeType = Literal["created", "updated", "deleted"]


@dataclass(frozen=True)
class Change:
    """One change of one item in one mailbox."""

    mailbox_id: str
    """The mailbox owner's user id (GUID)."""
    kind: ItemKind
    item_id: str
    container_id: str
    """The folder (messages, contacts) or calendar (events) holding the item (held it, when deleted)."""
    change_type: ChangeType
    change_key: str
    previous_container_id: str | None = None
    """For a move that kept the item's id (immutable ids): the folder it left."""
    render: Callable[[], dict[str, Any]] | None = None
    """The item as Graph returns it, made on demand (rich notifications carry it encrypted)."""


ChangeObserver = Callable[[Change], None]
