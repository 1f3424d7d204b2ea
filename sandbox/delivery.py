"""Sending mail inside the tenant: Sent Items copy, delivery to every in-tenant recipient's Inbox."""

from __future__ import annotations

from sandbox.mailbox import Attachment, Mailbox, Message
from sandbox.message_model import now_stamp, owner_address
from sandbox.state import SandboxState


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
