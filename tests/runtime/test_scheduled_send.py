"""Scheduled send at the HTTP boundary: `send_at` puts PidTagDeferredSendTime (SystemTime 0x3FEF) on
the message in the request that sends it; a time already past sends now, without it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from connector.errors import InputValidationError
from connector.runtime import Runtime
from tests.runtime.conftest import FakeGraph
from tests.support.connections import StaticConnection

DEFERRED = "SystemTime 0x3FEF"
LATER = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
LATER_IN_PARIS = LATER.astimezone(ZoneInfo("Europe/Paris")).isoformat()
LATER_UTC = LATER.strftime("%Y-%m-%dT%H:%M:%SZ")
PAST = "2020-01-01T08:00:00+00:00"


def _deferred(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in message.get("singleValueExtendedProperties", []) if p["id"] == DEFERRED]


def _bodies(graph: FakeGraph) -> list[tuple[str, str, Any]]:
    return [(r.method, r.url.path, json.loads(r.content) if r.content else None) for r in graph.requests]


def test_send_message_at_a_later_time_carries_the_deferred_send_time_in_utc(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(202)
    out = runtime.run_action(
        "send_message",
        {"to": ["megan@contoso.com"], "subject": "Later", "send_at": LATER_IN_PARIS},
        connection,
    )
    [(method, path, body)] = _bodies(graph)
    assert (method, path) == ("POST", "/v1.0/me/sendMail")
    assert _deferred(body["message"]) == [{"id": DEFERRED, "value": LATER_UTC}]
    assert out["scheduled_for"] == LATER_UTC and out["sent"] is True


def test_a_send_at_in_the_past_sends_now(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(202)
    out = runtime.run_action(
        "send_message", {"to": ["megan@contoso.com"], "subject": "Now", "send_at": PAST}, connection
    )
    [(_, _, body)] = _bodies(graph)
    assert "singleValueExtendedProperties" not in body["message"]
    assert out["scheduled_for"] is None


def test_a_send_at_without_a_time_zone_is_refused_before_any_request(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_action(
            "send_message",
            {"to": ["megan@contoso.com"], "send_at": "2030-01-01T08:00:00"},
            connection,
        )
    assert [e.path for e in caught.value.errors] == ["send_at"]
    assert graph.requests == []


@pytest.mark.parametrize(
    ("key", "kind", "extra"),
    [
        ("reply_to_message", "reply", {}),
        ("reply_all_to_message", "replyAll", {}),
        ("forward_message", "forward", {"to": ["alex@contoso.com"]}),
    ],
)
def test_reply_and_forward_put_the_time_on_the_response_message(
    runtime: Runtime,
    graph: FakeGraph,
    connection: StaticConnection,
    key: str,
    kind: str,
    extra: dict[str, Any],
) -> None:
    graph.handler = lambda request: httpx.Response(202)
    out = runtime.run_action(
        key, {"message_id": "AAMk1", "comment": "Later.", "send_at": LATER_IN_PARIS, **extra}, connection
    )
    [(method, path, body)] = _bodies(graph)
    assert (method, path) == ("POST", f"/v1.0/me/messages/AAMk1/{kind}")
    assert body["comment"] == "Later."
    assert _deferred(body["message"]) == [{"id": DEFERRED, "value": LATER_UTC}]
    assert out["scheduled_for"] == LATER_UTC


def test_response_drafts_take_no_send_at(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    with pytest.raises(InputValidationError) as caught:
        runtime.run_action(
            "create_reply_draft", {"message_id": "AAMk1", "send_at": LATER_IN_PARIS}, connection
        )
    assert [e.path for e in caught.value.errors] == ["send_at"] and graph.requests == []


def test_send_draft_later_sets_the_time_on_the_draft_then_sends_it(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(
        200 if request.method == "PATCH" else 202, json={"id": "d1"} if request.method == "PATCH" else None
    )
    out = runtime.run_action(
        "send_draft",
        {"message_id": "d1", "user_id": "shared@contoso.com", "send_at": LATER_IN_PARIS},
        connection,
    )
    assert _bodies(graph) == [
        (
            "PATCH",
            "/v1.0/users/shared@contoso.com/messages/d1",
            {"singleValueExtendedProperties": [{"id": DEFERRED, "value": LATER_UTC}]},
        ),
        ("POST", "/v1.0/users/shared@contoso.com/messages/d1/send", None),
    ]
    assert out == {"sent": True, "id": "d1", "scheduled_for": LATER_UTC}


def test_send_draft_now_is_one_request(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    graph.handler = lambda request: httpx.Response(202)
    runtime.run_action("send_draft", {"message_id": "d1", "send_at": PAST}, connection)
    assert [(m, p) for m, p, _ in _bodies(graph)] == [("POST", "/v1.0/me/messages/d1/send")]


def test_a_large_attachment_goes_through_a_draft_that_carries_the_time(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    """A file of 3 MB or more: the draft is created with the deferred-send time, filled, then sent."""
    import base64

    size = 3 * 1024 * 1024 + 10

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/createUploadSession"):
            return httpx.Response(
                201, json={"uploadUrl": "https://upload.example.com/u1", "nextExpectedRanges": ["0-"]}
            )
        if request.url.host == "upload.example.com":
            end = int(request.headers["Content-Range"].split("-")[1].split("/")[0])
            if end + 1 >= size:
                return httpx.Response(
                    201,
                    headers={
                        "Location": "https://graph.microsoft.com/v1.0/me/messages('d9')/Attachments('a1')"
                    },
                )
            return httpx.Response(200, json={"nextExpectedRanges": [f"{end + 1}-"]})
        if path == "/v1.0/me/messages":
            return httpx.Response(201, json={"id": "d9"})
        return httpx.Response(202)

    graph.handler = handle
    big = base64.b64encode(b"x" * size).decode()
    runtime.run_action(
        "send_message",
        {
            "to": ["megan@contoso.com"],
            "send_at": LATER_IN_PARIS,
            "attachments": [{"name": "big.bin", "content_base64": big}],
        },
        connection,
    )
    created = json.loads(graph.requests[0].content)
    assert graph.requests[0].url.path == "/v1.0/me/messages"
    assert _deferred(created) == [{"id": DEFERRED, "value": LATER_UTC}]
    assert (graph.requests[-1].method, graph.requests[-1].url.path) == ("POST", "/v1.0/me/messages/d9/send")


def test_templated_messages_each_carry_the_time(
    runtime: Runtime, graph: FakeGraph, connection: StaticConnection
) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        subs = json.loads(request.content)["requests"]
        return httpx.Response(200, json={"responses": [{"id": s["id"], "status": 202} for s in subs]})

    graph.handler = handle
    out = runtime.run_action(
        "send_templated_messages",
        {
            "subject_template": "Hi {{Name}}",
            "body_template": "<p>Hello {{Name}}</p>",
            "to_column": "Email",
            "rows": [{"Email": "a@contoso.com", "Name": "A"}, {"Email": "b@contoso.com", "Name": "B"}],
            "send_at": LATER_IN_PARIS,
        },
        connection,
    )
    subs = json.loads(graph.requests[0].content)["requests"]
    assert [_deferred(s["body"]["message"]) for s in subs] == [[{"id": DEFERRED, "value": LATER_UTC}]] * 2
    assert out["sent"] == 2 and out["scheduled_for"] == LATER_UTC


def test_a_templated_rerun_after_the_send_time_passed_does_not_send_again(
    graph: FakeGraph, connection: StaticConnection, tmp_path: Path
) -> None:
    """The run_id journal knows a row by its message, not by its send time (recomputed by a flow,
    or past by the time it runs again)."""
    from connector.policy import PRESETS, PolicyGate
    from connector.store import Store

    def handle(request: httpx.Request) -> httpx.Response:
        subs = json.loads(request.content)["requests"]
        return httpx.Response(200, json={"responses": [{"id": s["id"], "status": 202} for s in subs]})

    graph.handler = handle
    rows = [{"Email": "a@contoso.com", "Name": "A"}]
    base = {"subject_template": "Hi {{Name}}", "body_template": "Hello", "to_column": "Email", "rows": rows}
    with (
        Store(tmp_path / "state.db") as store,
        Runtime(
            strict_output=True,
            store=store,
            transport=httpx.MockTransport(graph),
            gate=PolicyGate(policy=PRESETS["open"]),
        ) as runtime,
    ):
        first = runtime.run_action(
            "send_templated_messages", {**base, "run_id": "r1", "send_at": LATER_IN_PARIS}, connection
        )
        again = runtime.run_action(
            "send_templated_messages", {**base, "run_id": "r1", "send_at": PAST}, connection
        )
    assert first["rows"][0]["status"] == "sent" and again["rows"][0]["status"] == "already_sent"
    assert len(graph.requests) == 1
