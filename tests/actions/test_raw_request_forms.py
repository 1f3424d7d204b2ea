"""Raw Request's Prismatic inputs: multipart form and file data, key/value lists for query and
headers, response types, a timeout and retry options within the connector's rules (a POST is never
sent again once Graph may have run it). At the HTTP boundary (Graph's answers scripted), then the
response types on the sandbox with both connection types."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from actions.raw import RawRequestInput
from connections.base import Connection
from connector.errors import GraphError, InputValidationError
from connector.runtime import Runtime
from sandbox import seed
from tests.support.connections import StaticConnection


class Scripted:
    """Answers each request with the next of ``answers`` (the last one repeats) and keeps them."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response] | httpx.Response) -> None:
        self.answers = list(answers) or [httpx.Response(200, json={})]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(request) if callable(answer) else answer


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


@pytest.fixture
def mocked(scripted: Scripted) -> Iterator[Runtime]:
    with Runtime(strict_output=True, transport=httpx.MockTransport(scripted)) as rt:
        yield rt


def _run(runtime: Runtime, params: dict[str, Any]) -> dict[str, Any]:
    return runtime.run_action("raw_request", params, StaticConnection())


def _parts(request: httpx.Request) -> dict[str, EmailMessage]:
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    parsed = email.message_from_bytes(head + request.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage) and parsed.is_multipart()
    found: dict[str, EmailMessage] = {}
    for part in parsed.iter_parts():
        assert isinstance(part, EmailMessage)
        found[str(part.get_param("name", header="content-disposition"))] = part
    return found


@pytest.mark.graph_nonconformant("a multipart/form-data body, which the OpenAPI documents describe as JSON")
def test_form_and_file_data_go_as_one_multipart_body(mocked: Runtime, scripted: Scripted) -> None:
    _run(
        mocked,
        {
            "method": "POST",
            "path": "/me/onenote/pages",
            "form_data": [{"key": "title", "value": "Minutes"}],
            "file_data": {
                "notes": "plain text",
                "scan": {"data": base64.b64encode(b"%PDF-1.7").decode(), "contentType": "application/pdf"},
                "blob": {"type": "Buffer", "data": [0, 255, 16]},
            },
            "file_data_file_names": {"scan": "scan.pdf"},
        },
    )
    [request] = scripted.requests
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = _parts(request)
    assert parts["title"].get_content() == "Minutes" and parts["title"].get_filename() is None
    assert (
        parts["notes"].get_filename() == "notes" and parts["notes"].get_payload(decode=True) == b"plain text"
    )
    assert (
        parts["scan"].get_filename() == "scan.pdf" and parts["scan"].get_content_type() == "application/pdf"
    )
    assert parts["scan"].get_payload(decode=True) == b"%PDF-1.7"
    assert parts["blob"].get_payload(decode=True) == bytes([0, 255, 16])


def test_query_and_headers_as_key_value_lists(mocked: Runtime, scripted: Scripted) -> None:
    _run(
        mocked,
        {
            "path": "/me/messages",
            "query": [{"key": "$top", "value": "2"}],
            "headers": [{"key": "Prefer", "value": 'outlook.body-content-type="text"'}],
        },
    )
    [request] = scripted.requests
    assert (
        request.url.params["$top"] == "2" and request.headers["prefer"] == 'outlook.body-content-type="text"'
    )


@pytest.mark.parametrize(
    ("response_type", "answer", "body", "is_base64"),
    [
        ("binary", httpx.Response(200, json={"a": 1}), base64.b64encode(b'{"a":1}').decode(), True),
        ("text", httpx.Response(200, json={"a": 1}), '{"a":1}', False),
        (
            "json",
            httpx.Response(200, text='{"a": 1}', headers={"content-type": "text/plain"}),
            {"a": 1},
            False,
        ),
        ("json", httpx.Response(200, text="not json"), "not json", False),
        (None, httpx.Response(200, content=b"\x00\x01", headers={"content-type": "image/png"}), "AAE=", True),
    ],
)
def test_response_types(
    response_type: str | None,
    answer: httpx.Response,
    body: Any,
    is_base64: bool,
    scripted: Scripted,
    mocked: Runtime,
) -> None:
    scripted.answers = [answer]
    params: dict[str, Any] = {"path": "/me/photo/$value"}
    if response_type:
        params["response_type"] = response_type
    out = _run(mocked, params)
    assert out["body"] == body and out["body_base64"] is is_base64


def test_timeout_is_per_request(mocked: Runtime, scripted: Scripted) -> None:
    _run(mocked, {"path": "/me", "timeout_ms": 1500})
    _run(mocked, {"path": "/me"})
    timed, default = (r.extensions["timeout"] for r in scripted.requests)
    assert timed["read"] == 1.5 and default["read"] == 30.0


def _error(status: int) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": "Boom", "message": "failed"}})


def test_retry_on_all_errors_retries_an_idempotent_request(mocked: Runtime, scripted: Scripted) -> None:
    scripted.answers = [_error(500), _error(500), httpx.Response(200, json={"ok": True})]
    out = _run(mocked, {"path": "/me", "max_retry_count": 2, "retry_on_all_errors": True})
    assert out["body"] == {"ok": True} and len(scripted.requests) == 3


