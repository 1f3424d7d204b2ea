"""The Graph client sends only requests that address what their path says, and only its own errors.

A path whose segments the URL layer would drop or merge (``..``, ``.``, empty; encoded ones too), a
URL too long or with control characters, a header with a line break or a non-ASCII character: each
is a ``GraphError`` before anything is sent (the last line behind the input checks).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from connector.context import quote_segment
from connector.errors import GraphError, InvalidIdError
from connector.http import GraphClient
from tests.http.conftest import BASE


@pytest.fixture
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture
def client(make_client: Callable[..., GraphClient], sent: list[httpx.Request]) -> GraphClient:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    return make_client(answer)


@pytest.mark.parametrize(
    "path",
    [
        "/me/messages/..",
        "/me/messages/x/attachments/..",
        "/users/./messages",
        "/me/messages/%2e%2E",
        "/me//messages",
        "/me/messages/%20",
        "me/messages/../../users",
        BASE + "/me/messages/../../users",
        "/",
    ],
)
def test_paths_with_dot_or_empty_segments_are_not_sent(
    client: GraphClient, sent: list[httpx.Request], path: str
) -> None:
    with pytest.raises(GraphError) as caught:
        client.request("DELETE", path)
    assert caught.value.code == "InvalidUrl"
    assert sent == []


@pytest.mark.parametrize(
    "link",
    [
        BASE + "/me/messages?$skip=10\r\nX-Injected: 1",
        BASE + "/me/\x00messages",
        BASE + "/me/messages?$skiptoken=" + "a" * 1024 * 1024,
        "/me/messages/" + "A" * 1024 * 1024,
    ],
    ids=["CRLF", "NUL", "1 MB link", "1 MB path"],
)
def test_bad_links_are_graph_errors_not_httpx_exceptions(
    client: GraphClient, sent: list[httpx.Request], link: str
) -> None:
    with pytest.raises(GraphError) as caught:
        client.get_json(link)
    assert caught.value.code == "InvalidUrl"
    assert sent == []


@pytest.mark.parametrize(
    "headers",
    [{"X-Note": "a\r\nInjected: yes"}, {"Prefer": "caf\u00e9"}, {"Pr\u00e9fer": "x"}, {"Bad Name": "x"}],
)
def test_headers_that_cannot_be_sent_as_given_are_refused_before_sending(
    client: GraphClient, sent: list[httpx.Request], headers: dict[str, str]
) -> None:
    with pytest.raises(GraphError) as caught:
        client.post_json("/me/sendMail", {}, headers=headers)
    assert caught.value.code == "InvalidRequest"
    assert "outcome" not in caught.value.message  # nothing was sent, so the outcome is known
    assert sent == []


def test_an_id_is_always_exactly_one_segment(client: GraphClient, sent: list[httpx.Request]) -> None:
    for odd in ["../..", "a/../b", "%2e%2e", "x?$top=1#y", ". .", "\u00e9/\r\n"]:
        client.get_json(f"/me/messages/{quote_segment(odd)}/attachments")
    assert [len(r.url.raw_path.split(b"/")) for r in sent] == [6] * 6
    assert [r.url.raw_path.split(b"/")[4] for r in sent] == [
        quote_segment(o).encode("ascii")
        for o in ["../..", "a/../b", "%2e%2e", "x?$top=1#y", ". .", "\u00e9/\r\n"]
    ]


@pytest.mark.parametrize("value", ["", ".", "..", "  ", "\t", "A" * 1025])
def test_ids_that_cannot_be_one_segment_are_refused_where_the_path_is_built(value: str) -> None:
    with pytest.raises(InvalidIdError) as caught:
        quote_segment(value)
    assert "is not a valid id" in caught.value.reason
