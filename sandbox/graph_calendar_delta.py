"""calendarView delta: every event of the window (series expanded) at first, then only changes and
@removed; the window and the time of the last sync travel in the opaque tokens."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request

from sandbox.errors import GraphError
from sandbox.graph import (
    add_mailbox_routes,
    apply_page_size_preference,
    preferences,
)
from sandbox.graph_calendars import open_calendars, preferred_zone
from sandbox.graph_events import events_context, view_window

# -- calendarView delta ------------------------------------------------------------------------------------
_DELTA_PAGE = 10


def _token(state: dict[str, Any]) -> str:
    return str(
        base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")
    )


def _untoken(text: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        assert isinstance(state, dict) and {"s", "e", "t", "o", "n"} <= set(state)
    except (ValueError, AssertionError, binascii.Error):
        raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found.") from None
    return state


def calendar_view_delta(user_ref: str | None) -> Response:
    """Every event of the window (series expanded) at first, then only changes and @removed; the window
    and the time of the last sync travel in the opaque $skiptoken / $deltatoken."""
    state, owner, store, box = open_calendars(user_ref)
    prefs = preferences()
    page_size = prefs.max_page_size or _DELTA_PAGE
    apply_page_size_preference(prefs)
    zone, zone_name = preferred_zone()
    raw = request.args.get("$skiptoken") or request.args.get("$deltatoken")
    if raw:
        sync = _untoken(raw)
        if request.args.get("$deltatoken"):  # a new round: changes since that round's end
            sync = {**sync, "t": sync["n"], "o": 0, "n": stamp_precise(store.now())}
    else:
        begin, finish = view_window()
        sync = {
            "s": begin.isoformat(),
            "e": finish.isoformat(),
            "t": None,
            "o": 0,
            "n": stamp_precise(store.now()),
        }
    begin, finish = datetime.fromisoformat(sync["s"]), datetime.fromisoformat(sync["e"])
    since = datetime.fromisoformat(sync["t"]) if sync["t"] else None
    until = datetime.fromisoformat(sync["n"])
    with state.lock:
        changed: list[dict[str, Any]] = []
        for event in store.expand(box, box.default_calendar["id"], begin, finish):
            master = box.events.get(event.get("seriesMasterId") or event["id"], event)
            if master["_modified"] <= until and (since is None or master["_modified"] > since):
                changed.append(store.render(event, zone, zone_name))
        if since is not None:
            changed += [
                {"@odata.type": "#microsoft.graph.event", "id": event_id, "@removed": {"reason": "deleted"}}
                for event_id, when in sorted(box.removed.items(), key=lambda item: item[1])
                if since < when <= until
            ]
    offset = int(sync["o"])
    page = changed[offset : offset + page_size]
    # the window rides along in the links too (OpenAPI requires it on every call; the token decides)
    window = urlencode({"startDateTime": sync["s"], "endDateTime": sync["e"]})
    base = f"{request.base_url}?{window}&"
    body: dict[str, Any] = {"@odata.context": events_context(user_ref, owner, "events"), "value": page}
    if offset + page_size < len(changed):
        body["@odata.nextLink"] = f"{base}$skiptoken={_token({**sync, 'o': offset + page_size})}"
    else:
        body["@odata.deltaLink"] = f"{base}$deltatoken={_token({**sync, 'o': 0})}"
    return jsonify(body)


def stamp_precise(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, (("/calendarView/delta", "GET", calendar_view_delta),))
