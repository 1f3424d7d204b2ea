"""Meeting messages (``microsoft.graph.eventMessage``), as Exchange sends them.

An organizer's invitation, update or cancellation puts a meeting message in each in-tenant
attendee's Inbox; an attendee's answer (``sendResponse`` true) puts one in the organizer's Inbox.
Each message keeps the meeting's iCalUId (a private ``_iCalUId`` key, hidden when rendered), so
``$expand=microsoft.graph.eventMessage/event`` finds the copy of the meeting in the calendar of the
mailbox holding the message, wherever the message was moved.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sandbox.calendar_seed import calendars_of
from sandbox.calendar_store import CalendarStore, UserCalendars, fmt
from sandbox.mailbox import Mailbox, Message
from sandbox.message_model import MEETING_LINK as LINK
from sandbox.message_model import new_message
from sandbox.state import SandboxState

EXPAND_EVENT = "microsoft.graph.eventMessage/event"
"""The documented ``$expand`` of a meeting message's event (eventmessage-get.md)."""


_REQUEST = "#microsoft.graph.eventMessageRequest"
_RESPONSE = "#microsoft.graph.eventMessageResponse"
_PLAIN = "#microsoft.graph.eventMessage"
_ANSWERS = {
    "accepted": ("meetingAccepted", "Accepted"),
    "tentativelyAccepted": ("meetingTenativelyAccepted", "Tentative"),  # Graph's enum spells it so
    "declined": ("meetingDeclined", "Declined"),
}
Times = tuple[dict[str, str], dict[str, str], dict[str, Any]]
"""start, end and location of a meeting as its messages show them."""


def times(event: dict[str, Any]) -> Times:
    return (
        {"dateTime": fmt(event["_start"]), "timeZone": "UTC"},
        {"dateTime": fmt(event["_end"]), "timeZone": "UTC"},
        dict(event.get("location") or {}),
    )


def holders(store: CalendarStore, event: dict[str, Any]) -> set[str]:
    """Ids of the users whose calendars hold a copy of the meeting."""
    return {box.user["id"] for box, _copy in store.copies(event)}


def _address(person: dict[str, Any]) -> dict[str, Any]:
    return {"emailAddress": dict(person.get("emailAddress") or {})}


def _deliver(
    box: Mailbox,
    event: dict[str, Any],
    sender: dict[str, Any],
    props: dict[str, Any],
    **changes: Any,
) -> Message:
    """A meeting message in ``box``'s Inbox; earlier messages of the meeting there become out of date.
    ``changes`` replace the message fields taken from the event (subject, body, recipients)."""
    for older in box.messages.values():
        if older.get(LINK) == event["iCalUId"] and not older.get("isOutOfDate"):
            box.update_message(older["id"], {"isOutOfDate": True})
    start, end, location = times(event)
    required = [_address(a) for a in event["attendees"] if a.get("type") != "optional"]
    optional = [_address(a) for a in event["attendees"] if a.get("type") == "optional"]
    body = dict(event.get("body") or {"contentType": "html", "content": ""})
    message = new_message(
        box,
        box.well_known["inbox"],
        {
            "subject": event.get("subject", ""),
            "body": body,
            "from": sender,
            "sender": sender,
            "toRecipients": required,
            "ccRecipients": optional,
            "isRead": False,
            "isDeliveryReceiptRequested": None,
            **changes,
        },
        is_draft=False,
    )
    ordered: Message = {"@odata.type": props.pop("@odata.type"), **message}
    ordered.update(
        {
            "startDateTime": start,
            "endDateTime": end,
            "location": location,
            "type": event["type"],
            "recurrence": event.get("recurrence"),
            "isOutOfDate": False,
            "isAllDay": bool(event.get("isAllDay")),
            "isDelegated": False,
            **props,
            LINK: event["iCalUId"],
        }
    )
    return box.put_message(ordered)


