"""Reading a watch's changes through its Graph delta query, with a cursor to resume from.

A cursor is the Graph link to read next (``@odata.deltaLink`` when caught up, ``@odata.nextLink``
mid-round, or the first request of a round) followed by a fragment the connector keeps for itself
(a fragment never goes to Graph)::

    https://graph.microsoft.com/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=...#since=1795411140.0

Created or updated? Graph's delta does not say: it returns the item as it is now. A cursor
remembers ``since``, when the round it reads began (a minute early, for clock skew between this
host and Graph); an item whose ``createdDateTime`` is at or after ``since`` is ``created``, an
older one ``updated``. A cursor without ``since`` (a backfill's first round) reports every item as
``created``. Limits of that rule: a message moved into the folder keeps its ``createdDateTime`` and is
reported ``updated`` (a webhook reports it created); ``triggers.processor`` delivers ``created`` once
per item whatever the source.

"From now": Outlook's message and calendar view delta have no ``$deltatoken=latest`` (Graph
documents it for directory resources only), so ``start_cursor`` runs the initial round page by page
(large pages) and discards the items: one pass over the folder or the calendar window.

A stale cursor (410 ``SyncStateNotFound``: Graph dropped the sync state) is resynced on the spot:
a new initial round whose items not modified since the old cursor's ``since`` are skipped; a
deletion that happened while the state was lost is not seen (an initial round has no ``@removed``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode

from connector.errors import GraphError
from connector.http import prefer_header

if TYPE_CHECKING:
    from connector.http import GraphClient
    from triggers.plan import Watch

log = logging.getLogger("outlook_connector.triggers")

DEFAULT_PAGE_SIZE = 100
"""Items per delta page asked for (``Prefer: odata.maxpagesize``)."""
CLOCK_SKEW = 60.0
"""Seconds a round's ``since`` is moved back, so an item created just as the round began counts as new."""
_STALE_CODES = {"syncstatenotfound", "syncstateinvalid", "resyncrequired"}


@dataclass(frozen=True)
class Change:
    """One change of one item, as a delta read (or a notification) saw it."""

    change_type: str
    """``created`` | ``updated`` | ``deleted`` (see the module docstring for created vs updated)."""
    resource_id: str
    change_key: str | None
    resource: dict[str, Any] | None
    """The item as delta returned it (None for deleted)."""


@dataclass(frozen=True)
class DeltaRead:
    changes: list[Change]
    cursor: str
    """The deltaLink (caught up) or nextLink (more pages remain) to resume from."""
    caught_up: bool
    pages: int = 0
    """Pages read."""
    items: int = 0
    """Items Graph returned (before the watch's change types were applied)."""


# -- cursors ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Cursor:
    link: str
    since: float | None = None
    floor: float | None = None
    """Resync: items not modified since then are skipped."""
    origin: str | None = None
    """The first request of the cursor's chain (where a stale cursor restarts)."""

    def text(self) -> str:
        fragment: dict[str, str] = {}
        if self.since is not None:
            fragment["since"] = f"{self.since:.3f}"
        if self.floor is not None:
            fragment["floor"] = f"{self.floor:.3f}"
        if self.origin is not None and self.origin != self.link:
            fragment["origin"] = self.origin
        return self.link + ("#" + urlencode(fragment) if fragment else "")

    @classmethod
    def parse(cls, text: str) -> _Cursor:
        link, _, fragment = text.partition("#")
        if not link:
            raise ValueError("empty delta cursor")
        values = dict(parse_qsl(fragment))
        since, floor = values.get("since"), values.get("floor")
        return cls(
            link,
            float(since) if since else None,
            float(floor) if floor else None,
            values.get("origin") or None,
        )


def first_link(watch: Watch, extra: Mapping[str, str] | None = None) -> str:
    """The first request of a round of ``watch``'s delta query (path and query, relative to Graph)."""
    params = {**watch.delta_params, **(extra or {})}
    if not params:
        return watch.delta_path
    return watch.delta_path + "?" + urlencode(params, safe="$:'", quote_via=quote)


