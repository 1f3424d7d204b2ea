"""Graph error answers become GraphError with code, request-id and a hint; no secret ever leaks."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from connector._graph_errors import redact
from connector.errors import GraphError
from connector.http import GraphClient, RetryPolicy
from tests.http.conftest import TOKEN, Recorder, graph_error

MakeClient = Callable[..., GraphClient]


def error_for(
    make_client: MakeClient, response: httpx.Response, method: str = "GET", path: str = "/me"
) -> GraphError:
    client = make_client(Recorder(response), retry=RetryPolicy(max_attempts=1))
    with pytest.raises(GraphError) as info:
        client.request(method, path, json={} if method != "GET" else None)
    return info.value


def test_graph_error_body_is_parsed(make_client: MakeClient) -> None:
    err = error_for(
        make_client,
        graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store."),
        path="/me/messages/AAMk",
    )
    assert err.status == 404
    assert err.code == "ErrorItemNotFound"
    assert err.graph_message == "The specified object was not found in the store."
    assert err.request_id == "rid-1"
    assert err.date == "2024-01-01T00:00:00"
    assert "does not exist in this mailbox" in err.hint
    assert str(err).startswith("Graph error 404 ErrorItemNotFound: The specified object was not found")
    assert "(request-id rid-1)" in str(err)
    assert err.to_dict()["code"] == "ErrorItemNotFound"


def test_request_id_and_date_from_headers_when_body_has_none(make_client: MakeClient) -> None:
    response = httpx.Response(
        404,
        json={"error": {"code": "ErrorItemNotFound", "message": "nope"}},
        headers={"request-id": "hdr-rid", "Date": "Mon, 01 Jan 2024 00:00:00 GMT"},
    )
    err = error_for(make_client, response)
    assert (err.request_id, err.date) == ("hdr-rid", "Mon, 01 Jan 2024 00:00:00 GMT")


@pytest.mark.parametrize(
    ("status", "code", "message", "method", "path", "hint_part"),
    [
        (403, "ErrorAccessDenied", "Access is denied.", "GET", "/me/messages", "Mail.Read"),
        (403, "ErrorAccessDenied", "Access is denied.", "POST", "/users/x/sendMail", "Mail.Send"),
        (403, "ErrorAccessDenied", "Access is denied.", "PATCH", "/me/events/1", "Calendars.ReadWrite"),
        (403, "Authorization_RequestDenied", "Insufficient privileges.", "GET", "/users/x", "User.Read.All"),
        (401, "InvalidAuthenticationToken", "Access token has expired.", "GET", "/me", "reconnect"),
        (
            404,
            "MailboxNotEnabledForRESTAPI",
            "REST API is not yet supported.",
            "GET",
            "/users/x/messages",
            "on-premises",
        ),
        (400, "ErrorInvalidIdMalformed", "Id is malformed.", "GET", "/me/messages/bad", "copied wrong"),
        (404, "ErrorInvalidUser", "The requested user is invalid.", "GET", "/users/x/messages", "user_id"),
        (404, "Request_ResourceNotFound", "Resource does not exist.", "GET", "/users/x", "not found"),
        (
            429,
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
            "GET",
            "/me",
            "throttled",
        ),
        (507, "ErrorQuotaExceeded", "The mailbox quota is exceeded.", "POST", "/me/messages", "quota"),
        (
            400,
            "ErrorMessageSizeExceeded",
            "The message exceeds the maximum size.",
            "POST",
            "/me/sendMail",
            "3 MB",
        ),
        (413, "RequestEntityTooLarge", "Too large.", "POST", "/me/messages/1/attachments", "upload session"),
        (
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
            "GET",
            "/me/messages",
            "app-only connections must name a mailbox",
        ),
        (
            400,
            "ErrorInvalidRecipients",
            "At least one recipient is not valid.",
            "POST",
            "/me/sendMail",
            "recipient",
        ),
        (
            403,
            "ErrorSendAsDenied",
            "The user account does not have the right to send.",
            "POST",
            "/me/sendMail",
            "Send As",
        ),
        (
            410,
            "SyncStateNotFound",
            "The sync state was not found.",
            "GET",
            "/me/messages/delta",
            "full resync",
        ),
    ],
)
def test_hints_for_common_codes(
    make_client: MakeClient, status: int, code: str, message: str, method: str, path: str, hint_part: str
) -> None:
    err = error_for(make_client, graph_error(status, code, message), method, path)
    assert (err.status, err.code, err.graph_message) == (status, code, message)
    assert hint_part.lower() in err.hint.lower()
    assert err.hint in str(err)


def test_bad_request_that_is_not_about_me_gets_no_app_only_hint(make_client: MakeClient) -> None:
    err = error_for(make_client, graph_error(400, "BadRequest", "Invalid filter clause"), path="/me/messages")
    assert "app-only" not in err.hint


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(502, html="<html><body><h1>502 Bad Gateway</h1></body></html>"), "Bad Gateway"),
        (httpx.Response(500, content=b""), "Internal Server Error"),
        (httpx.Response(500, text="upstream connect error"), "Internal Server Error: upstream connect error"),
        (
            httpx.Response(500, content=b"{not json", headers={"content-type": "application/json"}),
            "Internal Server",
        ),
        (httpx.Response(400, json={"error": "invalid_request", "error_description": "bad"}), "bad"),
        (httpx.Response(400, json=["not", "an", "object"]), "Bad Request"),
        (httpx.Response(400, json={"error": {"code": None, "message": None}}), "Bad Request"),
    ],
)
def test_non_graph_bodies_are_tolerated(
    make_client: MakeClient, response: httpx.Response, message: str
) -> None:
    err = error_for(make_client, response)
    assert err.status == response.status_code
    assert err.graph_message.startswith(message)
    assert "<html>" not in str(err)


def test_redirect_is_an_error_not_followed(make_client: MakeClient) -> None:
    rec = Recorder(httpx.Response(302, headers={"Location": "https://elsewhere.example.com/x"}))
    client = make_client(rec)
    with pytest.raises(GraphError) as info:
        client.get_json("/me/photo/$value")
    assert info.value.status == 302 and rec.calls == 1


def test_no_token_in_errors_or_logs(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJl"
    echo = f"Bearer {TOKEN} was refused; token {jwt}; see https://graph.microsoft.com/v1.0/me?access_token={TOKEN}"
    rec = Recorder(
        graph_error(429, "ApplicationThrottled", "slow", headers={"Retry-After": "1"}),
        httpx.ConnectError(f"failed for https://graph.microsoft.com/v1.0/me?code={TOKEN}"),
        graph_error(401, "InvalidAuthenticationToken", echo),
    )
    client = make_client(rec, logger=logging.getLogger("test.graph.secrets"))
    with caplog.at_level(logging.DEBUG), pytest.raises(GraphError) as info:
        client.get_json(f"/me/messages?$skiptoken={TOKEN}", params={"$search": f'"{TOKEN}"'})
    assert rec.calls == 3
    err = info.value
    texts = [str(err), repr(err.to_dict()), err.hint, err.graph_message, caplog.text]
    for text in texts:
        assert TOKEN not in text
        assert jwt not in text
    assert "[redacted]" in err.graph_message


def test_no_token_in_outcome_unknown_or_connection_errors(make_client: MakeClient) -> None:
    rec = Recorder(httpx.ReadError(f"reset while sending Authorization: Bearer {TOKEN}"))
    with pytest.raises(GraphError) as info:
        make_client(rec).post_json("/me/sendMail", {})
    assert TOKEN not in str(info.value)
    assert info.value.code == "RequestOutcomeUnknown"

    rec = Recorder(httpx.UnsupportedProtocol(f"bad url https://x/?sig={TOKEN}"))
    with pytest.raises(GraphError) as info:
        make_client(rec).get_json("/me")
    assert TOKEN not in str(info.value)


def test_redact() -> None:
    assert redact("Authorization: Bearer abc.def") == "Authorization: [redacted]"
    assert redact("go to https://h/p?authtoken=x&a=1 now") == "go to https://h/p?[query removed] now"
    assert redact("eyJhbGciOi.eyJzdWIiOi.sig") == "[redacted]"
    assert redact("plain message") == "plain message"