def send_requests(
    state: SandboxState,
    store: CalendarStore,
    organizer: UserCalendars,
    event: dict[str, Any],
    invited_before: set[str] | None = None,
    previous: Times | None = None,
    only: set[str] | None = None,
) -> None:
    """Invitations (``invited_before`` None) or updates to every in-tenant attendee holding a copy
    (or to the users ``only`` names); attendees new to the meeting get a new meeting request. The
    sender is ``organizer``'s user (an attendee forwarding the meeting sends it)."""
    sender = {"emailAddress": {"name": organizer.user["displayName"], "address": organizer.user["mail"]}}
    for box, copy in store.copies(event):
        if box is organizer or (only is not None and box.user["id"] not in only):
            continue
        mailbox = state.mailboxes.get(box.user["id"])
        if mailbox is None:
            continue
        update = invited_before is not None and box.user["id"] in invited_before
        before = previous if update and previous is not None else None
        _deliver(
            mailbox,
            copy,
            sender,
            {
                "@odata.type": _REQUEST,
                "meetingMessageType": "meetingRequest",
                "meetingRequestType": "fullUpdate" if update else "newMeetingRequest",
                "allowNewTimeProposals": bool(copy.get("allowNewTimeProposals", True)),
                "responseRequested": bool(copy.get("responseRequested", True)),
                "previousStartDateTime": before[0] if before else None,
                "previousEndDateTime": before[1] if before else None,
                "previousLocation": before[2] if before else None,
            },
        )


def send_cancellations(
    state: SandboxState, store: CalendarStore, organizer: UserCalendars, event: dict[str, Any]
) -> None:
    """A cancellation to every attendee holding a copy (call before the organizer's event goes)."""
    sender = _address(event["organizer"])
    for box, copy in store.copies(event):
        mailbox = state.mailboxes.get(box.user["id"])
        if box is organizer or mailbox is None:
            continue
        _deliver(mailbox, copy, sender, {"@odata.type": _PLAIN, "meetingMessageType": "meetingCancelled"})


def send_response(
    state: SandboxState,
    store: CalendarStore,
    attendee: UserCalendars,
    event: dict[str, Any],
    response: str,
    comment: str,
    proposal: dict[str, Any] | None,
) -> None:
    """An attendee's answer to the organizer's Inbox (the organizer's copy is the message's event)."""
    found = next(((b, c) for b, c in store.copies(event) if c.get("isOrganizer")), None)
    if found is None:
        return
    organizer_box, organizer_event = found
    mailbox = state.mailboxes.get(organizer_box.user["id"])
    if mailbox is None:
        return
    kind, prefix = _ANSWERS[response]
    sender = {"emailAddress": {"name": attendee.user["displayName"], "address": attendee.user["mail"]}}
    _deliver(
        mailbox,
        organizer_event,
        sender,
        {
            "@odata.type": _RESPONSE,
            "meetingMessageType": kind,
            "responseType": response,
            "proposedNewTime": proposal,
        },
        subject=f"{prefix}: {organizer_event.get('subject', '')}",
        toRecipients=[_address(organizer_event["organizer"])],
        ccRecipients=[],
        body={"contentType": "text", "content": comment},
    )


def expand_event(
    state: SandboxState, box: Mailbox, message: Message, out: dict[str, Any], items_context: str
) -> dict[str, Any]:
    """``out`` with the meeting message's ``event`` (the copy in ``box``'s calendar); a message that is
    no meeting message is left as it is, as Graph ignores the cast for it."""
    link = message.get(LINK)
    if not link:
        return out
    store = calendars_of(state)
    calendar = store.users.get(box.user_id)
    event = next((e for e in calendar.events.values() if e["iCalUId"] == link), None) if calendar else None
    if event is None:
        return out
    message_ref = quote(str(message["id"]), safe="")
    out["event@odata.context"] = f"{items_context}('{message_ref}')/{EXPAND_EVENT}/$entity"
    out["event"] = store.render(event)
    return out
