"""triggers.delta: cursors from now and for backfills, created/updated/deleted, change types, paging,
and a stale sync state resynced (sandbox for the real flows, httpx.MockTransport for Graph's 410)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from connections.base import Connection
from connections.sandbox import sandbox_connection
from connector.errors import GraphError
from connector.http import GraphClient
from connector.runtime import Runtime
from connector.store import Store
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from triggers import delta
from triggers.plan import Watch


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(http_notification_urls=True)) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(server: SandboxServer) -> None:
    server.state.reset()


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with Runtime(strict_output=True) as rt:
        yield rt


@pytest.fixture(params=["delegated", "app"])
def connection(request: pytest.FixtureRequest, server: SandboxServer, tmp_path: Path) -> Iterator[Connection]:
    with Store(tmp_path / "state.db") as store:
        yield sandbox_connection(store, server.url, request.param, name="delta")


def _watch(runtime: Runtime, connection: Connection, key: str = "webhook", **config: Any) -> Watch:
    config.setdefault("change_types", ["created", "updated", "deleted"])
    watch: Watch = runtime.trigger_plan(key, config, connection).watches[0]
    return watch


def _mailbox(watch: Watch) -> str:
    return watch.delta_path.split("/mailFolders/")[0].split("/calendarView/")[0]


def test_start_cursor_reads_nothing_old_then_each_kind_of_change(
    runtime: Runtime, connection: Connection
) -> None:
    client = runtime.client_for(connection)
    watch = _watch(runtime, connection)
    cursor = delta.start_cursor(client, watch, page_size=50)
    quiet = delta.read_changes(client, watch, cursor)
    assert quiet.changes == [] and quiet.caught_up

    mailbox = _mailbox(watch)
    old = client.get_json(f"{mailbox}/mailFolders/inbox/messages", params={"$top": "1"})["value"][0]
    new = client.post_json(f"{mailbox}/mailFolders/inbox/messages", {"subject": "fresh"})
    client.patch_json(f"{mailbox}/messages/{old['id']}", {"isRead": not old["isRead"]})
    read = delta.read_changes(client, watch, quiet.cursor)
    kinds = {c.resource_id: c.change_type for c in read.changes}
    assert kinds == {new["id"]: "created", old["id"]: "updated"}
    fresh = next(c for c in read.changes if c.resource_id == new["id"])
    assert fresh.resource is not None and fresh.resource["subject"] == "fresh" and fresh.change_key

    client.delete(f"{mailbox}/messages/{new['id']}")
    gone = delta.read_changes(client, watch, read.cursor)
    assert [(c.change_type, c.resource_id, c.resource) for c in gone.changes] == [
        ("deleted", new["id"], None)
    ]


def test_only_the_watched_change_types_come_back(runtime: Runtime, connection: Connection) -> None:
    client = runtime.client_for(connection)
    watch = _watch(runtime, connection, change_types=["created"])
    cursor = delta.start_cursor(client, watch)
    mailbox = _mailbox(watch)
    old = client.get_json(f"{mailbox}/mailFolders/inbox/messages", params={"$top": "1"})["value"][0]
    client.patch_json(f"{mailbox}/messages/{old['id']}", {"isRead": not old["isRead"]})
    new = client.post_json(f"{mailbox}/mailFolders/inbox/messages", {"subject": "only me"})
    read = delta.read_changes(client, watch, cursor)
    assert [(c.change_type, c.resource_id) for c in read.changes] == [("created", new["id"])]
    assert read.items == 2  # the update was read, and left out


def test_backfill_cursor_reads_the_range_as_created_in_pages(
    runtime: Runtime, connection: Connection
) -> None:
    client = runtime.client_for(connection)
    watch = _watch(runtime, connection)
    since = datetime.now(UTC) - timedelta(days=30)
    total = delta.estimate_total(client, watch, since)
    everything = delta.estimate_total(client, watch, None)
    assert total is not None and everything is not None and 20 < total < everything
    cursor = delta.backfill_cursor(client, watch, since)
    seen: list[delta.Change] = []
    reads = 0
    while True:
        read = delta.read_changes(client, watch, cursor, max_pages=1, page_size=20)
        reads += 1
        seen.extend(read.changes)
        cursor = read.cursor
        assert read.pages == 1
        if read.caught_up:
            break
    assert len(seen) == total == len({c.resource_id for c in seen}) and reads == -(-total // 20)
    assert {c.change_type for c in seen} == {"created"}
    assert all(
        datetime.fromisoformat(c.resource["receivedDateTime"].replace("Z", "+00:00"))
        >= since - timedelta(seconds=1)
        for c in seen
        if c.resource
    )
    assert delta.read_changes(client, watch, cursor).changes == []


def test_calendar_view_delta_backfill_and_changes(runtime: Runtime, connection: Connection) -> None:
    client = runtime.client_for(connection)
    watch = _watch(runtime, connection, resource="events", days_back=7, days_ahead=60)
    assert watch.delta_params["startDateTime"].endswith("T00:00:00Z")
    total = delta.estimate_total(client, watch, None)
    read = delta.read_changes(client, watch, delta.backfill_cursor(client, watch, None), page_size=500)
    assert (
        read.caught_up and len(read.changes) == total and {c.change_type for c in read.changes} == {"created"}
    )
    made = client.post_json(
        f"{_mailbox(watch)}/events",
        {
            "subject": "window",
            "start": {"dateTime": _day(watch, 3) + "T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": _day(watch, 3) + "T09:30:00", "timeZone": "UTC"},
        },
    )
    after = delta.read_changes(client, watch, read.cursor)
    assert [(c.change_type, c.resource_id) for c in after.changes] == [("created", made["id"])]


def _day(watch: Watch, offset: int) -> str:
    start = datetime.fromisoformat(watch.delta_params["startDateTime"].replace("Z", "+00:00"))
    return (start + timedelta(days=offset)).strftime("%Y-%m-%d")


# -- Graph at the HTTP boundary ----------------------------------------------------------------------
BASE = "https://graph.microsoft.com/v1.0"
WATCH = Watch(
    resource="me/mailFolders('inbox')/messages",
    change_types=("created", "updated", "deleted"),
    item_kind="message",
    delta_path="/me/mailFolders/inbox/messages/delta",
)


def _graph(handler: Callable[[httpx.Request], httpx.Response]) -> GraphClient:
    return GraphClient(BASE, transport=httpx.MockTransport(handler), sleep=lambda _: None)


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(ident: str, created: float, modified: float) -> dict[str, Any]:
    return {
        "id": ident,
        "changeKey": f"ck-{ident}-{int(modified)}",
        "createdDateTime": _stamp(created),
        "lastModifiedDateTime": _stamp(modified),
    }


def test_created_or_updated_follows_the_round_start_and_the_fragment_never_reaches_graph() -> None:
    now = time.time()
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        body = {
            "value": [
                _message("new", now + 5, now + 5),
                _message("old", now - 86400, now + 5),
                {"id": "gone", "@removed": {"reason": "deleted"}},
            ],
            "@odata.deltaLink": f"{BASE}/me/mailFolders/inbox/messages/delta?$deltatoken=t2",
        }
        return httpx.Response(200, json=body)

    client = _graph(handler)
    cursor = f"{BASE}/me/mailFolders/inbox/messages/delta?$deltatoken=t1#since={now - 60:.3f}"
    read = delta.read_changes(client, WATCH, cursor)
    assert [(c.change_type, c.resource_id) for c in read.changes] == [
        ("created", "new"),
        ("updated", "old"),
        ("deleted", "gone"),
    ]
    assert "#" not in str(sent[0].url) and sent[0].url.params["$deltatoken"] == "t1"
    assert sent[0].headers["Prefer"] == f"odata.maxpagesize={delta.DEFAULT_PAGE_SIZE}"
    assert read.cursor.startswith(f"{BASE}/me/mailFolders/inbox/messages/delta?$deltatoken=t2#")
    since = delta.cursor_since(read.cursor)
    assert since is not None and since >= now - delta.CLOCK_SKEW - 1


def test_a_stale_sync_state_is_resynced_skipping_what_did_not_change() -> None:
    now = time.time()
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url))
        if "$deltatoken=expired" in str(request.url):
            error = {
                "error": {"code": "SyncStateNotFound", "message": "The sync state generation is not found."}
            }
            return httpx.Response(410, json=error)
        assert request.url.path.endswith("/messages/delta") and "$deltatoken" not in str(request.url)
        body = {
            "value": [
                _message("untouched", now - 86400 * 3, now - 86400),
                _message("edited", now - 86400 * 3, now - 10),
                _message("arrived", now - 10, now - 10),
            ],
            "@odata.deltaLink": f"{BASE}/me/mailFolders/inbox/messages/delta?$deltatoken=fresh",
        }
        return httpx.Response(200, json=body)

    cursor = f"{BASE}/me/mailFolders/inbox/messages/delta?$deltatoken=expired#since={now - 3600:.3f}"
    read = delta.read_changes(_graph(handler), WATCH, cursor)
    assert [(c.change_type, c.resource_id) for c in read.changes] == [
        ("updated", "edited"),
        ("created", "arrived"),
    ]
    assert len(asked) == 2 and read.caught_up and "$deltatoken=fresh" in read.cursor


def test_a_refused_first_request_is_an_error_not_a_loop() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(410, json={"error": {"code": "SyncStateNotFound", "message": "gone"}})

    with pytest.raises(GraphError) as caught:
        delta.start_cursor(_graph(handler), WATCH)
    assert caught.value.status == 410 and calls == 1


def test_backfill_cursor_asks_graph_for_the_range_only() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json={"value": [], "@odata.deltaLink": f"{BASE}/x/delta?$deltatoken=a"})

    client = _graph(handler)
    since = datetime(2026, 10, 24, tzinfo=UTC)
    cursor = delta.backfill_cursor(client, WATCH, since)
    assert requests == []  # the first read sends it
    delta.read_changes(client, WATCH, cursor)
    assert requests[0].url.params["$filter"] == "receivedDateTime ge 2026-10-24T00:00:00Z"
    events = Watch(
        "me/events",
        ("created",),
        "event",
        "/me/calendarView/delta",
        {"startDateTime": "a", "endDateTime": "b"},
    )
    delta.read_changes(client, events, delta.backfill_cursor(client, events, since))
    assert requests[1].url.params["startDateTime"] == "2026-10-24T00:00:00Z"
    assert requests[1].url.params["endDateTime"] == "b"


def test_a_page_without_links_is_refused() -> None:
    client = _graph(lambda request: httpx.Response(200, content=json.dumps({"value": []}).encode()))
    with pytest.raises(GraphError, match="neither"):
        delta.read_changes(client, WATCH, "/me/mailFolders/inbox/messages/delta")


def test_a_moved_calendar_window_is_reanchored_with_only_what_changed(
    runtime: Runtime, connection: Connection
) -> None:
    """The window follows the day: the next window's cursor returns the changes since the old
    cursor's round, not every event the new window holds."""
    client = runtime.client_for(connection)
    narrow = _watch(runtime, connection, resource="events", days_back=0, days_ahead=3)
    wide = _watch(runtime, connection, resource="events", days_back=0, days_ahead=60)
    cursor = delta.start_cursor(client, narrow)
    assert delta.reanchor(narrow, cursor) is None
    in_both = _event(client, narrow, 1, "in both windows")
    only_wide = _event(client, narrow, 30, "only in the new window")
    caught = delta.read_changes(client, narrow, cursor)
    assert [c.resource_id for c in caught.changes] == [in_both]
    moved = delta.reanchor(wide, caught.cursor)
    assert moved is not None
    everything = delta.estimate_total(client, wide, None)
    read = delta.read_changes(client, wide, moved)
    assert everything is not None and everything > 2  # the new window holds older events too...
    assert sorted(c.resource_id for c in read.changes) == sorted([in_both, only_wide])  # ...not delivered
    assert {c.change_type for c in read.changes} == {"created"}
    assert delta.reanchor(wide, read.cursor) is None


def _event(client: GraphClient, watch: Watch, day: int, subject: str) -> str:
    date = _day(watch, day)
    made = client.post_json(
        f"{_mailbox(watch)}/events",
        {
            "subject": subject,
            "start": {"dateTime": f"{date}T08:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"{date}T08:30:00", "timeZone": "UTC"},
        },
    )
    return str(made["id"])


def test_sandbox_message_delta_takes_only_graph_s_received_filter(
    runtime: Runtime, connection: Connection
) -> None:
    client = runtime.client_for(connection)
    watch = _watch(runtime, connection)
    with pytest.raises(GraphError) as caught:
        client.get_json(watch.delta_path, params={"$filter": "subject eq 'x'"})
    assert caught.value.status == 400 and "receivedDateTime" in caught.value.message
    later = client.get_json(watch.delta_path, params={"$filter": "receivedDateTime gt 2999-01-01T00:00:00Z"})
    assert later["value"] == [] and "@odata.deltaLink" in later
    client.post_json(
        watch.delta_path.removesuffix("/delta"), {"subject": "now"}
    )  # received now: still filtered
    assert client.get_json(later["@odata.deltaLink"])["value"] == []
