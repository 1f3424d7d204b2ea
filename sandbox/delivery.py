"""Sending mail inside the tenant: Sent Items copy, delivery to every in-tenant recipient's Inbox.

A message carrying PidTagDeferredSendTime (``SystemTime 0x3FEF``) in its singleValueExtendedProperties
is held in the sender's Outbox until that time on the sandbox's clock (``SandboxConfig.clock``), then
sent; a time already past sends at once. Deleting or moving the held message cancels the send.
"""

from __future__ import annotations

from datetime import datetime

from sandbox import extended
from sandbox.mailbox import Attachment, Mailbox, Message
from sandbox.message_model import now_stamp, owner_address
from sandbox.state import SandboxState

DEFERRED_SEND_TIME = "SystemTime 0x3FEF"
_DEFERRED_KEY = extended.id_key(DEFERRED_SEND_TIME)


def deferred_until(message: Message) -> datetime | None:
    """The message's deferred send time (PidTagDeferredSendTime), if it has one."""
    for prop in message.get(extended.SINGLE) or []:
        if extended.id_key(prop.get("id")) == _DEFERRED_KEY:
            return extended.parse_time(prop.get("value"))
    return None


def submit(
    state: SandboxState,
    sender: Mailbox,
    message: Message,
    attachments: tuple[Attachment, ...],
    save_to_sent_items: bool,
) -> Message | None:
    """Send now, or hold in the Outbox until the deferred send time (returns the held message)."""
    due = deferred_until(message)
    if due is None or due.timestamp() <= state.config.clock():
        send(state, sender, message, attachments, save_to_sent_items)
        return None
    held = sender.store_copy(
        {**message, "isDraft": False, "from": message.get("from") or owner_address(sender)},
        sender.well_known["outbox"],
        attachments,
    )
    state.deferred_sends[(sender.user_id, held["id"])] = save_to_sent_items
    return held


def release_due(state: SandboxState) -> int:
    """Send every held message whose time has come (caller need not hold the lock); returns how many."""
    if not state.deferred_sends:
        return 0
    sent = 0
    with state.lock:
        now = state.config.clock()
        for (user_id, message_id), save in list(state.deferred_sends.items()):
            box = state.mailboxes.get(user_id)
            message = box.messages.get(message_id) if box is not None else None
            if box is None or message is None or message["parentFolderId"] != box.well_known["outbox"]:
                del state.deferred_sends[(user_id, message_id)]  # deleted or moved: cancelled
                continue
            due = deferred_until(message)
            if due is not None and due.timestamp() > now:
                continue
            del state.deferred_sends[(user_id, message_id)]
            attachments = box.attachments_of(message_id)
            box.remove_message(message_id)
            send(state, box, message, attachments, save)
            sent += 1
    return sent


def send(
    state: SandboxState,
    sender: Mailbox,
    message: Message,
    attachments: tuple[Attachment, ...],
    save_to_sent_items: bool,
) -> list[Message]:
    """Send ``message`` from ``sender`` (caller holds ``state.lock``); returns the delivered copies.

    Recipients outside the tenant are accepted and vanish, as mail to the internet would. Every
    in-tenant mailbox named in to/cc/bcc gets an unread copy in its Inbox, without the Bcc line.
    """
    stamp = now_stamp()
    sent: Message = {
        **message,
        "isDraft": False,
        "isRead": True,
        "sentDateTime": stamp,
        "receivedDateTime": stamp,
        "createdDateTime": stamp,
        "lastModifiedDateTime": stamp,
        "from": message.get("from") or owner_address(sender),
        "sender": message.get("sender") or message.get("from") or owner_address(sender),
    }
    if save_to_sent_items:
        sender.store_copy(sent, sender.well_known["sentitems"], attachments)

    delivered: list[Message] = []
    seen: set[str] = set()
    for field in ("toRecipients", "ccRecipients", "bccRecipients"):
        for recipient in sent.get(field) or []:
            box = state.mailbox_by_address(recipient["emailAddress"]["address"])
            if box is None or box.user_id in seen:
                continue
            seen.add(box.user_id)
            delivered.append(
                box.store_copy(
                    sent,
                    box.well_known["inbox"],
                    attachments,
                    isRead=False,
                    bccRecipients=[],
                    conversationIndex=box.ids.conversation_index(),
                    flag={"flagStatus": "notFlagged"},
                    categories=[],
                )
            )
    return delivered
