"""Docs contract with Prismatic's Microsoft Outlook component (prismatic.io/docs/components/ms-outlook):
a flow built for it must run unchanged where it can. ``DOCUMENTED`` lists every input that component
documents for the actions and connections this connector replaces, with the name it has here; each
test feeds one documented form to the action on the sandbox (both connection types where both
apply) and checks what Graph then holds. A documented input with no test here fails
``test_every_documented_input_has_a_test``.

Names: Prismatic's camelCase keys become this connector's snake_case fields (``bodyContentType`` ->
``body_type``, ``pageLimit`` -> ``top``); the values keep their forms. Inputs checked in other
modules: the connections (tests/connections/test_config_forms.py), subscriptions aimed at a trigger
instance (tests/actions/test_subscription_instances_e2e.py) and Raw Request's multipart and retry
rules at the HTTP boundary (tests/actions/test_raw_request_forms.py).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from actions._subscriptions import parse_graph_time
from connections.base import Connection
from connections.registry import parse_config
from connections.sandbox import sandbox_connection
from connector.runtime import Runtime
from connector.store import Store
from sandbox import seed
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer

OTHERS = [u["userPrincipalName"] for u in seed.USERS if u["userPrincipalName"] != seed.DEFAULT_USER]
PDF = b"%PDF-1.7 not really"

# Prismatic action (or connection) -> {Prismatic input label: how it is given here}
DOCUMENTED: dict[str, dict[str, str]] = {
    "Send Message": {
        "To": "to: comma-separated string, value list, list items holding several",
        "Subject": "subject",
        "Body Content Type": "body_type: html | text",
        "CC": "cc: comma-separated string or list",
        "BCC": "bcc: comma-separated string or list",
        "Message Body": "body",
        "Attachments": "attachments: file name -> file data map, or [{key, value}]",
        "Dynamic Attachments": "attachments: [{key, value}] with {data, contentType} or a Buffer",
    },
    "Create Event Subscription": {
        "Notification URL": "notification_url",
        "Expiration Date/Time": "expiration_date_time",
        "Allow Duplicates": "allow_duplicates",
    },
    "Create Mail Folder Subscription": {
        "Mail Change Types": "change_types",
        "Notification URL": "notification_url",
        "Expiration Date/Time": "expiration_date_time",
    },
    "Update Event Subscription Expiration": {
        "Subscription ID": "subscription_id",
        "Expiration Date/Time": "expiration_date_time",
    },
    "List Subscriptions": {
        "Show Instance Webhooks": "show_instance_webhooks + trigger_instance_id",
        "Fetch All": "fetch_all",
    },
    "Delete All Instance Subscriptions": {"Connection": "trigger_instance_id (no URL typed)"},
    "Raw Request": {
        "URL": "path",
        "Method": "method",
        "Data": "body",
        "Form Data": "form_data",
        "File Data": "file_data",
        "File Data File Names": "file_data_file_names",
        "Query Parameter": "query: map or [{key, value}]",
        "Header": "headers: map or [{key, value}]",
        "Response Type": "response_type",
        "Timeout": "timeout_ms",
        "Retry Delay (ms)": "retry_delay_ms",
        "Retry On All Errors": "retry_on_all_errors",
        "Max Retry Count": "max_retry_count",
        "Use Exponential Backoff": "use_exponential_backoff",
    },
    "List Mail Folders": {
        "Fetch All": "fetch_all",
        "Page Limit": "top",
        "Page Skip": "skip",
        "Parent Folder ID": "parent_folder_id",
    },
    "Get Schedule Availability": {
        "Schedules": "schedules",
        "Start At": "start",
        "Start Timezone": "start_time_zone",
        "End At": "end",
        "End Timezone": "end_time_zone",
        "Availability View Interval": "interval",
    },
    "Create Calendar": {"Name": "name", "Color": "color (default auto)"},
    "Update Calendar": {"Calendar ID": "calendar_id", "Name": "name", "Color": "color"},
    "OAuth 2.0 Authorization Code": {
        "Base URL": "graph_base_url (without /v1.0 too)",
        "Tenant URL": "tenant_url",
        "Scopes": "scopes (full https://graph.microsoft.com/... names too)",
        "Client ID": "client_id",
        "Client secret value": "client_secret",
        "Additional Authorization Parameters": "additional_authorization_parameters",
    },
    "OAuth 2.0 Authorization Code (Deprecated)": {
        "Base URL": "graph_base_url",
        "Authorize URL": "authorize_url (with ?prompt=consent)",
        "Token URL": "token_url",
        "Scopes": "scopes",
        "Client ID": "client_id",
        "Client secret value": "client_secret",
    },
    "OAuth 2.0 Client Credentials": {
        "Base URL": "graph_base_url",
        "Microsoft Entra ID Endpoint": "login_base_url",
        "Tenant": "tenant",
        "Client ID": "client_id",
        "Client Secret": "client_secret",
        "Scopes": "scopes (default .default)",
        "User ID": "default_mailbox (optional: else user_id per action)",
    },
}
"""What Prismatic documents, and where it goes here."""

TESTED: set[tuple[str, str]] = set()


def covers(*pairs: tuple[str, str]) -> Any:
    """Marks a test as feeding these (Prismatic action, input) forms."""
    TESTED.update(pairs)
    return lambda test: test


OTHER_MODULES = {
    ("List Subscriptions", "Show Instance Webhooks"),
    ("Delete All Instance Subscriptions", "Connection"),
    ("Raw Request", "Form Data"),
    ("Raw Request", "File Data"),
    ("Raw Request", "File Data File Names"),
    ("Raw Request", "Retry Delay (ms)"),
    ("Raw Request", "Retry On All Errors"),
    ("Raw Request", "Use Exponential Backoff"),
    ("OAuth 2.0 Authorization Code (Deprecated)", "Authorize URL"),
    ("OAuth 2.0 Authorization Code", "Additional Authorization Parameters"),
}
"""Checked by the modules the docstring names (they need a trigger receiver or scripted answers)."""


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(http_notification_urls=True)) as running:
        yield running


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store(Path(tmp_path_factory.mktemp("store")) / "state.db") as opened:
        yield opened


@pytest.fixture(autouse=True)
def fresh(server: SandboxServer) -> None:
    server.state.reset()
    server.state.set_faults({})


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with Runtime(strict_output=True) as rt:  # no store: no policy gate (a trusted host)
        yield rt


@pytest.fixture(scope="module")
def admin(server: SandboxServer, store: Store) -> Connection:
    return sandbox_connection(store, server.url, "app", name="admin")


@pytest.fixture(params=["delegated", "app"])
def connection(request: pytest.FixtureRequest, server: SandboxServer, store: Store) -> Connection:
    return sandbox_connection(store, server.url, request.param, name=f"prismatic-{request.param}")


def _received(
    runtime: Runtime, admin: Connection, mailbox: str, subject: str, folder: str = "inbox"
) -> dict[str, Any]:
    out = runtime.run_action(
        "list_messages", {"folder_id": folder, "search": subject, "top": 10}, admin, user_id=mailbox
    )
    [message] = [m for m in out["messages"] if m["subject"] == subject]
    return message


def _files(
    runtime: Runtime, admin: Connection, mailbox: str, message_id: str
) -> dict[str, tuple[str, bytes]]:
    out = runtime.run_action(
        "list_attachments", {"message_id": message_id, "include_content": True}, admin, user_id=mailbox
    )
    return {a["name"]: (a["contentType"], base64.b64decode(a["contentBytes"])) for a in out["attachments"]}


def _addresses(message: dict[str, Any], field: str) -> list[str]:
    return [r["emailAddress"]["address"].lower() for r in message.get(field) or []]


def _subject(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


# -- the table itself -------------------------------------------------------------------------------
def test_every_documented_input_has_a_test() -> None:
    documented = {(action, name) for action, inputs in DOCUMENTED.items() for name in inputs}
    missing = documented - TESTED - OTHER_MODULES
    assert not missing, f"documented Prismatic inputs without a test: {sorted(missing)}"


# -- Send Message -------------------------------------------------------------------------------------
@covers(
    ("Send Message", "To"),
    ("Send Message", "Subject"),
    ("Send Message", "Body Content Type"),
    ("Send Message", "CC"),
    ("Send Message", "BCC"),
    ("Send Message", "Message Body"),
    ("Send Message", "Attachments"),
)
def test_send_message_with_comma_separated_recipients_and_an_attachment_map(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    subject = _subject("Prismatic strings")
    runtime.run_action(
        "send_message",
        {
            "to": f"{OTHERS[0]}, {OTHERS[1]}",
            "cc": f"{OTHERS[2]};",
            "bcc": seed.SHARED_MAILBOX,
            "subject": subject,
            "body_type": "text",
            "body": "See the files.",
            "attachments": {
                "notes.txt": "plain text",
                "report.pdf": {"data": base64.b64encode(PDF).decode()},
            },
        },
        connection,
    )
    message = _received(runtime, admin, OTHERS[0], subject)
    assert _addresses(message, "toRecipients") == [OTHERS[0].lower(), OTHERS[1].lower()]
    assert _addresses(message, "ccRecipients") == [OTHERS[2].lower()]
    assert message["body"]["contentType"] == "text" and "See the files." in message["body"]["content"]
    _received(runtime, admin, OTHERS[1], subject)
    _received(runtime, admin, seed.SHARED_MAILBOX, subject)  # the Bcc got it
    files = _files(runtime, admin, OTHERS[0], message["id"])
    assert files["notes.txt"] == ("text/plain", b"plain text")
    assert files["report.pdf"] == ("application/pdf", PDF)


@covers(("Send Message", "To"), ("Send Message", "Dynamic Attachments"), ("Send Message", "Attachments"))
def test_send_message_with_a_value_list_and_key_value_attachments(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    subject = _subject("Prismatic lists")
    runtime.run_action(
        "send_message",
        {
            "to": [f"{OTHERS[0]},{OTHERS[1]}", OTHERS[2]],  # a value list whose items hold several
            "subject": subject,
            "attachments": [
                {
                    "key": "data.json",
                    "value": {
                        "data": base64.b64encode(b'{"a": 1}').decode(),
                        "contentType": "application/json",
                    },
                },
                {"key": "raw.bin", "value": {"type": "Buffer", "data": [0, 1, 254, 255]}},
                {"key": "readme.md", "value": "# hello"},
            ],
        },
        connection,
    )
    message = _received(runtime, admin, OTHERS[2], subject)
    assert sorted(_addresses(message, "toRecipients")) == sorted(o.lower() for o in OTHERS[:3])
    files = _files(runtime, admin, OTHERS[2], message["id"])
    assert files["data.json"] == ("application/json", b'{"a": 1}')
    assert files["raw.bin"] == ("application/octet-stream", bytes([0, 1, 254, 255]))
    assert files["readme.md"][1] == b"# hello"


def test_the_same_forms_in_reply_forward_drafts_and_templated_sends(
    runtime: Runtime, connection: Connection, admin: Connection
) -> None:
    subject = _subject("Prismatic thread")
    runtime.run_action(
        "send_message", {"to": seed.DEFAULT_USER, "subject": subject}, admin, user_id=OTHERS[0]
    )
    original = _received(runtime, admin, seed.DEFAULT_USER, subject)
    runtime.run_action(
        "forward_message",
        {
            "message_id": original["id"],
            "to": f"{OTHERS[1]}; {OTHERS[2]}",
            "attachments": {"a.txt": "forwarded"},
        },
        connection,
    )
    forwarded = _received(runtime, admin, OTHERS[2], "FW: " + subject)
    assert _files(runtime, admin, OTHERS[2], forwarded["id"])["a.txt"][1] == b"forwarded"
    runtime.run_action(
        "reply_to_message",
        {"message_id": original["id"], "cc": OTHERS[1], "attachments": [{"key": "r.txt", "value": "reply"}]},
        connection,
    )
    replied = _received(runtime, admin, OTHERS[0], "RE: " + subject)
    assert _addresses(replied, "ccRecipients") == [OTHERS[1].lower()]
    draft = runtime.run_action(
        "create_draft",
        {"to": f"{OTHERS[0]}, {OTHERS[1]}", "subject": subject, "attachments": {"d.txt": "draft"}},
        connection,
    )
    assert _addresses(draft, "toRecipients") == [OTHERS[0].lower(), OTHERS[1].lower()]
    templated = runtime.run_action(
        "send_templated_messages",
        {
            "subject_template": subject + " {{Name}}",
            "body_template": "Hi {{Name}}",
            "to_column": "Email",
            "rows": [{"Email": OTHERS[3], "Name": "Row"}],
            "attachments": [{"key": "t.txt", "value": "templated"}],
        },
        connection,
    )
    assert templated["sent"] == 1
    sent = _received(runtime, admin, OTHERS[3], subject + " Row")
    assert _files(runtime, admin, OTHERS[3], sent["id"])["t.txt"][1] == b"templated"


# -- subscriptions ------------------------------------------------------------------------------------
def _hook(server: SandboxServer, name: str) -> str:
    return f"{server.url}/_sandbox/webhooks/{name}"


def _in(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@covers(
    ("Create Event Subscription", "Notification URL"),
    ("Create Event Subscription", "Expiration Date/Time"),
    ("Create Event Subscription", "Allow Duplicates"),
    ("Update Event Subscription Expiration", "Subscription ID"),
    ("Update Event Subscription Expiration", "Expiration Date/Time"),
    ("List Subscriptions", "Fetch All"),
)
def test_event_subscriptions_with_a_date_time_and_duplicates(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    params = {"notification_url": _hook(server, "events"), "expiration_date_time": _in(10)}
    first = runtime.run_action("create_event_subscription", params, connection)
    assert abs(
        parse_graph_time(first["expirationDateTime"]) - parse_graph_time(params["expiration_date_time"])
    ) < timedelta(seconds=1)
    again = runtime.run_action("create_event_subscription", params, connection)
    assert again["reused"] is True and again["id"] == first["id"]
    duplicate = runtime.run_action(
        "create_event_subscription", {**params, "allow_duplicates": True}, connection
    )
    assert duplicate["reused"] is False and duplicate["id"] != first["id"]
    later = _in(30)
    renewed = runtime.run_action(
        "update_event_subscription_expiration",
        {"subscription_id": first["id"], "expiration_date_time": later},
        connection,
    )
    assert abs(parse_graph_time(renewed["expirationDateTime"]) - parse_graph_time(later)) < timedelta(
        seconds=1
    )
    listed = runtime.run_action("list_subscriptions", {"fetch_all": True}, connection)
    assert {first["id"], duplicate["id"]} <= {s["id"] for s in listed["subscriptions"]}


@covers(
    ("Create Mail Folder Subscription", "Mail Change Types"),
    ("Create Mail Folder Subscription", "Notification URL"),
    ("Create Mail Folder Subscription", "Expiration Date/Time"),
)
def test_mail_folder_subscription_with_a_date_time(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    at = _in(5)
    created = runtime.run_action(
        "create_mail_folder_subscription",
        {"change_types": ["created"], "notification_url": _hook(server, "mail"), "expiration_date_time": at},
        connection,
    )
    assert created["changeTypes"] == ["created"]
    assert abs(parse_graph_time(created["expirationDateTime"]) - parse_graph_time(at)) < timedelta(seconds=1)


# -- Raw Request ------------------------------------------------------------------------------------
@covers(
    ("Raw Request", "URL"),
    ("Raw Request", "Method"),
    ("Raw Request", "Data"),
    ("Raw Request", "Query Parameter"),
    ("Raw Request", "Header"),
    ("Raw Request", "Response Type"),
    ("Raw Request", "Timeout"),
    ("Raw Request", "Max Retry Count"),
)
def test_raw_request_with_prismatic_inputs(runtime: Runtime, connection: Connection) -> None:
    me = f"/users/{seed.DEFAULT_USER}" if connection.app_only else "/me"
    created = runtime.run_action(
        "raw_request",
        {
            "method": "POST",
            "path": f"{me}/mailFolders",
            "body": {"displayName": "Raw folder"},
            "timeout_ms": 20000,
            "max_retry_count": 2,
        },
        connection,
    )
    assert created["status"] == 201 and created["body"]["displayName"] == "Raw folder"
    listed = runtime.run_action(
        "raw_request",
        {
            "path": f"{me}/mailFolders",
            "query": [{"key": "$select", "value": "displayName"}, {"key": "$top", "value": "100"}],
            "headers": [{"key": "Prefer", "value": 'IdType="ImmutableId"'}],
            "response_type": "text",
        },
        connection,
    )
    assert isinstance(listed["body"], str) and "Raw folder" in listed["body"]


# -- mail folders, schedule, calendars ---------------------------------------------------------------
@covers(
    ("List Mail Folders", "Fetch All"),
    ("List Mail Folders", "Page Limit"),
    ("List Mail Folders", "Page Skip"),
    ("List Mail Folders", "Parent Folder ID"),
)
def test_list_mail_folders_under_a_parent(runtime: Runtime, connection: Connection) -> None:
    parent = runtime.run_action("create_mail_folder", {"display_name": "Projects"}, connection)
    for name in ("2025", "2026", "2027"):
        runtime.run_action(
            "create_mail_folder", {"display_name": name, "parent_folder_id": parent["id"]}, connection
        )
    page = runtime.run_action(
        "list_mail_folders", {"parent_folder_id": parent["id"], "top": 2, "skip": 1}, connection
    )
    assert page["count"] == 2 and page["next_link"] is None  # the 2nd and 3rd of three
    every = runtime.run_action(
        "list_mail_folders", {"parent_folder_id": parent["id"], "fetch_all": True, "top": 1}, connection
    )
    assert sorted(f["displayName"] for f in every["folders"]) == ["2025", "2026", "2027"]
    top_level = runtime.run_action("list_mail_folders", {"top": 100}, connection)
    assert "2025" not in {f["displayName"] for f in top_level["folders"]}


@covers(
    ("Get Schedule Availability", "Schedules"),
    ("Get Schedule Availability", "Start At"),
    ("Get Schedule Availability", "Start Timezone"),
    ("Get Schedule Availability", "End At"),
    ("Get Schedule Availability", "End Timezone"),
    ("Get Schedule Availability", "Availability View Interval"),
)
def test_schedule_with_separate_time_zones(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    out = runtime.run_action(
        "get_schedule_availability",
        {
            "schedules": [OTHERS[0]],
            "start": "2026-12-03T09:00:00",
            "start_time_zone": "Pacific Standard Time",
            "end": "2026-12-03T17:00:00",
            "end_time_zone": "Eastern Standard Time",
            "interval": 60,
        },
        connection,
    )
    [request] = [r for r in server.state.request_log if r.path.endswith("/calendar/getSchedule")]
    assert request.body["startTime"] == {
        "dateTime": "2026-12-03T09:00:00",
        "timeZone": "Pacific Standard Time",
    }
    assert request.body["endTime"] == {"dateTime": "2026-12-03T17:00:00", "timeZone": "Eastern Standard Time"}
    # 09:00 PST to 17:00 EST is 5 hours: five 60-minute slots
    assert len(out["schedules"][0]["availabilityView"]) == 5


@covers(
    ("Create Calendar", "Name"),
    ("Create Calendar", "Color"),
    ("Update Calendar", "Calendar ID"),
    ("Update Calendar", "Name"),
    ("Update Calendar", "Color"),
)
def test_calendar_colour_defaults_to_auto(runtime: Runtime, connection: Connection) -> None:
    created = runtime.run_action("create_calendar", {"name": "Prismatic"}, connection)
    assert created["color"] == "auto"
    updated = runtime.run_action(
        "update_calendar",
        {"calendar_id": created["id"], "name": "Renamed", "color": "lightGreen"},
        connection,
    )
    assert updated["name"] == "Renamed" and updated["color"] == "lightGreen"


# -- connections --------------------------------------------------------------------------------------
PRISMATIC_SCOPES = (
    "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Calendars.ReadWrite "
    "https://graph.microsoft.com/Mail.ReadWrite https://graph.microsoft.com/Mail.Send offline_access"
)


@covers(
    ("OAuth 2.0 Authorization Code", "Base URL"),
    ("OAuth 2.0 Authorization Code", "Tenant URL"),
    ("OAuth 2.0 Authorization Code", "Scopes"),
    ("OAuth 2.0 Authorization Code", "Client ID"),
    ("OAuth 2.0 Authorization Code", "Client secret value"),
    ("OAuth 2.0 Authorization Code (Deprecated)", "Base URL"),
    ("OAuth 2.0 Authorization Code (Deprecated)", "Token URL"),
    ("OAuth 2.0 Authorization Code (Deprecated)", "Scopes"),
    ("OAuth 2.0 Authorization Code (Deprecated)", "Client ID"),
    ("OAuth 2.0 Authorization Code (Deprecated)", "Client secret value"),
    ("OAuth 2.0 Client Credentials", "Base URL"),
    ("OAuth 2.0 Client Credentials", "Microsoft Entra ID Endpoint"),
    ("OAuth 2.0 Client Credentials", "Tenant"),
    ("OAuth 2.0 Client Credentials", "Client ID"),
    ("OAuth 2.0 Client Credentials", "Client Secret"),
    ("OAuth 2.0 Client Credentials", "Scopes"),
    ("OAuth 2.0 Client Credentials", "User ID"),
)
def test_the_documented_connection_defaults_parse_to_the_same_endpoints() -> None:
    templated = parse_config(
        "oauth2_code",
        {
            "graph_base_url": "https://graph.microsoft.com",
            "tenant_url": "login.microsoftonline.com/common",
            "scopes": PRISMATIC_SCOPES,
            "client_id": "c",
            "client_secret": "s",
        },
    )
    deprecated = parse_config(
        "oauth2_code_legacy",
        {
            "graph_base_url": "https://graph.microsoft.com",
            "authorize_url": "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?prompt=consent",
            "token_url": "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            "scopes": PRISMATIC_SCOPES,
            "client_id": "c",
            "client_secret": "s",
        },
    )
    assert templated.endpoints().token_url == deprecated.endpoints().token_url
    assert (
        templated.endpoints().graph_base_url
        == deprecated.endpoints().graph_base_url
        == "https://graph.microsoft.com/v1.0"
    )
    assert templated.registration().scope == PRISMATIC_SCOPES
    app = parse_config(
        "client_credentials",
        {
            "graph_base_url": "https://graph.microsoft.com",
            "login_base_url": "https://login.microsoftonline.com",
            "tenant": "contoso.onmicrosoft.com",
            "client_id": "c",
            "client_secret": "s",
            "scopes": "https://graph.microsoft.com/.default",
            "default_mailbox": "ops@contoso.com",
        },
    )
    assert (
        app.endpoints().token_url
        == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert (
        app.registration().scope == "https://graph.microsoft.com/.default"
        and app.mailbox() == "ops@contoso.com"
    )


# -- refusals and summaries of the string forms -----------------------------------------------------
def test_a_bad_address_in_a_string_is_named_with_every_other_bad_field(server: SandboxServer) -> None:
    from connector.errors import InputValidationError
    from tests.support.connections import StaticConnection

    before = len(server.state.request_log)
    with Runtime() as runtime, pytest.raises(InputValidationError) as info:
        runtime.run_action(
            "send_message",
            {"to": "alex@contoso.com, not-an-address", "cc": ["a@b.co;nope"], "importance": "urgent"},
            StaticConnection(graph_base_url=server.graph_url),
        )
    assert {e.path for e in info.value.errors} == {"to", "cc[0]", "importance"}
    assert len(server.state.request_log) == before


def test_an_approval_shows_string_recipients_as_addresses() -> None:
    from connector.call_summary import describe_call
    from connector.manifest import load_manifest

    entry = load_manifest().action("send_message")
    text = describe_call(entry, {"to": "a@x.com; Bo <b@x.com>", "cc": ["c@x.com, d@x.com"], "subject": "Hi"})
    assert "to: a@x.com, b@x.com" in text and "cc: c@x.com, d@x.com" in text
