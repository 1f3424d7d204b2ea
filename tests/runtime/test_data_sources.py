"""Data sources at the HTTP boundary (httpx.MockTransport): the cursor's errors, the request bound of
the folder walk, select_subscription's paging, and the manifest/export wiring."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from actions.select_mail import FOLDER_REQUESTS_PER_CALL, SelectMailFolderInput
from actions.select_mailbox import SelectContactInput
from connector.errors import ConfigurationError, GraphError, InputValidationError
from connector.export import export_manifest
from connector.runtime import Runtime
from tests.runtime.conftest import FakeGraph, StaticConnection
from tests.support.graph_conformance import CONTACTS_NOT_IN_OPENAPI

GRAPH = "https://graph.microsoft.com/v1.0"


def page(items: list[dict[str, Any]], next_link: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"value": items}
    if next_link:
        body["@odata.nextLink"] = next_link
    return httpx.Response(200, json=body)


def cursor_of(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def query(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}


# -- cursor errors: a clear input error naming `cursor`, before any request ------------------------------
@pytest.mark.parametrize(
    ("cursor", "reason"),
    [
        ("not a cursor!", "is not a cursor this data source returned"),
        ("eyJ2Ijo", "is not a cursor this data source returned"),  # cut short
        (cursor_of([1, 2]), "is not a cursor this data source returned"),
        (cursor_of({"v": 99, "f": "x"}), "is not a cursor this data source returned"),
        (
            cursor_of({"v": 1, "f": "0123456789abcdef", "next": "/me/messages"}),
            "another data source or other",
        ),
    ],
)
def test_a_bad_cursor_is_an_input_error_naming_cursor(
    runtime: Runtime, connection: StaticConnection, graph: FakeGraph, cursor: str, reason: str
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_data_source("select_message", {"cursor": cursor}, connection)
    [error] = caught.value.errors
    assert error.path == "cursor" and reason in error.reason and "without a cursor" in error.reason
    assert graph.requests == []


@CONTACTS_NOT_IN_OPENAPI
def test_a_cursor_only_works_with_the_inputs_and_data_source_it_came_from(
    runtime: Runtime, connection: StaticConnection, graph: FakeGraph
) -> None:
    graph.handler = lambda request: page([{"id": "c1", "displayName": "Ada"}], f"{GRAPH}/me/contacts?$skip=1")
    first = runtime.run_data_source("select_contact", {"search": "ad", "page_size": 1}, connection)
    cursor = first["next_cursor"]
    assert cursor
    for other in (
        ("select_contact", {"search": "bo", "cursor": cursor}),  # another search
        ("select_contact", {"search": "ad", "user_id": "x@contoso.com", "cursor": cursor}),  # mailbox
        ("select_calendar", {"search": "ad", "cursor": cursor}),  # another data source
    ):
        with pytest.raises(InputValidationError) as caught:
            runtime.run_data_source(other[0], other[1], connection)
        assert [e.path for e in caught.value.errors] == ["cursor"]
    assert len(graph.requests) == 1
    # the page size may change; the cursor still works and follows Graph's nextLink as given
    runtime.run_data_source("select_contact", {"search": "ad", "page_size": 5, "cursor": cursor}, connection)
    assert str(graph.requests[-1].url) == f"{GRAPH}/me/contacts?$skip=1"


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"stack": []},
        {"stack": "inbox"},
        {"stack": [["id", "Inbox", -1]]},
        {"stack": [["id", "Inbox", True]]},
        {"stack": [[None, "", 0], [None, "", 0]]},
        {"stack": [["id", 3, 0]]},
    ],
)
def test_a_damaged_folder_cursor_is_refused_before_any_request(
    runtime: Runtime, connection: StaticConnection, graph: FakeGraph, state: dict[str, Any]
) -> None:
    cursor = SelectMailFolderInput().next_cursor(state)  # well bound, but its state is not a walk's
    with pytest.raises(InputValidationError) as caught:
        runtime.run_data_source("select_mail_folder", {"cursor": cursor}, connection)
    assert [e.path for e in caught.value.errors] == ["cursor"]
    assert "damaged" in caught.value.errors[0].reason
    assert graph.requests == []


def test_a_damaged_offset_cursor_is_refused(
    runtime: Runtime, connection: StaticConnection, graph: FakeGraph
) -> None:
    from actions.select_mailbox import SelectLanguageInput

    for state in ({"offset": "10"}, {"offset": -5}, {"offset": False}):
        cursor = SelectLanguageInput().next_cursor(state)
        with pytest.raises(InputValidationError) as caught:
            runtime.run_data_source("select_language", {"cursor": cursor}, connection)
        assert [e.path for e in caught.value.errors] == ["cursor"]


def test_a_cursor_never_sends_the_token_to_another_host(
    runtime: Runtime, connection: StaticConnection, graph: FakeGraph
) -> None:
    cursor = SelectContactInput().next_cursor({"next": "https://attacker.example/v1.0/me/contacts"})
    with pytest.raises(GraphError) as caught:
        runtime.run_data_source("select_contact", {"cursor": cursor}, connection)
    assert caught.value.code == "UntrustedHost"
    assert graph.requests == []


@CONTACTS_NOT_IN_OPENAPI
def test_blank_search_is_no_search(runtime: Runtime, connection: StaticConnection, graph: FakeGraph) -> None:
    graph.handler = lambda request: page([])
    runtime.run_data_source("select_contact", {"search": "   "}, connection)
    assert "$filter" not in query(graph.requests[0])


def test_unknown_data_source(runtime: Runtime, connection: StaticConnection) -> None:
    with pytest.raises(ConfigurationError, match="data-sources list"):
        runtime.run_data_source("select_nothing", {}, connection)


# -- the folder walk's bound -----------------------------------------------------------------------------
def test_an_endless_folder_tree_costs_at_most_the_bound_per_call(
    runtime: Runtime, connection: StaticConnection, graph: FakeGraph
) -> None:
    """Every folder has subfolders, forever: each call still stops after the bound, and resumes."""
    counter = iter(range(10_000))

    def answer(request: httpx.Request) -> httpx.Response:
        top = int(query(request)["$top"])
        return page(
            [{"id": f"f{next(counter)}", "displayName": "Sub", "childFolderCount": 3} for _ in range(top)],
            f"{GRAPH}/more",
        )

    graph.handler = answer
    out = runtime.run_data_source("select_mail_folder", {"page_size": 50}, connection)
    assert len(graph.requests) == FOLDER_REQUESTS_PER_CALL
    assert [o["label"] for o in out["options"]] == [
        "Sub",
        "Sub / Sub",
        "Sub / Sub / Sub",
        "Sub / Sub / Sub / Sub",
    ]
    runtime.run_data_source("select_mail_folder", {"page_size": 50, "cursor": out["next_cursor"]}, connection)
    assert len(graph.requests) == 2 * FOLDER_REQUESTS_PER_CALL
    # it resumed below the fourth folder, then went on down
    deepest = out["options"][-1]["key"]
    assert graph.requests[FOLDER_REQUESTS_PER_CALL].url.path == f"/v1.0/me/mailFolders/{deepest}/childFolders"


def test_a_wide_folder_level_is_paged_with_skip(
    runtime: Runtime, connection: StaticConnection, graph: FakeGraph
) -> None:
    folders = [{"id": f"f{i:04d}", "displayName": f"F{i:04d}", "childFolderCount": 0} for i in range(1000)]

    def answer(request: httpx.Request) -> httpx.Response:
        options = query(request)
        skip, top = int(options.get("$skip", 0)), int(options["$top"])
        more = f"{GRAPH}/me/mailFolders?$skip={skip + top}" if skip + top < len(folders) else None
        return page(folders[skip : skip + top], more)

    graph.handler = answer
    first = runtime.run_data_source("select_mail_folder", {"page_size": 30}, connection)
    second = runtime.run_data_source(
        "select_mail_folder", {"page_size": 30, "cursor": first["next_cursor"]}, connection
    )
    assert len(graph.requests) == 2
    assert query(graph.requests[1])["$skip"] == "30"
    assert [o["key"] for o in first["options"] + second["options"]] == [f["id"] for f in folders[:60]]
    assert len(second["next_cursor"]) < 200  # the cursor holds offsets, not the 1,000 folders


# -- subscriptions (MockTransport; the e2e test runs on the sandbox) -------------------------------------
def test_select_subscription_pages_with_graphs_next_link_and_filters_the_page(
    runtime: Runtime, connection: StaticConnection, graph: FakeGraph
) -> None:
    def subscription(number: int, resource: str) -> dict[str, Any]:
        return {
            "id": f"sub-{number}",
            "resource": resource,
            "changeType": "created,updated",
            "expirationDateTime": "2026-12-01T00:00:00Z",
            "clientState": "never-shown",
        }

    def answer(request: httpx.Request) -> httpx.Response:
        if "$skiptoken" in query(request):
            return page([subscription(3, "me/events")])
        return page(
            [subscription(1, "me/mailFolders('inbox')/messages"), subscription(2, "me/contacts")],
            f"{GRAPH}/subscriptions?$skiptoken=abc",
        )

    graph.handler = answer
    first = runtime.run_data_source("select_subscription", {}, connection)
    assert query(graph.requests[0]) == {}  # /subscriptions takes no $top or $select
    assert first["options"][0] == {
        "key": "sub-1",
        "label": "me/mailFolders('inbox')/messages",
        "description": "created,updated · expires 2026-12-01 00:00 UTC",
    }
    assert "never-shown" not in json.dumps(first)
    second = runtime.run_data_source("select_subscription", {"cursor": first["next_cursor"]}, connection)
    assert [o["key"] for o in second["options"]] == ["sub-3"] and second["next_cursor"] is None
    found = runtime.run_data_source("select_subscription", {"search": "CONTACTS"}, connection)
    assert [o["key"] for o in found["options"]] == ["sub-2"]
    assert len(graph.requests) == 3


# -- manifest and export ---------------------------------------------------------------------------------
def test_every_mapping_names_an_input_and_a_data_source(runtime: Runtime) -> None:
    manifest = runtime.manifest
    mapped = 0
    for action in manifest.actions.values():
        properties = action.schema("input_schema")["properties"]
        for field, source in (action.get("data_sources") or {}).items():
            assert field in properties, f"{action.key}.{field}"
            assert source in manifest.data_sources
            mapped += 1
    assert mapped >= 60
    for entry in manifest.data_sources.values():
        assert entry.schema("output_schema")["required"] == ["options", "next_cursor"]
        assert {"search", "cursor", "page_size"} <= set(entry.schema("input_schema")["properties"])


def test_export_inlines_data_source_schemas_and_action_mappings(runtime: Runtime) -> None:
    exported = export_manifest(runtime.manifest)
    sources = {s["key"]: s for s in exported["data_sources"]}
    assert len(sources) == 9
    folder = sources["select_mail_folder"]
    assert folder["input_schema"]["properties"]["cursor"]["title"] == "Cursor"
    assert folder["output_schema"]["properties"]["options"]["type"] == "array"
    move = next(a for a in exported["actions"] if a["key"] == "move_message")
    assert move["data_sources"] == {"destination_id": "select_mail_folder", "message_id": "select_message"}
    json.dumps(exported)  # all JSON
