"""The data sources (dropdowns) end to end on the sandbox, with both connection types: the options'
keys are ids the actions accept, search narrows, the cursor pages with no overlap and no gap, and each
call costs one Graph request (select_mail_folder: a bounded few) even in a mailbox of thousands."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actions.categories import COLOR_NAMES
from actions.select_mail import FOLDER_REQUESTS_PER_CALL
from connections.base import Connection
from connector.errors import InputValidationError
from connector.runtime import Runtime
from sandbox import seed
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.support.graph_conformance import CONTACTS_NOT_IN_OPENAPI
from tests.support.listener import Listener

MESSAGES_PER_USER = 2500


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    """This module's sandbox: a big mailbox (2,500 messages per user), to show calls stay one page."""
    config = SandboxConfig(messages_per_user=MESSAGES_PER_USER, http_notification_urls=True)
    with SandboxServer(config) as running:
        yield running


class Calls:
    """Runs a data source and counts the Graph requests each call sent (the sandbox's request log)."""

    def __init__(self, runtime: Runtime, connection: Connection, server: SandboxServer) -> None:
        self.runtime, self.connection, self.server = runtime, connection, server
        self.requests: list[int] = []

    def graph_requests(self) -> int:
        return sum(1 for r in self.server.state.request_log if r.path.startswith("/v1.0/"))

    def __call__(self, key: str, **inputs: Any) -> dict[str, Any]:
        before = self.graph_requests()
        out = self.runtime.run_data_source(key, inputs, self.connection)
        self.requests.append(self.graph_requests() - before)
        return out

    def pages(self, key: str, limit: int = 60, **inputs: Any) -> list[list[dict[str, Any]]]:
        """Every page, following the cursor (at most ``limit`` calls)."""
        pages: list[list[dict[str, Any]]] = []
        cursor = None
        for _ in range(limit):
            out = self(key, **inputs, **({"cursor": cursor} if cursor else {}))
            pages.append(out["options"])
            cursor = out["next_cursor"]
            if cursor is None:
                return pages
        raise AssertionError(f"{key} still had a next cursor after {limit} calls")


@pytest.fixture
def calls(runtime: Runtime, connection: Connection, server: SandboxServer) -> Calls:
    return Calls(runtime, connection, server)


def keys(options: list[dict[str, Any]]) -> list[str]:
    return [o["key"] for o in options]