def cursor_since(cursor: str) -> float | None:
    """When the round the cursor reads began (None: a backfill's first round)."""
    return _Cursor.parse(cursor).since


# -- reading ------------------------------------------------------------------------------------------
def start_cursor(client: GraphClient, watch: Watch, *, page_size: int = DEFAULT_PAGE_SIZE) -> str:
    """A cursor "from now": later reads return only changes made after this call.

    Runs the initial round to its delta link, discarding the items (no ``latest`` token exists
    for Outlook items)."""
    cursor = _Cursor(first_link(watch), since=time.time() - CLOCK_SKEW)
    while True:
        read = _read(client, watch, cursor, max_pages=None, page_size=page_size, keep=False)
        if read.caught_up:
            return read.cursor
        cursor = _Cursor.parse(read.cursor)


def backfill_cursor(client: GraphClient, watch: Watch, since: datetime | None) -> str:
    """A cursor whose reads return the existing items since ``since`` (None: everything) as
    created, then the changes after them.

    Messages: ``$filter=receivedDateTime ge {since}`` (the one filter message delta takes; Graph
    keeps it for the later rounds too, so changes to older messages are not seen afterwards).
    Events: the calendar view window starts at ``since`` (None: the watch's window). No request is
    sent: the first read sends it."""
    del client  # the cursor is the first request; kept in the signature for the contract
    extra: dict[str, str] = {}
    if since is not None:
        moment = _graph_time(since)
        if watch.item_kind == "event":
            extra["startDateTime"] = moment
        else:
            extra["$filter"] = f"receivedDateTime ge {moment}"
    link = first_link(watch, extra)
    return _Cursor(link, since=None, origin=link).text()


def read_changes(
    client: GraphClient,
    watch: Watch,
    cursor: str,
    *,
    max_pages: int | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
) -> DeltaRead:
    """The changes from ``cursor`` on: up to the delta link, or ``max_pages`` pages.

    Only the watch's change types are returned; the new cursor covers every item read."""
    return _read(client, watch, _Cursor.parse(cursor), max_pages=max_pages, page_size=page_size, keep=True)


def reanchor(watch: Watch, cursor: str) -> str | None:
    """For a caught-up calendar view cursor whose window is no longer the watch's (the window is
    anchored on the current day): a cursor over the watch's current window that returns what
    changed since the old cursor's round began (unchanged events are skipped, as in a resync).
    None when the window has not moved."""
    if watch.item_kind != "event":
        return None
    parsed = _Cursor.parse(cursor)
    current = first_link(watch)
    if parsed.origin is None or parsed.origin == current or parsed.since is None:
        return None
    return _Cursor(current, since=parsed.since, floor=parsed.since, origin=current).text()


def estimate_total(client: GraphClient, watch: Watch, since: datetime | None) -> int | None:
    """How many items a backfill from ``since`` will read (Graph's ``@odata.count`` of the same
    items), or None when Graph does not say."""
    try:
        if watch.item_kind == "message" and watch.delta_path.endswith("/delta"):
            params = {"$count": "true", "$top": "1", "$select": "id"}
            if since is not None:
                params["$filter"] = f"receivedDateTime ge {_graph_time(since)}"
            page = client.get_json(watch.delta_path.removesuffix("/delta"), params=params)
        elif watch.item_kind == "event" and watch.delta_path.endswith("/calendarView/delta"):
            params = {**watch.delta_params, "$count": "true", "$top": "1", "$select": "id"}
            if since is not None:
                params["startDateTime"] = _graph_time(since)
            page = client.get_json(watch.delta_path.removesuffix("/delta"), params=params)
        else:
            return None
    except GraphError as exc:
        log.info("no item count for %s: %s", watch.delta_path, exc.message)
        return None
    count = page.get("@odata.count")
    return count if isinstance(count, int) and count >= 0 else None


