"""Attachments (small and uploaded), Raw Request and Batch Request end to end on the sandbox, with
both connection types: the sandbox's state really changes, bytes come back identical, the token never
leaves the Graph host, and bad input fails before any request."""

from __future__ import annotations

import base64
import email
import email.policy
import http.server
import os
import threading
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from connections.base import Connection
from connections.connection import StoredConnection
from connector.errors import GraphError, InputValidationError
from connector.runtime import Runtime
from sandbox import seed
from sandbox.server import SandboxServer

OTHER_USER = next(u["userPrincipalName"] for u in seed.USERS if u["userPrincipalName"] != seed.DEFAULT_USER)
USER = f"/users/{seed.DEFAULT_USER}"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def big_file() -> bytes:
    """20 MB of random bytes (not a multiple of the chunk size, so the last range is short)."""
    return os.urandom(20 * MB + 12345)


def _graph_requests(server: SandboxServer) -> list[Any]:
    return [r for r in server.state.request_log if r.path.startswith(("/v1.0/", "/upload/"))]


def _draft(runtime: Runtime, connection: Connection, subject: str) -> str:
    out = runtime.run_action(
        "raw_request",
        {
            "method": "POST",
            "path": f"{USER}/messages",
            "body": {"subject": subject, "toRecipients": [{"emailAddress": {"address": OTHER_USER}}]},
        },
        connection,
    )
    assert out["status"] == 201
    draft_id: str = out["body"]["id"]
    return draft_id


def _message(server: SandboxServer, mailbox: str, message_id: str) -> dict[str, Any] | None:
    user = server.state.find_user(mailbox)
    assert user is not None
    found: dict[str, Any] | None = server.state.mailbox(user["id"]).messages.get(message_id)
    return found


