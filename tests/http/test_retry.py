"""Retries: Retry-After, backoff, budgets, and the rules that keep a POST from being applied twice."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from connector._retry import RetryPolicy, equal_jitter, parse_retry_after
from connector.errors import GraphError
from connector.http import GraphClient
from tests.http.conftest import TOKEN, Recorder, graph_error

MakeClient = Callable[..., GraphClient]


def ok() -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


def throttled(retry_after: str | None = None, status: int = 429) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    code = {429: "ApplicationThrottled", 503: "ServiceUnavailable", 504: "GatewayTimeout"}[status]
    return graph_error(status, code, "slow down", headers=headers)


# -- Retry-After -------------------------------------------------------------------------------
def test_retry_after_integer_seconds(make_client: MakeClient, waits: list[float]) -> None:
    rec = Recorder(throttled("3"), ok())
    assert make_client(rec).get_json("/me/messages") == {"ok": True}
    assert rec.calls == 2
    assert waits == [3.0]


def test_retry_after_fractional_seconds(make_client: MakeClient, waits: list[float]) -> None:
    rec = Recorder(throttled("0.5"), throttled("1.25"), ok())
    make_client(rec).get_json("/me/messages")
    assert waits == [0.5, 1.25]


def test_retry_after_http_date(make_client: MakeClient, waits: list[float]) -> None:
    when = datetime.fromtimestamp(datetime.now(UTC).timestamp() + 5, UTC)
    rec = Recorder(throttled(format_datetime(when, usegmt=True)), ok())
    make_client(rec).get_json("/me/messages")
    assert len(waits) == 1
    assert 3.0 <= waits[0] <= 5.0


def test_parse_retry_after() -> None:
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0.25 ") == 0.25
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("Mon, 01 Jan 2024 11:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after("Mon, 01 Jan 2024 12:00:02 -0000", now=now) == 2.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None


# -- backoff and budgets -----------------------------------------------------------------------
def test_backoff_without_retry_after_is_exponential_and_capped(
    make_client: MakeClient, waits: list[float]
) -> None:
    policy = RetryPolicy(
        max_attempts=6, backoff_base=0.5, backoff_max=2.0, max_total_wait=100, jitter=lambda d: d
    )
    rec = Recorder(*[throttled(status=503) for _ in range(5)], ok())
    make_client(rec, retry=policy).get_json("/me")
    assert waits == [0.5, 1.0, 2.0, 2.0, 2.0]


def test_default_jitter_stays_between_half_and_full_delay() -> None:
    for _ in range(200):
        assert 1.0 <= equal_jitter(2.0) <= 2.0
    policy = RetryPolicy()
    assert all(0 < policy.backoff(n) <= policy.backoff_max for n in range(1, 20))


def test_max_attempts_exhausted_raises_the_last_answer(make_client: MakeClient, waits: list[float]) -> None:
    rec = Recorder(*[throttled("1") for _ in range(5)])
    with pytest.raises(GraphError) as info:
        make_client(rec).get_json("/me/messages")
    err = info.value
    assert rec.calls == 5
    assert waits == [1.0] * 4
    assert (err.status, err.code, err.retry_after) == (429, "ApplicationThrottled", 1.0)
    assert "Retried 4 times" in err.hint
    assert err.request_id == "rid-1"


def test_budget_exhausted_stops_before_a_wait_that_would_exceed_it(
    make_client: MakeClient, waits: list[float]
) -> None:
    policy = RetryPolicy(max_attempts=10, max_total_wait=60, jitter=lambda d: d)
    rec = Recorder(throttled("40"), throttled("40"))
    with pytest.raises(GraphError) as info:
        make_client(rec, retry=policy).get_json("/me/messages")
    assert waits == [40.0]  # the second 40 s wait would pass the 60 s budget
    assert rec.calls == 2
    assert info.value.retry_after == 40.0
    assert "Retried 1 time." in info.value.hint


def test_retry_after_longer_than_the_budget_is_not_waited(
    make_client: MakeClient, waits: list[float]
) -> None:
    rec = Recorder(throttled("3600"))
    with pytest.raises(GraphError) as info:
        make_client(rec).get_json("/me")
    assert waits == []
    assert info.value.retry_after == 3600.0


def test_non_retryable_status_is_not_retried(make_client: MakeClient, waits: list[float]) -> None:
    rec = Recorder(graph_error(500, "UnknownError"))
    with pytest.raises(GraphError) as info:
        make_client(rec).get_json("/me")
    assert rec.calls == 1 and waits == [] and info.value.status == 500


def test_retry_statuses_are_configurable(make_client: MakeClient, waits: list[float]) -> None:
    policy = RetryPolicy(retry_statuses=(429,), jitter=lambda d: d)
    rec = Recorder(throttled("1", status=503))
    with pytest.raises(GraphError):
        make_client(rec, retry=policy).get_json("/me")
    assert rec.calls == 1


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
        httpx.ReadError("connection reset"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.PoolTimeout("no free connection"),
    ],
)
def test_connection_errors_are_retried_for_idempotent_requests(
    make_client: MakeClient, waits: list[float], exc: Exception
) -> None:
    rec = Recorder(exc, ok())
    assert make_client(rec).get_json("/me") == {"ok": True}
    assert rec.calls == 2 and waits == [0.5]


def test_connection_errors_exhausted(make_client: MakeClient, waits: list[float]) -> None:
    rec = Recorder(*[httpx.ConnectError("connection refused") for _ in range(5)])
    with pytest.raises(GraphError) as info:
        make_client(rec).get_json("/me")
    assert rec.calls == 5
    assert waits == [0.5, 1.0, 2.0, 4.0]
    assert (info.value.status, info.value.code) == (0, "ConnectionError")
    assert isinstance(info.value.__cause__, httpx.ConnectError)

    rec = Recorder(*[httpx.ReadTimeout("read timed out") for _ in range(5)])
    with pytest.raises(GraphError) as info:
        make_client(rec).get_json("/me")
    assert info.value.code == "Timeout"


def test_unsupported_transport_error_is_not_retried(make_client: MakeClient) -> None:
    rec = Recorder(httpx.UnsupportedProtocol("nope"))
    with pytest.raises(GraphError) as info:
        make_client(rec).get_json("/me")
    assert rec.calls == 1 and info.value.code == "ConnectionError"


# -- non-idempotent requests (sendMail must never be sent twice) ----------------------------------
SEND = "/me/sendMail"
BODY = {"message": {"subject": "hi"}}


@pytest.mark.parametrize(
    "first",
    [
        lambda: throttled("2"),  # Graph refused it before processing
        lambda: throttled("2", status=503),  # Graph says 503 before processing
        lambda: httpx.ConnectError("connection refused"),  # never reached Graph
        lambda: httpx.ConnectTimeout("connect timed out"),
        lambda: httpx.PoolTimeout("no free connection"),
    ],
)
def test_post_is_retried_when_graph_provably_did_not_process_it(
    make_client: MakeClient, waits: list[float], first: Callable[[], httpx.Response | Exception]
) -> None:
    rec = Recorder(first(), httpx.Response(202))
    assert make_client(rec).post_json(SEND, BODY) == {}
    assert rec.calls == 2
    assert len(waits) == 1
    assert rec.requests[0].content == rec.requests[1].content  # same body resent


@pytest.mark.parametrize(
    ("first", "status"),
    [
        (lambda: throttled(status=504), 504),
        (lambda: httpx.ReadTimeout("read timed out"), 0),
        (lambda: httpx.ReadError("connection reset by peer"), 0),
        (lambda: httpx.RemoteProtocolError("Server disconnected without sending a response."), 0),
        (lambda: httpx.WriteError("broken pipe"), 0),
        (lambda: httpx.WriteTimeout("write timed out"), 0),
    ],
)
def test_post_is_not_retried_when_it_may_have_been_applied(
    make_client: MakeClient, waits: list[float], first: Callable[[], httpx.Response | Exception], status: int
) -> None:
    rec = Recorder(first(), httpx.Response(202))
    with pytest.raises(GraphError) as info:
        make_client(rec).post_json(SEND, BODY)
    err = info.value
    assert rec.calls == 1
    assert waits == []
    assert err.code == "RequestOutcomeUnknown"
    assert err.status == status
    assert "may or may not have been applied" in str(err)
    assert "POST /me/sendMail" in str(err)


def test_idempotent_true_lets_a_post_retry_like_a_get(make_client: MakeClient, waits: list[float]) -> None:
    # getSchedule only reads: safe to repeat, so the caller marks it idempotent.
    rec = Recorder(throttled(status=504), httpx.ReadError("reset"), httpx.Response(200, json={"value": []}))
    client = make_client(rec)
    body = {"schedules": ["adele@contoso.com"], "startTime": {}, "endTime": {}}
    assert client.post_json("/me/calendar/getSchedule", body, idempotent=True) == {"value": []}
    assert rec.calls == 3


def test_idempotent_false_makes_a_patch_careful(make_client: MakeClient) -> None:
    rec = Recorder(throttled(status=504))
    with pytest.raises(GraphError) as info:
        make_client(rec).request("PATCH", "/me/messages/1", json={"isRead": True}, idempotent=False)
    assert info.value.code == "RequestOutcomeUnknown" and rec.calls == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/me/messages/1"),
        ("PUT", "/me/photo/$value"),
        ("DELETE", "/me/messages/1"),
        ("PATCH", "/me/messages/1"),
    ],
)
def test_idempotent_methods_retry_504_and_read_errors(
    make_client: MakeClient, method: str, path: str
) -> None:
    rec = Recorder(throttled(status=504), httpx.ReadError("reset"), httpx.Response(204))
    body = b"\x89PNG" if method == "PUT" else None
    response = make_client(rec).request(method, path, content=body, json={} if method == "PATCH" else None)
    assert response.status_code == 204
    assert rec.calls == 3


# -- logging -------------------------------------------------------------------------------------
def test_retries_are_logged_without_query_or_token(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder(throttled("1"), httpx.ConnectError("refused"), ok())
    client = make_client(rec, logger=logging.getLogger("test.graph"))
    with caplog.at_level(logging.DEBUG, logger="test.graph"):
        client.get_json("/me/messages?$skiptoken=SECRET-SKIP", params={"$filter": "subject eq 'SECRET'"})
    retries = [r for r in caplog.records if r.name == "test.graph"]
    assert len(retries) == 2
    assert all(r.levelno == logging.WARNING for r in retries)
    text = caplog.text
    assert "GET /v1.0/me/messages" in text
    assert "429" in text and "ConnectError" in text and "attempt 1 of 5" in text and "1.00s" in text
    for secret in ("SECRET", TOKEN, "Bearer", "filter"):
        assert secret not in text
