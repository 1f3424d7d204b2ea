"""Event attachments (list, add, get, delete), dismissReminder / snoozeReminder, permanentDelete of an
event, and the calendar groups (the one "My Calendars" group holding every calendar)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response

from sandbox import attachment_model
from sandbox.calendar_store import CalendarStore, UserCalendars, parse_date_time_time_zone
from sandbox.errors import GraphError, bad_request, id_malformed, item_not_found
from sandbox.graph import (
    add_mailbox_routes,
    collection,
    context_url,
    entity,
    json_body,
    no_content,
    user_segment,
)
from sandbox.graph_calendars import open_calendars
from sandbox.ids import looks_like_graph_id

_ATTACHMENTS = "_attachments"


def _event(store: CalendarStore, box: UserCalendars, ref: str) -> dict[str, Any]:
    """A stored event (series master or single instance; an occurrence cannot hold attachments)."""
    event = box.events.get(ref)
    if event is not None:
        return event
    if store.find_event(box, ref) is not None:
        raise GraphError(400, "ErrorInvalidRequest", "This operation is not supported on an occurrence.")
    raise id_malformed() if not looks_like_graph_id(ref) else item_not_found()


def _attachments_context(
    user_ref: str | None, owner: dict[str, Any], event_id: str, one: bool = False
) -> str:
    where = f"{user_segment(user_ref, owner)}/events('{quote(event_id, safe='')}')/attachments"
    return context_url(where + ("/$entity" if one else ""))


# -- attachments ---------------------------------------------------------------------------------------------
def list_event_attachments(user_ref: str | None, event_ref: str) -> Response:
    state, owner, store, box = open_calendars(user_ref)
    with state.lock:
        event = _event(store, box, event_ref)
        values = [attachment_model.render(a) for a in event.get(_ATTACHMENTS) or []]
    return collection(_attachments_context(user_ref, owner, event["id"]), values)


def add_event_attachment(user_ref: str | None, event_ref: str) -> Response:
    state, owner, store, box = open_calendars(user_ref, write=True)
    payload = json_body()
    with state.lock:
        event = _event(store, box, event_ref)
        ids = state.mailbox(owner["id"]).ids
        attachment = attachment_model.attachment_from_payload(payload, ids, event["id"])
        event[_ATTACHMENTS] = [*(event.get(_ATTACHMENTS) or []), attachment]
        event["hasAttachments"] = any(not a.get("isInline") for a in event[_ATTACHMENTS])
        store.touch(event)
    return entity(
        _attachments_context(user_ref, owner, event["id"], True), attachment_model.render(attachment), 201
    )


def _find_attachment(event: dict[str, Any], attachment_id: str) -> dict[str, Any]:
    for attachment in event.get(_ATTACHMENTS) or []:
        if attachment["id"] == attachment_id:
            return dict(attachment)
    raise item_not_found()


def get_event_attachment(user_ref: str | None, event_ref: str, attachment_id: str) -> Response:
    state, owner, store, box = open_calendars(user_ref)
    with state.lock:
        event = _event(store, box, event_ref)
        attachment = _find_attachment(event, attachment_id)
    return entity(
        _attachments_context(user_ref, owner, event["id"], True), attachment_model.render(attachment)
    )


def delete_event_attachment(user_ref: str | None, event_ref: str, attachment_id: str) -> Response:
    state, _owner, store, box = open_calendars(user_ref, write=True)
    with state.lock:
        event = _event(store, box, event_ref)
        _find_attachment(event, attachment_id)
        event[_ATTACHMENTS] = [a for a in event.get(_ATTACHMENTS) or [] if a["id"] != attachment_id]
        event["hasAttachments"] = any(not a.get("isInline") for a in event[_ATTACHMENTS])
        store.touch(event)
    return no_content()


# -- reminders and permanentDelete ---------------------------------------------------------------------
def dismiss_reminder(user_ref: str | None, event_ref: str) -> Response:
    state, _owner, store, box = open_calendars(user_ref, write=True)
    with state.lock:
        event = _event(store, box, event_ref)
        if event.get("isReminderOn"):
            event["isReminderOn"] = False
            store.touch(event)
    return no_content(200)


def snooze_reminder(user_ref: str | None, event_ref: str) -> Response:
    state, _owner, store, box = open_calendars(user_ref, write=True)
    payload = json_body()
    if not isinstance(payload, dict) or "newReminderTime" not in payload:
        raise bad_request("The newReminderTime parameter is required.", "ErrorInvalidParameter")
    when, _zone = parse_date_time_time_zone(payload["newReminderTime"], "NewReminderTime")
    with state.lock:
        event = _event(store, box, event_ref)
        minutes = max(0, int((event["_start"] - when) / timedelta(minutes=1)))
        event["isReminderOn"] = True
        event["reminderMinutesBeforeStart"] = minutes
        store.touch(event)
    return no_content(200)


def permanent_delete_event(user_ref: str | None, event_ref: str) -> Response:
    """The event is gone at once (not kept in Deleted Items); a meeting's attendees are not told."""
    state, _owner, store, box = open_calendars(user_ref, write=True)
    with state.lock:
        event = _event(store, box, event_ref)
        store.remove(box, event["id"])
    return no_content()