# -- attachments -------------------------------------------------------------------------------------
def test_small_attachment_add_list_get_delete(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    draft = _draft(runtime, connection, "with a small file")
    content = b"quarter,revenue\nQ1,1200\n"
    added = runtime.run_action(
        "add_attachment",
        {
            "message_id": draft,
            "user_id": seed.DEFAULT_USER,
            "attachment": {
                "name": "q.csv",
                "content_base64": base64.b64encode(content).decode(),
                "content_type": "text/csv",
            },
        },
        connection,
    )
    assert added["name"] == "q.csv" and added["id"] and "contentBytes" not in added
    listed = runtime.run_action(
        "list_attachments", {"message_id": draft, "user_id": seed.DEFAULT_USER}, connection
    )
    assert [a["id"] for a in listed["attachments"]] == [added["id"]] and listed["count"] == 1
    got = runtime.run_action(
        "get_attachment",
        {"message_id": draft, "attachment_id": added["id"], "user_id": seed.DEFAULT_USER},
        connection,
    )
    assert got["kind"] == "file" and base64.b64decode(got["content_base64"]) == content
    assert _message(server, seed.DEFAULT_USER, draft)["hasAttachments"] is True  # type: ignore[index]
    deleted = runtime.run_action(
        "delete_attachment",
        {"message_id": draft, "attachment_id": added["id"], "user_id": seed.DEFAULT_USER},
        connection,
    )
    assert deleted == {"deleted": True, "id": added["id"], "message_id": draft}
    after = runtime.run_action(
        "list_attachments", {"message_id": draft, "user_id": seed.DEFAULT_USER}, connection
    )
    assert after["count"] == 0
    assert _message(server, seed.DEFAULT_USER, draft)["hasAttachments"] is False  # type: ignore[index]


def _items_message(server: SandboxServer) -> tuple[str, dict[str, str]]:
    """The seeded message carrying item attachments and a link, and its attachment ids by name."""
    user = server.state.find_user(seed.DEFAULT_USER)
    assert user is not None
    box = server.state.mailbox(user["id"])
    for message_id, attachments in box.attachments.items():
        if any(a["@odata.type"] == "#microsoft.graph.itemAttachment" for a in attachments):
            return message_id, {a["name"]: a["id"] for a in attachments}
    raise AssertionError("the sandbox seeded no item attachment")


def test_get_attachment_returns_attached_items_with_their_content(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    message_id, ids = _items_message(server)

    def get(name: str, **options: bool) -> dict[str, Any]:
        params = {"message_id": message_id, "attachment_id": ids[name], "user_id": seed.DEFAULT_USER}
        return runtime.run_action("get_attachment", {**params, **options}, connection)

    server.state.request_log.clear()
    note = get("Signed delivery note - order 4471")
    requests = _graph_requests(server)
    assert [(r.method, r.query.get("$expand")) for r in requests] == [
        ("GET", "microsoft.graph.itemattachment/item"),
        ("GET", None),
    ]
    assert requests[1].path.endswith("/$value")
    assert note["kind"] == "item" and note["item"]["@odata.type"] == "#microsoft.graph.message"
    assert note["item"]["subject"] == "Signed delivery note - order 4471"
    assert [a["name"] for a in note["item"]["attachments"]] == ["delivery-note-4471.txt"]
    assert not any("@odata.context" in key for key in [*note, *note["item"]])
    mime = email.message_from_bytes(base64.b64decode(note["content_base64"]), policy=email.policy.default)
    assert mime["Subject"] == "Signed delivery note - order 4471"

    event = get("Warehouse walkthrough")
    assert event["item"]["start"]["timeZone"] == "UTC"
    assert base64.b64decode(event["content_base64"]).startswith(b"BEGIN:VCALENDAR\r\n")
    contact = get("Ruud de Vries")
    assert contact["item"]["companyName"] == "Northbeam Logistics"
    assert b"FN:Ruud de Vries\r\n" in base64.b64decode(contact["content_base64"])

    server.state.request_log.clear()
    bare = get("Warehouse walkthrough", include_content=False, include_item=False)
    assert bare["item"] is None and bare["content_base64"] is None and bare["kind"] == "item"
    assert [r.query for r in _graph_requests(server)] == [{}]  # one request, nothing expanded

    link = get("Depot capacity plan.xlsx")
    assert link["kind"] == "reference" and link["content_base64"] is None and link["item"] is None
    first_file = next(iter(ids))
    server.state.request_log.clear()
    file = get(first_file)
    assert file["kind"] == "file" and file["content_base64"] and len(_graph_requests(server)) == 1


@pytest.mark.graph_nonconformant(
    "the held OpenAPI documents lack the contacts module (PersonalContacts.yml)",
    match=r"^\w+ /(me|users/[^/]+)/contacts(/[^/]+)?$",
)
@pytest.mark.parametrize(
    ("kind", "collection", "title_key"),
    [
        ("message", "messages", "subject"),
        ("event", "events", "subject"),
        ("contact", "contacts", "displayName"),
    ],
)
def test_add_attachment_attaches_an_existing_item(
    runtime: Runtime,
    connection: Connection,
    server: SandboxServer,
    kind: str,
    collection: str,
    title_key: str,
) -> None:
    source = runtime.run_action(
        "raw_request",
        {"method": "GET", "path": f"{USER}/{collection}", "query": {"$top": "1"}},
        connection,
    )["body"]["value"][0]
    draft = _draft(runtime, connection, f"with an attached {kind}")
    server.state.request_log.clear()
    added = runtime.run_action(
        "add_attachment",
        {"message_id": draft, "user_id": seed.DEFAULT_USER, "item": {"kind": kind, "id": source["id"]}},
        connection,
    )
    requests = _graph_requests(server)
    assert [r.method for r in requests] == ["GET", "POST"]
    assert requests[1].body["@odata.type"] == "#microsoft.graph.itemAttachment"
    assert "id" not in requests[1].body["item"]  # a copy of the item's content, not a reference
    assert added["name"] == source[title_key] and added["@odata.type"] == "#microsoft.graph.itemAttachment"
    got = runtime.run_action(
        "get_attachment",
        {"message_id": draft, "attachment_id": added["id"], "user_id": seed.DEFAULT_USER},
        connection,
    )
    assert got["kind"] == "item" and got["item"][title_key] == source[title_key]
    assert got["item"]["@odata.type"] == f"#microsoft.graph.{kind}"
    assert _message(server, seed.DEFAULT_USER, draft)["hasAttachments"] is True  # type: ignore[index]


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "attachment": {"name": "a.txt", "content_base64": "YQ=="},
            "item": {"kind": "message", "id": "AAMkAGSample="},
        },
    ],
    ids=["nothing", "both"],
)
def test_add_attachment_takes_exactly_one_thing_before_any_request(
    runtime: Runtime, connection: Connection, server: SandboxServer, extra: dict[str, Any]
) -> None:
    server.state.request_log.clear()
    with pytest.raises(InputValidationError) as failed:
        runtime.run_action("add_attachment", {"message_id": "AAMkAGSample=", **extra}, connection)
    assert "attachment or item" in str(failed.value)
    assert _graph_requests(server) == []


