"""Meeting verbs on events: cancel (organizer), accept / decline / tentativelyAccept, forward."""

from __future__ import annotations

from flask import Blueprint, Response

from sandbox import meeting_messages
from sandbox.calendar_store import (
    fmt,
    parse_date_time_time_zone,
    record_response,
)
from sandbox.errors import GraphError, bad_request, invalid_request_body
from sandbox.graph import (
    add_mailbox_routes,
    json_body,
    no_content,
)
from sandbox.graph_calendars import open_calendars
from sandbox.graph_events import cancel_copies, find_event

_RESPONSES = {"accept": "accepted", "decline": "declined", "tentativelyAccept": "tentativelyAccepted"}


def cancel_event(user_ref: str | None, event_ref: str) -> Response:
    state, _owner, store, box = open_calendars(user_ref, write=True)
    body = json_body(required=False) or {}
    if not isinstance(body, dict) or set(body) - {"comment", "Comment"}:
        raise bad_request("Invalid request.")
    with state.lock:
        event = find_event(store, box, event_ref)
        if not event["isOrganizer"]:
            raise GraphError(
                400,
                "ErrorAccessDenied",
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
            )
        cancel_copies(state, store, box, event)
        store.remove(box, event["id"])
    return no_content(202)


def _respond(user_ref: str | None, event_ref: str, verb: str) -> Response:
    state, _owner, store, box = open_calendars(user_ref, write=True)
    body = json_body(required=False) or {}
    if not isinstance(body, dict) or set(body) - {"comment", "sendResponse", "proposedNewTime"}:
        raise bad_request("Invalid request.")
    proposal = body.get("proposedNewTime")
    if proposal is not None:
        if verb == "accept":
            raise invalid_request_body("proposedNewTime", "accept")
        start, _zone = parse_date_time_time_zone(
            proposal.get("start") if isinstance(proposal, dict) else None, "Start"
        )
        end, _zone = parse_date_time_time_zone(proposal.get("end"), "End")
        if end <= start:
            raise GraphError(
                400, "ErrorInvalidRequest", "The proposed end time must be later than its start time."
            )
        proposal = {
            "start": {"dateTime": fmt(start), "timeZone": "UTC"},
            "end": {"dateTime": fmt(end), "timeZone": "UTC"},
        }
    with state.lock:
        event = find_event(store, box, event_ref)
        if event["isOrganizer"]:
            raise GraphError(
                400,
                "ErrorInvalidRequest",
                "Your request can't be completed. You can't respond to a meeting you organized.",
            )
        record_response(store, box, event, _RESPONSES[verb], proposal)
        if body.get("sendResponse", True) is not False:
            comment = str(body.get("comment") or "")
            meeting_messages.send_response(state, store, box, event, _RESPONSES[verb], comment, proposal)
        if verb == "decline":
            store.remove(box, event["id"])  # Outlook removes a declined meeting from the calendar
    return no_content(202)


def accept_event(user_ref: str | None, event_ref: str) -> Response:
    return _respond(user_ref, event_ref, "accept")


def decline_event(user_ref: str | None, event_ref: str) -> Response:
    return _respond(user_ref, event_ref, "decline")


def tentatively_accept_event(user_ref: str | None, event_ref: str) -> Response:
    return _respond(user_ref, event_ref, "tentativelyAccept")


def forward_event(user_ref: str | None, event_ref: str) -> Response:
    """The invitation goes to the recipients: in-tenant ones find the meeting in their calendar."""
    state, _owner, store, box = open_calendars(user_ref)  # Calendars.Read is enough (event-forward.md)
    body = json_body()
    names = {k.lower(): k for k in body} if isinstance(body, dict) else {}
    if not names or set(names) - {"torecipients", "comment"} or "torecipients" not in names:
        raise bad_request("The toRecipients property is required.", "ErrorInvalidRequest")
    recipients = body[names["torecipients"]]
    if not isinstance(recipients, list) or not recipients:
        raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
    with state.lock:
        event = find_event(store, box, event_ref)
        holders = {id(copy) for _b, copy in store.copies(event)}
        invited: set[str] = set()
        for recipient in recipients:
            address = str((recipient.get("emailAddress") or {}).get("address") or "")
            if "@" not in address:
                raise GraphError(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
            user = store.find_user(address)
            if user is None:
                continue  # outside the tenant: delivered by mail
            target = store.users[user["id"]]
            if not any(id(c) in holders for c in target.events.values()):
                store.copy_to(target, box.events.get(event.get("seriesMasterId") or event["id"], event))
                invited.add(user["id"])
        if invited:
            meeting_messages.send_requests(state, store, box, event, only=invited)
    return no_content(202)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(
        bp,
        (
            ("/events/<event_ref>/accept", "POST", accept_event),
            ("/events/<event_ref>/decline", "POST", decline_event),
            ("/events/<event_ref>/tentativelyAccept", "POST", tentatively_accept_event),
            ("/events/<event_ref>/cancel", "POST", cancel_event),
            ("/events/<event_ref>/forward", "POST", forward_event),
        ),
    )