# -- calendar groups -------------------------------------------------------------------------------------
_CLASS_ID = "0006f0b7-0000-0000-c000-000000000046"


def _group(box: UserCalendars) -> dict[str, Any]:
    return {
        "id": box.default_calendar["id"][:-8] + "GROUP==",
        "name": "My Calendars",
        "classId": str(uuid.UUID(_CLASS_ID)),
        "changeKey": box.default_calendar["changeKey"],
    }


def list_groups(user_ref: str | None) -> Response:
    state, owner, _store, box = open_calendars(user_ref)
    with state.lock:
        group = _group(box)
    return collection(context_url(f"{user_segment(user_ref, owner)}/calendarGroups"), [group])


def _find_group(box: UserCalendars, group_id: str) -> dict[str, Any]:
    group = _group(box)
    if group_id != group["id"]:
        raise id_malformed() if not looks_like_graph_id(group_id) else item_not_found()
    return group


def get_group(user_ref: str | None, group_id: str) -> Response:
    state, owner, _store, box = open_calendars(user_ref)
    with state.lock:
        group = _find_group(box, group_id)
    return entity(context_url(f"{user_segment(user_ref, owner)}/calendarGroups/$entity"), group)


def list_group_calendars(user_ref: str | None, group_id: str) -> Response:
    state, owner, _store, box = open_calendars(user_ref)
    with state.lock:
        _find_group(box, group_id)
        values = sorted((dict(c) for c in box.calendars.values()), key=lambda c: not c["isDefaultCalendar"])
    where = f"{user_segment(user_ref, owner)}/calendarGroups('{quote(group_id, safe='')}')/calendars"
    return collection(context_url(where), values)


_ROUTES = (
    ("/events/<event_ref>/attachments", "GET", list_event_attachments),
    ("/events/<event_ref>/attachments", "POST", add_event_attachment),
    ("/events/<event_ref>/attachments/<attachment_id>", "GET", get_event_attachment),
    ("/events/<event_ref>/attachments/<attachment_id>", "DELETE", delete_event_attachment),
    ("/events/<event_ref>/dismissReminder", "POST", dismiss_reminder),
    ("/events/<event_ref>/snoozeReminder", "POST", snooze_reminder),
    ("/events/<event_ref>/permanentDelete", "POST", permanent_delete_event),
    ("/calendarGroups", "GET", list_groups),
    ("/calendarGroups/<group_id>", "GET", get_group),
    ("/calendarGroups/<group_id>/calendars", "GET", list_group_calendars),
)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