def flat(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [option for page in pages for option in page]


# -- mail folders ---------------------------------------------------------------------------------------
def test_mail_folders_nested_with_full_paths_depth_first(
    calls: Calls, runtime: Runtime, connection: Connection
) -> None:
    pages = calls.pages("select_mail_folder", page_size=4)
    options = flat(pages)
    labels = [o["label"] for o in options]
    assert len(set(keys(options))) == len(options)  # no overlap between pages
    assert {"Inbox", "Inbox / Projects", "Inbox / Projects / Harbor Expansion", "Archive"} <= set(labels)
    # depth first: a folder's subfolders come right after it, before its next sibling
    inbox = labels.index("Inbox")
    assert labels[inbox + 1].startswith("Inbox / ")
    below_inbox = [label for label in labels if label.startswith("Inbox / ")]
    assert labels[inbox + 1 : inbox + 1 + len(below_inbox)] == below_inbox
    # no gap: every visible folder of the mailbox is there
    everything = runtime.run_action(
        "list_child_folders", {"folder_id": "msgfolderroot", "recursive": True}, connection
    )["folders"]
    assert sorted(labels) == sorted(f["path"].replace("/", " / ") for f in everything)
    assert all(0 < n <= FOLDER_REQUESTS_PER_CALL for n in calls.requests)
    assert all(len(page) == 4 for page in pages[:-1])

    # a key is a folder id the actions take
    harbor = next(o for o in options if o["label"] == "Inbox / Projects / Harbor Expansion")
    listed = runtime.run_action("list_messages", {"folder_id": harbor["key"], "top": 5}, connection)
    assert listed["messages"] and {m["parentFolderId"] for m in listed["messages"]} == {harbor["key"]}


def test_mail_folder_search_narrows_to_matching_paths(calls: Calls) -> None:
    options = flat(calls.pages("select_mail_folder", search="harbor"))
    assert [o["label"] for o in options] == ["Inbox / Projects / Harbor Expansion"]
    assert flat(calls.pages("select_mail_folder", search="no folder is called this")) == []


def test_a_big_folder_tree_costs_bounded_requests_per_call(
    calls: Calls, runtime: Runtime, connection: Connection
) -> None:
    """30 folders side by side, one of them 8 levels deep: every call stays within the bound, and the
    cursor grows with the depth of the tree, not its width."""
    wide = runtime.run_action("create_mail_folder", {"display_name": "Wide"}, connection)
    for index in range(30):
        runtime.run_action(
            "create_mail_folder",
            {"display_name": f"W{index:02d}", "parent_folder_id": wide["id"]},
            connection,
        )
    parent = runtime.run_action("create_mail_folder", {"display_name": "Deep"}, connection)["id"]
    for level in range(1, 9):
        parent = runtime.run_action(
            "create_mail_folder", {"display_name": f"L{level}", "parent_folder_id": parent}, connection
        )["id"]

    cursors: list[str] = []
    cursor = None
    options: list[dict[str, Any]] = []
    for _ in range(40):
        out = calls("select_mail_folder", page_size=10, **({"cursor": cursor} if cursor else {}))
        options += out["options"]
        cursor = out["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
    assert cursor is None
    labels = [o["label"] for o in options]
    assert len(labels) == len(set(keys(options)))
    assert {f"Wide / W{i:02d}" for i in range(30)} <= set(labels)
    assert "Deep / L1 / L2 / L3 / L4 / L5 / L6 / L7 / L8" in labels
    assert max(calls.requests) <= FOLDER_REQUESTS_PER_CALL
    assert max(len(c) for c in cursors) < 2500  # the stack of open folders (depth <= 9), not the 30 siblings


# -- messages ---------------------------------------------------------------------------------------------
def test_messages_one_request_per_page_in_a_mailbox_of_thousands(
    calls: Calls, runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    first = calls("select_message", page_size=25)
    second = calls("select_message", page_size=25, cursor=first["next_cursor"])
    assert calls.requests == [1, 1]  # one page each, never the 2,500 messages
    assert len(first["options"]) == len(second["options"]) == 25
    assert not set(keys(first["options"])) & set(keys(second["options"]))
    # no gap: the two pages are the newest 50 messages, in order
    newest = runtime.run_action(
        "list_messages", {"top": 50, "order_by": "receivedDateTime desc", "select": ["subject"]}, connection
    )["messages"]
    assert keys(first["options"]) + keys(second["options"]) == [m["id"] for m in newest]
    assert first["options"][0]["label"] == (newest[0].get("subject") or "(no subject)")
    total = runtime.run_action("list_messages", {"top": 1000}, connection)["count"]
    assert total == 1000 and first["next_cursor"] and second["next_cursor"]  # thousands remain

    key = first["options"][3]["key"]
    assert runtime.run_action("get_message", {"message_id": key}, connection)["id"] == key


def test_message_search_uses_outlook_search_and_folder(
    calls: Calls, runtime: Runtime, connection: Connection
) -> None:
    found = calls("select_message", search="invoice", page_size=10)
    assert calls.requests == [1]
    searched = runtime.run_action("list_messages", {"search": "invoice", "top": 10}, connection)["messages"]
    assert keys(found["options"]) == [m["id"] for m in searched] and searched
    inbox = calls("select_message", folder_id="inbox", page_size=5)
    for key in keys(inbox["options"]):
        got = runtime.run_action("get_message", {"message_id": key, "select": ["parentFolderId"]}, connection)
        assert got["parentFolderId"] == inbox_id(runtime, connection)


def inbox_id(runtime: Runtime, connection: Connection) -> str:
    return str(runtime.run_action("get_mail_folder", {"folder_id": "inbox"}, connection)["id"])


# -- calendars and events -----------------------------------------------------------------------------------
def test_calendars_keys_search_and_paging(calls: Calls, runtime: Runtime, connection: Connection) -> None:
    everything = calls("select_calendar")
    assert everything["next_cursor"] is None
    by_label = {o["label"]: o for o in everything["options"]}
    assert by_label["Calendar"]["description"] == "Default calendar"
    for option in everything["options"]:
        assert (
            runtime.run_action("get_calendar", {"calendar_id": option["key"]}, connection)["name"]
            == option["label"]
        )
    assert keys(calls("select_calendar", search="HARBOR")["options"]) == [by_label["Project Harbor"]["key"]]
    pages = calls.pages("select_calendar", page_size=1)
    assert keys(flat(pages)) == keys(everything["options"]) and len(pages) >= 2
    assert set(calls.requests) == {1}


def test_upcoming_events_in_the_window_soonest_first(
    calls: Calls, runtime: Runtime, connection: Connection
) -> None:
    now = datetime.now(UTC)
    first = calls("select_event", page_size=4)
    second = calls("select_event", page_size=4, cursor=first["next_cursor"])
    assert calls.requests == [1, 1]
    options = first["options"] + second["options"]
    assert len(options) == 8 and len(set(keys(options))) == 8
    starts = []
    for option in options:
        event = runtime.run_action("get_event", {"event_id": option["key"]}, connection)  # a real event id
        assert (event.get("subject") or "(no subject)") == option["label"]
        start = datetime.fromisoformat(event["start"]["dateTime"][:19]).replace(tzinfo=UTC)
        assert now - timedelta(days=1) <= start <= now + timedelta(days=30)
        starts.append(start)
    assert starts == sorted(starts)
    both = calls("select_event", page_size=8)
    assert keys(both["options"]) == keys(options)  # no gap between the pages

    standups = calls("select_event", search="stand-up", page_size=20)["options"]
    assert standups and all("stand-up" in o["label"].lower() for o in standups)
    soon = flat(calls.pages("select_event", days=2))
    assert len(soon) < len(flat(calls.pages("select_event", days=30)))


def test_events_of_one_calendar(calls: Calls, runtime: Runtime, connection: Connection) -> None:
    calendar = next(o for o in calls("select_calendar")["options"] if o["label"] == "Project Harbor")
    starts = datetime.now(UTC) + timedelta(days=2)
    created = runtime.run_action(
        "create_event",
        {
            "calendar_id": calendar["key"],
            "subject": "Harbor berth walk-through",
            "start": starts.strftime("%Y-%m-%dT%H:%M:%S"),
            "end": (starts + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
        },
        connection,
    )
    options = flat(calls.pages("select_event", calendar_id=calendar["key"]))
    assert created["id"] in keys(options)
    default = flat(calls.pages("select_event"))
    assert created["id"] not in keys(default)


# -- categories, contacts, languages, time zones ----------------------------------------------------------
def test_categories_are_names_the_actions_take(
    calls: Calls, runtime: Runtime, connection: Connection
) -> None:
    everything = calls("select_category", page_size=200)
    listed = runtime.run_action("list_categories", {}, connection)["categories"]
    assert keys(everything["options"]) == [c["displayName"] for c in listed]
    assert [o["description"] for o in everything["options"]] == [COLOR_NAMES[c["color"]] for c in listed]
    pages = calls.pages("select_category", page_size=2)
    assert keys(flat(pages)) == keys(everything["options"]) and all(len(p) == 2 for p in pages[:-1])
    assert set(calls.requests) == {1}
    found = calls("select_category", search="budg")["options"]
    assert keys(found) == ["Budget"]
    message = runtime.run_action("list_messages", {"top": 1}, connection)["messages"][0]
    tagged = runtime.run_action(
        "update_message", {"message_id": message["id"], "categories": keys(found)}, connection
    )
    assert tagged["categories"] == ["Budget"]


@CONTACTS_NOT_IN_OPENAPI
def test_contacts_search_and_paging(calls: Calls, runtime: Runtime, connection: Connection) -> None:
    everything = calls("select_contact", page_size=100)
    labels = [o["label"] for o in everything["options"]]
    assert labels == sorted(labels) and "Priya Ranganathan" in labels
    pages = calls.pages("select_contact", page_size=2)
    assert keys(flat(pages)) == keys(everything["options"])
    assert set(calls.requests) == {1}
    for term in ("pri", "Ranga"):  # display name, or first/last name
        found = calls("select_contact", search=term)["options"]
        assert [o["label"] for o in found] == ["Priya Ranganathan"]
        assert found[0]["description"] == "priya@cobalt.example · Cobalt Bay Foods"
    key = found[0]["key"]
    assert (
        runtime.run_action("get_contact", {"contact_id": key}, connection)["displayName"]
        == "Priya Ranganathan"
    )
    assert calls("select_contact", search="O'Brien")["options"] == []  # a quote is escaped, not an error


def test_languages(calls: Calls, runtime: Runtime, connection: Connection) -> None:
    everything = calls("select_language", page_size=200)["options"]
    listed = runtime.run_action("list_supported_languages", {}, connection)["languages"]
    assert keys(everything) == [language["locale"] for language in listed]
    assert "en-US" in keys(everything)
    pages = calls.pages("select_language", page_size=7)
    assert keys(flat(pages)) == keys(everything)
    assert set(calls.requests) == {1}
    german = calls("select_language", search="deutsch")["options"]
    assert german and all("deutsch" in o["label"].lower() for o in german)
    assert "de-DE" in keys(calls("select_language", search="de-de")["options"])


def test_time_zones_windows_and_iana(calls: Calls, runtime: Runtime, connection: Connection) -> None:
    windows = keys(calls("select_timezone", page_size=200)["options"])
    iana = keys(calls("select_timezone", format="Iana", page_size=200)["options"])
    assert "Pacific Standard Time" in windows and "America/Los_Angeles" in iana
    assert "America/Los_Angeles" not in windows
    assert set(calls.requests) == {1}
    pacific = calls("select_timezone", search="pacific")["options"]
    assert "Pacific Standard Time" in keys(pacific)
    pages = calls.pages("select_timezone", format="Iana", page_size=10)
    assert keys(flat(pages)) == iana
    # a key is a zone the actions take
    view = runtime.run_action(
        "list_calendar_view",
        {
            "start_date_time": datetime.now(UTC).strftime("%Y-%m-%dT00:00:00Z"),
            "end_date_time": (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT00:00:00Z"),
            "time_zone": "America/Los_Angeles",
            "top": 1,
        },
        connection,
    )
    assert view["events"][0]["start"]["timeZone"] == "America/Los_Angeles"


def test_a_cursor_from_other_inputs_is_refused_before_any_request(calls: Calls) -> None:
    first = calls("select_message", page_size=5)
    before = calls.graph_requests()
    with pytest.raises(InputValidationError) as caught:
        calls("select_message", page_size=5, search="invoice", cursor=first["next_cursor"])
    assert [e.path for e in caught.value.errors] == ["cursor"]
    with pytest.raises(InputValidationError):
        calls("select_contact", cursor=first["next_cursor"])
    assert calls.graph_requests() == before


# -- subscriptions -------------------------------------------------------------------------------------------
def test_subscriptions_of_the_app_with_their_resources(
    calls: Calls, runtime: Runtime, connection: Connection
) -> None:
    assert calls("select_subscription")["options"] == []
    mailbox = "me" if not connection.app_only else f"users/{seed.DEFAULT_USER}"
    expiry = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    created: dict[str, str] = {}
    with Listener() as listener:
        for resource in (f"{mailbox}/mailFolders('inbox')/messages", f"{mailbox}/events"):
            body = {
                "changeType": "created,updated",
                "notificationUrl": listener.url,
                "resource": resource,
                "expirationDateTime": expiry,
                "clientState": "secret-client-state",
            }
            request = {"method": "POST", "path": "/subscriptions", "body": body}
            created[runtime.run_action("raw_request", request, connection)["body"]["id"]] = resource
    other = calls("select_subscription")
    assert {o["key"]: o["label"] for o in other["options"]} == created
    assert other["next_cursor"] is None and calls.requests[-1] == 1
    expires = f"expires {expiry[:16].replace('T', ' ')} UTC"
    assert all(o["description"] == f"created,updated · {expires}" for o in other["options"])
    assert "secret-client-state" not in str(other)
    events = calls("select_subscription", search="EVENTS")["options"]
    assert [o["label"] for o in events] == [f"{mailbox}/events"]
    got = runtime.run_action("raw_request", {"path": f"/subscriptions/{events[0]['key']}"}, connection)
    assert got["body"]["resource"] == f"{mailbox}/events"  # the key is an id Graph takes