def test_without_retry_on_all_errors_a_500_is_not_retried(mocked: Runtime, scripted: Scripted) -> None:
    scripted.answers = [_error(500), httpx.Response(200, json={})]
    with pytest.raises(GraphError) as info:
        _run(mocked, {"path": "/me", "max_retry_count": 3})
    assert info.value.status == 500 and len(scripted.requests) == 1


def test_max_retry_count_zero_sends_once(mocked: Runtime, scripted: Scripted) -> None:
    scripted.answers = [_error(503), httpx.Response(200, json={})]
    with pytest.raises(GraphError):
        _run(mocked, {"path": "/me", "max_retry_count": 0})
    assert len(scripted.requests) == 1


def test_a_post_is_never_sent_twice_once_graph_may_have_run_it(mocked: Runtime, scripted: Scripted) -> None:
    scripted.answers = [_error(500), httpx.Response(202)]
    params = {"method": "POST", "path": "/me/sendMail", "body": {}, "max_retry_count": 5}
    with pytest.raises(GraphError):
        _run(mocked, {**params, "retry_on_all_errors": True})
    assert len(scripted.requests) == 1
    scripted.requests.clear()
    scripted.answers = [_error(504), httpx.Response(202)]
    with pytest.raises(GraphError):  # a gateway timeout may come after Graph ran it
        _run(mocked, {**params, "use_exponential_backoff": True})
    assert len(scripted.requests) == 1
    scripted.requests.clear()
    scripted.answers = [httpx.Response(429, headers={"Retry-After": "0"}), httpx.Response(202)]
    assert _run(mocked, params)["status"] == 202  # throttled: provably not run, so sent again
    assert len(scripted.requests) == 2


def test_retry_delays() -> None:
    fixed = RawRequestInput.model_validate({"path": "/me", "max_retry_count": 3, "retry_delay_ms": 250})
    policy = fixed.retry_policy()
    assert policy is not None and policy.max_attempts == 4
    assert [policy.backoff(n) for n in (1, 2, 3)] == [0.25, 0.25, 0.25]
    exponential = RawRequestInput.model_validate(
        {"path": "/me", "max_retry_count": 3, "use_exponential_backoff": True}
    ).retry_policy()
    assert (
        exponential is not None
        and 0.25 <= exponential.backoff(1) <= 0.5
        and 1.0 <= exponential.backoff(3) <= 2.0
    )
    assert RawRequestInput.model_validate({"path": "/me"}).retry_policy() is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"method": "POST", "body": {"a": 1}, "form_data": {"a": "b"}}, "body"),
        ({"method": "POST", "form_data": {"a": "b"}, "headers": {"Content-Type": "text/plain"}}, "headers"),
        (
            {"method": "POST", "file_data": {"a": "b"}, "file_data_file_names": {"c": "c.txt"}},
            "file_data_file_names",
        ),
        ({"retry_delay_ms": 100}, "max_retry_count"),
        ({"max_retry_count": 11}, "max_retry_count"),
        ({"timeout_ms": 0}, "timeout_ms"),
        ({"method": "POST", "file_data": {"scan": {"data": "***", "contentType": "a/b"}}}, "file_data.scan"),
    ],
)
def test_bad_combinations_name_the_field_before_any_request(
    params: dict[str, Any], field: str, mocked: Runtime, scripted: Scripted
) -> None:
    with pytest.raises(InputValidationError) as info:
        _run(mocked, {"path": "/me/x", **params})
    assert field in [e.path for e in info.value.errors]
    assert scripted.requests == []


# -- on the sandbox ---------------------------------------------------------------------------------
def test_response_types_on_the_sandbox(runtime: Runtime, connection: Connection) -> None:
    listed = runtime.run_action(
        "list_messages", {"folder_id": "inbox", "filter": "hasAttachments eq true", "top": 5}, connection
    )
    message = listed["messages"][0]
    me = f"/users/{seed.DEFAULT_USER}" if connection.app_only else "/me"  # app-only has no /me
    mime = runtime.run_action(
        "raw_request", {"path": f"{me}/messages/{message['id']}/$value", "response_type": "text"}, connection
    )
    assert mime["body_base64"] is False and "Subject:" in mime["body"]
    attachments = runtime.run_action(
        "raw_request",
        {
            "path": f"{me}/messages/{message['id']}/attachments",
            "query": [{"key": "$select", "value": "id,name"}],
        },
        connection,
    )
    first = attachments["body"]["value"][0]
    raw = runtime.run_action(
        "raw_request",
        {
            "path": f"{me}/messages/{message['id']}/attachments/{first['id']}/$value",
            "response_type": "binary",
        },
        connection,
    )
    assert raw["body_base64"] is True and base64.b64decode(raw["body"])
    as_json = runtime.run_action(
        "raw_request",
        {"path": me, "response_type": "json", "timeout_ms": 20000, "max_retry_count": 1},
        connection,
    )
    assert as_json["body"]["userPrincipalName"]