def _read(
    client: GraphClient,
    watch: Watch,
    cursor: _Cursor,
    *,
    max_pages: int | None,
    page_size: int,
    keep: bool,
) -> DeltaRead:
    headers = prefer_header(max_page_size=page_size)
    changes: list[Change] = []
    pages = items = 0
    while True:
        began = time.time()
        try:
            page = client.get_json(cursor.link, headers=headers)
        except GraphError as exc:
            if not _stale(exc):
                raise
            cursor = _resync(watch, cursor)
            continue
        pages += 1
        values = page.get("value")
        values = values if isinstance(values, list) else []
        items += len(values)
        if keep:
            changes.extend(_changes(values, watch, cursor))
        next_link, delta_link = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
        if isinstance(next_link, str) and next_link:
            if next_link == cursor.link:
                raise GraphError(
                    "Graph returned a nextLink pointing at the page just read", code="PagingLoop"
                )
            cursor = _Cursor(next_link, cursor.since, cursor.floor, cursor.origin or cursor.link)
            if max_pages is not None and pages >= max_pages:
                return DeltaRead(changes, cursor.text(), False, pages, items)
            continue
        if not isinstance(delta_link, str) or not delta_link:
            raise GraphError(
                "a delta page had neither @odata.nextLink nor @odata.deltaLink", code="InvalidResponse"
            )
        # the next round returns what changed after this page was asked for
        done = _Cursor(delta_link, since=began - CLOCK_SKEW, origin=cursor.origin or first_link(watch))
        return DeltaRead(changes, done.text(), True, pages, items)


def _stale(exc: GraphError) -> bool:
    return exc.status == 410 or (exc.code or "").lower() in _STALE_CODES


def _resync(watch: Watch, cursor: _Cursor) -> _Cursor:
    """After Graph lost the sync state: the chain's first request again, skipping unchanged items."""
    origin = cursor.origin or first_link(watch)
    if cursor.link == origin:
        raise GraphError(
            "Graph refused the first request of a delta round as a stale sync state",
            status=410,
            code="SyncStateNotFound",
        )
    log.warning(
        "delta sync state of %s expired: resyncing (deletions meanwhile are not seen)", watch.delta_path
    )
    floor = cursor.since if cursor.since is not None else cursor.floor
    return _Cursor(origin, since=cursor.since, floor=floor, origin=origin)


def _changes(values: list[Any], watch: Watch, cursor: _Cursor) -> list[Change]:
    found: list[Change] = []
    for item in values:
        if not isinstance(item, dict) or not item.get("id"):
            continue
        resource_id = str(item["id"])
        if "@removed" in item:
            change = Change("deleted", resource_id, None, None)
        else:
            if cursor.floor is not None and _before(item.get("lastModifiedDateTime"), cursor.floor):
                continue
            created = cursor.since is None or not _before(item.get("createdDateTime"), cursor.since)
            change = Change("created" if created else "updated", resource_id, _change_key(item), item)
        if change.change_type in watch.change_types:
            found.append(change)
    return found


def _change_key(item: Mapping[str, Any]) -> str | None:
    key = item.get("changeKey")
    if isinstance(key, str) and key:
        return key
    etag = item.get("@odata.etag")
    if isinstance(etag, str) and etag:
        return etag.removeprefix("W/").strip('"') or None
    return None


def _before(value: Any, moment: float) -> bool:
    """Whether a Graph timestamp is before ``moment`` (an unreadable one is not)."""
    if not isinstance(value, str) or not value:
        return False
    try:
        parsed = datetime.fromisoformat(_trim_fraction(value.replace("Z", "+00:00")))
    except ValueError:
        return False
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() < moment


def _trim_fraction(text: str) -> str:
    """Graph writes up to 7 fractional digits; Python reads up to 6."""
    head, dot, rest = text.partition(".")
    if not dot:
        return text
    digits = ""
    while rest and rest[0].isdigit():
        digits, rest = digits + rest[0], rest[1:]
    return f"{head}.{digits[:6]}{rest}"


def _graph_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