def test_large_attachment_is_uploaded_in_ranges_without_the_token(
    runtime: Runtime, connection: Connection, server: SandboxServer, big_file: bytes
) -> None:
    draft = _draft(runtime, connection, "with a 20 MB file")
    server.state.request_log.clear()
    added = runtime.run_action(
        "add_attachment",
        {
            "message_id": draft,
            "user_id": seed.DEFAULT_USER,
            "attachment": {
                "name": "big.bin",
                "content_base64": base64.b64encode(big_file).decode(),
                "content_type": "application/octet-stream",
            },
        },
        connection,
    )
    assert added["size"] == len(big_file) and added["id"]
    requests = _graph_requests(server)
    assert requests[0].method == "POST" and requests[0].path.endswith("/attachments/createUploadSession")
    puts = requests[1:]
    assert puts and all(r.method == "PUT" and r.path.startswith("/upload/") for r in puts)
    assert all(r.status in (200, 201) for r in puts) and puts[-1].status == 201
    assert len(puts) == -(-len(big_file) // (10 * 320 * 1024))  # ranges of 3,276,800 bytes (< 4 MB)
    # the upload URL answers 401 to any Authorization header, so 200/201 above proves none was sent
    got = runtime.run_action(
        "get_attachment",
        {"message_id": draft, "attachment_id": added["id"], "user_id": seed.DEFAULT_USER},
        connection,
    )
    assert base64.b64decode(got["content_base64"]) == big_file
    assert got["name"] == "big.bin"


def test_upload_url_refuses_a_token_and_bad_ranges(server: SandboxServer, admin: StoredConnection) -> None:
    import httpx

    draft = server.state.mailbox(server.state.find_user(seed.DEFAULT_USER)["id"])  # type: ignore[index]
    message_id = next(iter(draft.messages))
    token = admin.tokens.access_token()
    base = f"{server.url}/v1.0/users/{seed.DEFAULT_USER}/messages/{message_id}/attachments"
    session = httpx.post(
        f"{base}/createUploadSession",
        json={"AttachmentItem": {"attachmentType": "file", "name": "x.bin", "size": 4 * MB}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert session.status_code == 201 and session.json()["nextExpectedRanges"] == ["0-"]
    url = session.json()["uploadUrl"]
    chunk = b"\0" * MB
    with_token = httpx.put(
        url,
        content=chunk,
        headers={"Content-Range": f"bytes 0-{MB - 1}/{4 * MB}", "Authorization": "Bearer x"},
    )
    assert with_token.status_code == 401
    wrong_total = httpx.put(url, content=chunk, headers={"Content-Range": f"bytes 0-{MB - 1}/{MB}"})
    assert wrong_total.status_code == 400
    ok = httpx.put(url, content=chunk, headers={"Content-Range": f"bytes 0-{MB - 1}/{4 * MB}"})
    assert ok.status_code == 200 and ok.json()["nextExpectedRanges"] == [f"{MB}-{4 * MB - 1}"]
    gap = httpx.put(url, content=chunk, headers={"Content-Range": f"bytes {2 * MB}-{3 * MB - 1}/{4 * MB}"})
    assert gap.status_code == 416
    too_big = httpx.post(
        f"{base}/createUploadSession",
        json={"AttachmentItem": {"attachmentType": "file", "name": "x.bin", "size": 151 * MB}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert too_big.status_code == 400


def test_send_message_with_a_large_attachment_drafts_uploads_and_sends_once(
    runtime: Runtime, connection: Connection, admin: Connection, server: SandboxServer, big_file: bytes
) -> None:
    subject = f"Big report {uuid.uuid4().hex[:8]}"
    small = b"small file"
    server.state.request_log.clear()
    out = runtime.run_action(
        "send_message",
        {
            "user_id": seed.DEFAULT_USER,
            "to": [OTHER_USER],
            "subject": subject,
            "body": "<p>Both files attached.</p>",
            "attachments": [
                {
                    "name": "small.txt",
                    "content_base64": base64.b64encode(small).decode(),
                    "content_type": "text/plain",
                },
                {"name": "big.bin", "content_base64": base64.b64encode(big_file).decode()},
            ],
        },
        connection,
    )
    assert out["sent"] is True and out["attachments"] == 2
    requests = _graph_requests(server)
    sends = [r for r in requests if r.method == "POST" and r.path.endswith("/send")]
    assert len(sends) == 1 and not [r for r in requests if r.path.endswith("/sendMail")]
    received = runtime.run_action(
        "list_messages", {"folder_id": "inbox", "search": subject, "top": 5}, admin, user_id=OTHER_USER
    )["messages"]
    assert [m["subject"] for m in received] == [subject]
    files = runtime.run_action(
        "list_attachments", {"message_id": received[0]["id"]}, admin, user_id=OTHER_USER
    )["attachments"]
    assert sorted(a["name"] for a in files) == ["big.bin", "small.txt"]
    big = next(a for a in files if a["name"] == "big.bin")
    got = runtime.run_action(
        "get_attachment",
        {"message_id": received[0]["id"], "attachment_id": big["id"]},
        admin,
        user_id=OTHER_USER,
    )
    assert base64.b64decode(got["content_base64"]) == big_file
    drafts = runtime.run_action(
        "list_messages",
        {"folder_id": "drafts", "search": subject, "top": 5},
        admin,
        user_id=seed.DEFAULT_USER,
    )
    assert drafts["messages"] == []  # the draft became the sent message


def test_send_message_small_attachments_still_use_send_mail(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    server.state.request_log.clear()
    runtime.run_action(
        "send_message",
        {
            "user_id": seed.DEFAULT_USER,
            "to": [OTHER_USER],
            "subject": "small",
            "attachments": [{"name": "a.txt", "content_base64": base64.b64encode(b"a").decode()}],
        },
        connection,
    )
    paths = [r.path for r in _graph_requests(server)]
    assert len(paths) == 1 and paths[0].endswith("/sendMail")


@pytest.mark.parametrize(
    ("action", "make_input", "field"),
    [
        (
            "add_attachment",
            lambda big: {"message_id": "x", "attachment": {"name": "f", "content_base64": big}},
            "attachment.content_base64",
        ),
        (
            "add_attachment",
            lambda big: {"message_id": "x", "attachment": {"name": "f", "content_base64": "not base64!"}},
            "attachment.content_base64",
        ),
        (
            "send_message",
            lambda big: {"to": [OTHER_USER], "attachments": [{"name": "f", "content_base64": big}]},
            "attachments[0].content_base64",
        ),
    ],
)
def test_bad_attachments_fail_before_any_request(
    runtime: Runtime,
    connection: Connection,
    server: SandboxServer,
    action: str,
    make_input: Any,
    field: str,
) -> None:
    too_big = base64.b64encode(b"\0" * (150 * MB + 1)).decode()
    server.state.request_log.clear()
    with pytest.raises(InputValidationError) as failed:
        runtime.run_action(action, make_input(too_big), connection)
    assert field in str(failed.value)
    assert _graph_requests(server) == []


# -- raw request -------------------------------------------------------------------------------------
class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, bool]]] = []

    def _record(self) -> None:
        type(self).seen.append((self.command, self.path, "Authorization" in self.headers))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[str, list[tuple[str, str, bool]]]]:
    _Recorder.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", _Recorder.seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_raw_request_reads_and_writes(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    got = runtime.run_action(
        "raw_request",
        {
            "path": f"{USER}/mailFolders/inbox",
            "query": {"$select": "displayName"},
            "headers": {"Prefer": "x"},
        },
        connection,
    )
    assert got["status"] == 200 and got["body"]["displayName"] == "Inbox"
    assert "content-type" in got["headers"] and not {"set-cookie", "authorization"} & set(got["headers"])
    subject = f"raw {uuid.uuid4().hex[:6]}"
    draft = _draft(runtime, connection, subject)
    assert _message(server, seed.DEFAULT_USER, draft)["subject"] == subject  # type: ignore[index]
    patched = runtime.run_action(
        "raw_request",
        {"method": "PATCH", "path": f"{USER}/messages/{draft}", "body": {"subject": subject + "!"}},
        connection,
    )
    assert patched["body"]["subject"] == subject + "!"
    assert _message(server, seed.DEFAULT_USER, draft)["subject"] == subject + "!"  # type: ignore[index]
    same_host = runtime.run_action(
        "raw_request", {"path": f"{server.url}/v1.0{USER}/mailFolders/inbox"}, connection
    )
    assert same_host["body"]["displayName"] == "Inbox"
    gone = runtime.run_action(
        "raw_request", {"method": "DELETE", "path": f"{USER}/messages/{draft}"}, connection
    )
    assert gone["status"] == 204 and gone["body"] is None
    with pytest.raises(GraphError) as missing:
        runtime.run_action("raw_request", {"path": f"{USER}/mailFolders/nope"}, connection)
    assert missing.value.status in (400, 404)


@pytest.mark.parametrize(
    "path",
    [
        "{other}/v1.0/me",
        "{other}/v1.0/users/someone",
        "{other_https}/v1.0/me",
        "HTTP://{other_host}/v1.0/me",
    ],
)
def test_raw_request_never_sends_anything_to_another_host(
    runtime: Runtime,
    connection: Connection,
    server: SandboxServer,
    listener: tuple[str, list[tuple[str, str, bool]]],
    path: str,
) -> None:
    other, seen = listener
    host = other.split("://", 1)[1]
    target = path.format(other=other, other_https=other.replace("http://", "https://"), other_host=host)
    server.state.request_log.clear()
    with pytest.raises(InputValidationError) as refused:
        runtime.run_action("raw_request", {"path": target}, connection)
    assert "path" in str(refused.value)
    assert seen == []  # nothing reached the other listener, with or without Authorization
    assert _graph_requests(server) == []


def test_raw_request_refuses_credential_headers(runtime: Runtime, connection: Connection) -> None:
    with pytest.raises(InputValidationError) as refused:
        runtime.run_action(
            "raw_request", {"path": "/me", "headers": {"authorization": "Bearer stolen"}}, connection
        )
    assert "headers" in str(refused.value)


# -- batch -------------------------------------------------------------------------------------------
def test_batch_runs_requests_with_depends_on_in_order(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    subject = f"batch {uuid.uuid4().hex[:6]}"
    out = runtime.run_action(
        "batch_request",
        {
            "requests": [
                {
                    "id": "create",
                    "method": "POST",
                    "url": f"{USER}/messages",
                    "body": {"subject": subject},
                },
                {"id": "inbox", "url": f"{USER}/mailFolders/inbox?$select=displayName"},
                {
                    "id": "drafts",
                    "url": f"{USER}/mailFolders/drafts/messages?$select=subject&$top=50",
                    "depends_on": ["create"],
                },
                {"id": "missing", "url": f"{USER}/mailFolders/nope"},
                {"id": "after_missing", "url": f"{USER}/mailFolders/inbox", "depends_on": ["missing"]},
            ]
        },
        connection,
    )
    assert [r["id"] for r in out["responses"]] == ["create", "inbox", "drafts", "missing", "after_missing"]
    statuses = {r["id"]: r["status"] for r in out["responses"]}
    assert statuses["create"] == 201 and statuses["inbox"] == 200 and statuses["drafts"] == 200
    assert statuses["missing"] in (400, 404) and statuses["after_missing"] == 424
    assert out["succeeded"] == 3 and out["failed"] == 2
    created = out["responses"][0]["body"]["id"]
    assert _message(server, seed.DEFAULT_USER, created)["subject"] == subject  # type: ignore[index]
    assert subject in [m["subject"] for m in out["responses"][2]["body"]["value"]]


def test_batch_retries_throttled_sub_requests_alone(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    server.state.set_faults({"429": 0.5}, seed=3, paths=("/v1.0/users/*/mailFolders/*",), methods=("GET",))
    requests = [{"id": f"r{i}", "url": f"{USER}/mailFolders/inbox?$select=displayName"} for i in range(6)]
    out = runtime.run_action("batch_request", {"requests": requests, "max_retries": 5}, connection)
    assert [r["status"] for r in out["responses"]] == [200] * 6
    assert any(r["attempts"] > 1 for r in out["responses"])  # some were throttled, then retried
    batches = [r for r in server.state.request_log if r.path == "/v1.0/$batch"]
    retried = sum(r["attempts"] - 1 for r in out["responses"])
    assert len(batches) > 1 and sum(len(b.body["requests"]) for b in batches) == 6 + retried


def test_batch_never_retries_a_post_that_failed_with_5xx(
    runtime: Runtime, connection: Connection, server: SandboxServer
) -> None:
    server.state.set_faults({"504_after": 1.0}, paths=("/v1.0/users/*/messages",), methods=("POST",))
    out = runtime.run_action(
        "batch_request",
        {
            "requests": [
                {"id": "create", "method": "POST", "url": f"{USER}/messages", "body": {"subject": "once"}}
            ]
        },
        connection,
    )
    assert out["responses"][0]["status"] == 504 and out["responses"][0]["attempts"] == 1
    posts = [r for r in server.state.request_log if r.method == "POST" and r.path.endswith("/messages")]
    assert len(posts) == 1


@pytest.mark.parametrize(
    ("requests", "reason"),
    [
        ([{"id": "a", "url": "/me"}, {"id": "a", "url": "/me"}], "used twice"),
        ([{"id": "a", "url": "/me", "depends_on": ["b"]}, {"id": "b", "url": "/me"}], "earlier request"),
        ([{"id": str(i), "url": "/me"} for i in range(21)], "requests"),
        ([{"id": "a", "url": "https://evil.example/v1.0/me"}], "url"),
    ],
)
def test_batch_input_is_checked_before_any_request(
    runtime: Runtime,
    connection: Connection,
    server: SandboxServer,
    requests: list[dict[str, Any]],
    reason: str,
) -> None:
    server.state.request_log.clear()
    with pytest.raises(InputValidationError) as refused:
        runtime.run_action("batch_request", {"requests": requests}, connection)
    assert reason in str(refused.value)
    assert _graph_requests(server) == []
