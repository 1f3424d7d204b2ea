"""Requests: URLs, headers, auth, JSON helpers, host pinning and the Prefer header."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from connector.errors import GraphError
from connector.http import GraphClient, prefer_header
from tests.http.conftest import BASE, TOKEN, BearerAuth, Recorder, graph_error

MakeClient = Callable[..., GraphClient]


def ok(body: object = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"ok": True})


def test_relative_path_headers_and_params(make_client: MakeClient) -> None:
    rec = Recorder(ok({"id": "1"}))
    client = make_client(rec, user_agent="outlook-connector/test")
    assert client.get_json("/me/messages", params={"$top": 5, "$select": "id"}) == {"id": "1"}
    (req,) = rec.requests
    assert str(req.url) == f"{BASE}/me/messages?%24top=5&%24select=id"
    assert req.headers["User-Agent"] == "outlook-connector/test"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["Authorization"] == f"Bearer {TOKEN}"
    assert uuid.UUID(req.headers["client-request-id"]).version == 4


def test_each_request_gets_its_own_client_request_id(make_client: MakeClient) -> None:
    rec = Recorder(ok(), ok())
    client = make_client(rec)
    client.get_json("me")  # no leading slash is fine
    client.get_json("/me")
    ids = {r.headers["client-request-id"] for r in rec.requests}
    assert len(ids) == 2
    assert all(str(r.url) == f"{BASE}/me" for r in rec.requests)


def test_caller_headers_are_sent(make_client: MakeClient) -> None:
    rec = Recorder(ok())
    client = make_client(rec)
    client.get_json("/me/messages", headers=prefer_header(body_content_type="text"))
    assert rec.requests[0].headers["Prefer"] == 'outlook.body-content-type="text"'


def test_absolute_url_on_same_host_is_allowed(make_client: MakeClient) -> None:
    rec = Recorder(ok(), ok())
    client = make_client(rec)
    client.get_json(f"{BASE}/me/messages?$skip=10")
    client.get_json("HTTPS://Graph.Microsoft.com:443/v1.0/me")  # same origin, spelled differently
    assert rec.requests[0].url.params["$skip"] == "10"
    assert rec.requests[1].url.host == "graph.microsoft.com"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/v1.0/me",
        "https://graph.microsoft.com.evil.example.com/v1.0/me",
        "http://graph.microsoft.com/v1.0/me",  # scheme downgrade
        "https://graph.microsoft.com:8443/v1.0/me",
        "https://user:pw@graph.microsoft.com/v1.0/me",
        "ftp://graph.microsoft.com/v1.0/me",
    ],
)
def test_absolute_url_elsewhere_is_refused_before_sending(make_client: MakeClient, url: str) -> None:
    rec = Recorder()
    client = make_client(rec)
    with pytest.raises(GraphError) as info:
        client.get_json(url)
    assert rec.calls == 0
    assert info.value.code in ("UntrustedHost", "InvalidUrl")
    assert TOKEN not in str(info.value)


def test_auth_false_sends_no_credentials_and_may_leave_the_graph_host(make_client: MakeClient) -> None:
    rec = Recorder(ok(status=201))
    client = make_client(rec)
    upload = "https://outlook.office.com/api/v2.0/AttachmentSessions('x')?authtoken=abc"
    response = client.request(
        "PUT", upload, content=b"0123", headers={"Content-Range": "bytes 0-3/4"}, auth=False
    )
    assert response.status_code == 201
    (req,) = rec.requests
    assert req.url.host == "outlook.office.com"
    assert "Authorization" not in req.headers
    assert req.content == b"0123"


def test_json_helpers(make_client: MakeClient) -> None:
    rec = Recorder(
        ok({"id": "d1"}, 201), httpx.Response(202), ok({"id": "d1", "subject": "x"}), httpx.Response(204)
    )
    client = make_client(rec)
    assert client.post_json("/me/messages", {"subject": "x"}) == {"id": "d1"}
    assert client.post_json("/me/sendMail", {"message": {}}) == {}
    assert client.patch_json("/me/messages/d1", {"subject": "x"}) == {"id": "d1", "subject": "x"}
    client.delete("/me/messages/d1")
    assert [r.method for r in rec.requests] == ["POST", "POST", "PATCH", "DELETE"]
    assert rec.requests[0].headers["Content-Type"] == "application/json"
    assert rec.requests[0].content == b'{"subject":"x"}'


def test_non_json_body_on_get_json_is_a_graph_error(make_client: MakeClient) -> None:
    client = make_client(Recorder(httpx.Response(200, text="MIME-Version: 1.0")))
    with pytest.raises(GraphError) as info:
        client.get_json("/me/messages/1/$value")
    assert info.value.code == "InvalidResponse"


def test_401_goes_through_the_auth_flow_not_the_retry_loop(make_client: MakeClient) -> None:
    auth = BearerAuth("old-token", "new-token")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer new-token":
            return ok({"id": "me"})
        return graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")

    rec = Recorder(handler, handler)
    client = make_client(rec, auth=auth)
    assert client.get_json("/me") == {"id": "me"}
    assert rec.calls == 2
    assert auth.refreshes == 1


def test_401_after_auth_gives_up_is_an_error_with_hint(make_client: MakeClient, waits: list[float]) -> None:
    rec = Recorder(graph_error(401, "InvalidAuthenticationToken", "Access token has expired."))
    client = make_client(rec)
    with pytest.raises(GraphError) as info:
        client.get_json("/me")
    assert info.value.status == 401
    assert "reconnect" in info.value.hint
    assert rec.calls == 1
    assert waits == []


def test_base_url_is_validated() -> None:
    with pytest.raises(ValueError):
        GraphClient("graph.microsoft.com/v1.0")
    with pytest.raises(ValueError):
        GraphClient("https://u:p@graph.microsoft.com/v1.0")


def test_trailing_slash_in_base_url(make_client: MakeClient) -> None:
    rec = Recorder(ok())
    client = make_client(rec, base_url="http://127.0.0.1:8765/v1.0/")
    client.get_json("/users/a@b.com")
    assert str(rec.requests[0].url) == "http://127.0.0.1:8765/v1.0/users/a@b.com"


def test_context_manager_closes() -> None:
    with GraphClient(BASE, transport=httpx.MockTransport(lambda r: ok())) as client:
        assert client.get_json("/me") == {"ok": True}
    with pytest.raises(RuntimeError):
        client.get_json("/me")


def test_prefer_header() -> None:
    assert prefer_header() == {}
    assert prefer_header(body_content_type="html") == {"Prefer": 'outlook.body-content-type="html"'}
    expected = (
        'outlook.body-content-type="text", outlook.timezone="Pacific Standard Time", IdType="ImmutableId"'
    )
    got = prefer_header(body_content_type="text", timezone="Pacific Standard Time", immutable_ids=True)
    assert got == {"Prefer": expected}
    assert prefer_header(immutable_ids=True, max_page_size=50) == {
        "Prefer": 'IdType="ImmutableId", odata.maxpagesize=50'
    }
    with pytest.raises(ValueError):
        prefer_header(body_content_type="rtf")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        prefer_header(timezone='UTC", x="y')
    with pytest.raises(ValueError):
        prefer_header(timezone="UTC\r\nX-Evil: 1")
