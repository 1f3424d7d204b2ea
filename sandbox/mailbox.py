"""One mailbox's folders, messages and attachments, stored copy-on-write.

Message and attachment dicts are never changed in place: an update stores a new dict. That lets a
fresh sandbox copy the (cached) seeded mailboxes with a few dict copies instead of a deep copy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from sandbox.changes import Change, ChangeObserver, ChangeType, ItemKind
from sandbox.ids import IdFactory

Message = dict[str, Any]
Attachment = dict[str, Any]

WELL_KNOWN_FOLDERS: tuple[tuple[str, str], ...] = (
    ("inbox", "Inbox"),
    ("drafts", "Drafts"),
    ("sentitems", "Sent Items"),
    ("deleteditems", "Deleted Items"),
    ("junkemail", "Junk Email"),
    ("archive", "Archive"),
    ("outbox", "Outbox"),
    ("conversationhistory", "Conversation History"),
)
ROOT = "msgfolderroot"


@dataclass(frozen=True)
class FolderRecord:
    id: str
    display_name: str
    parent_id: str
    well_known: str | None = None
    is_hidden: bool = False


class Mailbox:
    """The mail store of one user (or shared mailbox)."""

    def __init__(self, user: dict[str, Any], ids: IdFactory) -> None:
        self.user = user
        self.ids = ids
        self.folders: dict[str, FolderRecord] = {}
        self.messages: dict[str, Message] = {}
        self.attachments: dict[str, tuple[Attachment, ...]] = {}
        self.well_known: dict[str, str] = {}
        self.observer: ChangeObserver | None = None
        """Told of every message and contact change (the live sandbox's subscriptions); copies start
        without one."""

    @property
    def user_id(self) -> str:
        return str(self.user["id"])

    @property
    def address(self) -> str:
        return str(self.user["mail"])

    def copy(self, id_seed: str) -> Mailbox:
        """A mailbox sharing this one's (immutable) records; new ids come from ``id_seed``."""
        other = Mailbox(self.user, IdFactory(self.user_id, random.Random(id_seed)))
        other.folders = dict(self.folders)
        other.messages = dict(self.messages)
        other.attachments = dict(self.attachments)
        other.well_known = dict(self.well_known)
        return other

    # -- folders -----------------------------------------------------------------------------------
    def add_folder(
        self, display_name: str, parent_id: str, well_known: str | None = None, is_hidden: bool = False
    ) -> FolderRecord:
        folder = FolderRecord(self.ids.folder_id(), display_name, parent_id, well_known, is_hidden)
        self.folders[folder.id] = folder
        if well_known:
            self.well_known[well_known] = folder.id
        return folder

    def resolve_folder(self, ref: str) -> FolderRecord | None:
        """A folder by id or well-known name (case-insensitive, like Graph)."""
        folder_id = self.well_known.get(ref.lower(), ref)
        return self.folders.get(folder_id)

    def folder(self, well_known: str) -> FolderRecord:
        return self.folders[self.well_known[well_known]]

    def child_folders(self, parent_id: str, include_hidden: bool = False) -> list[FolderRecord]:
        children = [
            f
            for f in self.folders.values()
            if f.parent_id == parent_id and (include_hidden or not f.is_hidden)
        ]
        return sorted(children, key=lambda f: f.display_name.lower())

    def descendants(self, folder_id: str) -> list[str]:
        found = [folder_id]
        for current in found:
            found.extend(f.id for f in self.folders.values() if f.parent_id == current)
        return found

    def is_within(self, folder_id: str, ancestor_id: str) -> bool:
        current: str | None = folder_id
        while current is not None and current in self.folders:
            if current == ancestor_id:
                return True
            current = self.folders[current].parent_id
        return False

    def update_folder(self, folder_id: str, **changes: Any) -> FolderRecord:
        folder = replace(self.folders[folder_id], **changes)
        self.folders[folder_id] = folder
        return folder

    def remove_folder_tree(self, folder_id: str) -> None:
        doomed = set(self.descendants(folder_id))
        for message_id in [m["id"] for m in self.messages.values() if m["parentFolderId"] in doomed]:
            self.remove_message(message_id)
        for doomed_id in doomed:
            del self.folders[doomed_id]

    def folder_counts(self) -> dict[str, tuple[int, int]]:
        """(totalItemCount, unreadItemCount) of every folder holding messages."""
        counts: dict[str, list[int]] = {}
        for message in self.messages.values():
            pair = counts.setdefault(message["parentFolderId"], [0, 0])
            pair[0] += 1
            if not message["isRead"]:
                pair[1] += 1
        return {folder_id: (total, unread) for folder_id, (total, unread) in counts.items()}

    def child_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for folder in self.folders.values():
            counts[folder.parent_id] = counts.get(folder.parent_id, 0) + 1
        return counts

    # -- messages ----------------------------------------------------------------------------------
    def messages_in(self, folder_id: str | None) -> list[Message]:
        if folder_id is None:
            return list(self.messages.values())
        return [m for m in self.messages.values() if m["parentFolderId"] == folder_id]

    def put_message(self, message: Message, attachments: tuple[Attachment, ...] | None = None) -> Message:
        change: ChangeType = "updated" if message["id"] in self.messages else "created"
        self.messages[message["id"]] = message
        self.report("message", message, message["parentFolderId"], change)
        if attachments is not None:
            self.attachments[message["id"]] = attachments
        return message

    def update_message(self, message_id: str, changes: dict[str, Any]) -> Message:
        """Store a changed copy with a new change key, and return it."""
        before = self.messages[message_id]
        updated = {**before, **changes, "changeKey": self.ids.change_key()}
        self.messages[message_id] = updated
        self.report("message", updated, updated["parentFolderId"], "updated", before["parentFolderId"])
        return updated

    def store_copy(
        self, message: Message, folder_id: str, attachments: tuple[Attachment, ...], **changes: Any
    ) -> Message:
        """Store ``message`` (from this or another mailbox) in ``folder_id`` under a new id, with its
        attachments re-identified, and return the stored copy."""
        message_id = self.ids.message_id()
        copy: Message = {
            **message,
            "id": message_id,
            "parentFolderId": folder_id,
            "changeKey": self.ids.change_key(),
            **changes,
        }
        copied = tuple({**a, "id": self.ids.attachment_id(message_id)} for a in attachments)
        return self.put_message(copy, copied or None)

    def set_attachments(self, message_id: str, attachments: tuple[Attachment, ...], modified: str) -> Message:
        """Replace a message's attachments (and its hasAttachments flag)."""
        self.attachments[message_id] = attachments
        return self.update_message(
            message_id,
            {"hasAttachments": any(not a["isInline"] for a in attachments), "lastModifiedDateTime": modified},
        )

    def remove_message(self, message_id: str) -> None:
        removed = self.messages.pop(message_id, None)
        self.attachments.pop(message_id, None)
        if removed is not None:
            self.report("message", removed, removed["parentFolderId"], "deleted")

    def attachments_of(self, message_id: str) -> tuple[Attachment, ...]:
        return self.attachments.get(message_id, ())

    # -- change notifications ------------------------------------------------------------------------
    def report(
        self,
        kind: ItemKind,
        item: dict[str, Any],
        container_id: str,
        change_type: ChangeType,
        previous_container_id: str | None = None,
    ) -> None:
        """Tell the observer (if any) that ``item`` (a message or contact record) changed."""
        if self.observer is None:
            return
        self.observer(
            Change(
                self.user_id,
                kind,
                item["id"],
                container_id,
                change_type,
                item["changeKey"],
                previous_container_id,
                lambda: _render(kind, item),
            )
        )


def _render(kind: ItemKind, item: dict[str, Any]) -> dict[str, Any]:
    if kind != "message":
        from sandbox.extended import hide

        return hide(dict(item))
    from sandbox.message_model import render_message  # imports this module

    return render_message(item)
