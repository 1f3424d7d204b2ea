"""Paging: nextLink followed whole and lazily, limits, host pinning and the delta cursor."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable

import httpx
import pytest

from connector.errors import GraphError
from connector.http import GraphClient
from tests.http.conftest import BASE, Recorder, page

MakeClient = Callable[..., GraphClient]


def items(start: int, n: int) -> list[dict[str, object]]:
    return [{"id": f"m{i}"} for i in range(start, start + n)]


def three_pages() -> Recorder:
    return Recorder(
        page(items(0, 10), f"{BASE}/me/messages?%24top=10&%24skip=10"),
        page(items(10, 10), f"{BASE}/me/messages?%24top=10&%24skip=20"),
        page(items(20, 5)),
    )


def test_follows_next_link_whole_without_re_adding_params(make_client: MakeClient) -> None:
    rec = three_pages()
    pages = make_client(rec).iter_pages(
        "/me/messages", params={"$top": 10, "$select": "id"}, headers={"Prefer": "x"}
    )
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [str(r.url) for r in rec.requests] == [
        f"{BASE}/me/messages?%24top=10&%24select=id",
        f"{BASE}/me/messages?%24top=10&%24skip=10",
        f"{BASE}/me/messages?%24top=10&%24skip=20",
    ]
    assert all(r.headers["Prefer"] == "x" for r in rec.requests)  # headers go with every page
    assert (pages.next_link, pages.delta_link, pages.page_count, pages.item_count) == (None, None, 3, 25)


@pytest.mark.parametrize("limit", [1, 9, 10, 11, 20, 24, 25, 26, 1000])
def test_iter_items_stops_exactly_at_max_items(make_client: MakeClient, limit: int) -> None:
    rec = three_pages()
    got = list(make_client(rec).iter_items("/me/messages", max_items=limit))
    assert [g["id"] for g in got] == [f"m{i}" for i in range(min(limit, 25))]
    assert rec.calls == min(3, -(-limit // 10))  # no page fetched beyond the one that fills the limit


def test_max_pages_keeps_the_resume_link(make_client: MakeClient) -> None:
    rec = three_pages()
    pages = make_client(rec).iter_pages("/me/messages", max_pages=2)
    assert sum(len(p) for p in pages) == 20
    assert rec.calls == 2
    assert pages.next_link == f"{BASE}/me/messages?%24top=10&%24skip=20"


def test_a_page_cut_short_resumes_at_the_first_item_not_returned(make_client: MakeClient) -> None:
    rec = three_pages()
    pages = make_client(rec).iter_pages("/me/messages", max_items=13)
    assert sum(len(p) for p in pages) == 13
    resumed = httpx.URL(pages.next_link or "")
    assert resumed.params["$skip"] == "13" and resumed.params["$top"] == "10"


def test_a_skiptoken_page_cut_short_gives_no_link_rather_than_lose_items(make_client: MakeClient) -> None:
    rec = Recorder(page(items(0, 10), f"{BASE}/me/events?%24skiptoken=abc"), page(items(10, 5)))
    pages = make_client(rec).iter_pages("/me/events", max_items=4)
    assert sum(len(p) for p in pages) == 4
    assert pages.next_link is None


def test_zero_limits_fetch_nothing(make_client: MakeClient) -> None:
    rec = Recorder()
    client = make_client(rec)
    assert list(client.iter_items("/me/messages", max_items=0)) == []
    assert list(client.iter_pages("/me/messages", max_pages=0)) == []
    assert rec.calls == 0


def test_pages_are_fetched_lazily(make_client: MakeClient) -> None:
    rec = three_pages()
    pages = make_client(rec).iter_pages("/me/messages")
    assert rec.calls == 0
    first = next(pages)
    assert len(first) == 10 and rec.calls == 1
    assert pages.next_link == f"{BASE}/me/messages?%24top=10&%24skip=10"
    it = make_client(three_pages()).iter_items("/me/messages")
    assert next(it) == {"id": "m0"}
    assert it.next_link is not None and it.pages.page_count == 1


def test_next_link_to_another_host_is_refused_and_nothing_sent(make_client: MakeClient) -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return page(items(0, 3), "https://evil.example.com/v1.0/me/messages?$skip=3")

    pages = make_client(handler).iter_pages("/me/messages")
    assert len(next(pages)) == 3  # the first page is handed on
    with pytest.raises(GraphError) as info:
        next(pages)
    assert info.value.code == "UntrustedHost"
    assert hosts == ["graph.microsoft.com"]


def test_next_link_pointing_at_itself_stops(make_client: MakeClient) -> None:
    client = make_client(Recorder(page(items(0, 2), f"{BASE}/me/messages?$skip=0")))
    pages = client.iter_pages(f"{BASE}/me/messages?$skip=0")
    with pytest.raises(GraphError) as info:
        list(pages)
    assert info.value.code == "PagingLoop"


def test_delta_link_is_kept_as_the_cursor(make_client: MakeClient) -> None:
    delta = f"{BASE}/me/mailFolders/inbox/messages/delta?$deltatoken=abc"
    rec = Recorder(
        page(items(0, 2), f"{BASE}/me/mailFolders/inbox/messages/delta?$skiptoken=s1"),
        page([{"id": "m0", "@removed": {"reason": "deleted"}}], delta_link=delta),
    )
    it = make_client(rec).iter_items("/me/mailFolders/inbox/messages/delta", params={"$select": "subject"})
    assert it.delta_link is None
    got = list(it)
    assert len(got) == 3 and got[-1]["@removed"] == {"reason": "deleted"}
    assert it.delta_link == delta and it.next_link is None


def test_page_link_as_start_and_empty_pages(make_client: MakeClient) -> None:
    rec = Recorder(page([], f"{BASE}/me/messages?$skip=5"), page(items(5, 1)))
    pages = make_client(rec).iter_pages(f"{BASE}/me/messages?$skip=0")
    assert list(pages) == [[], [{"id": "m5"}]]


def test_100k_items_stream_with_flat_memory(make_client: MakeClient) -> None:
    """A generator-backed Graph: each page is built when requested, and nothing accumulates."""
    page_size, total = 1000, 100_000
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        skip = int(request.url.params.get("$skip", "0"))
        served.append(skip)
        body: dict[str, object] = {
            "value": [{"id": f"m{i}", "subject": "s" * 40} for i in range(skip, skip + page_size)]
        }
        if skip + page_size < total:
            body["@odata.nextLink"] = f"{BASE}/me/messages?$top={page_size}&$skip={skip + page_size}"
        return httpx.Response(
            200, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )

    client = make_client(handler)
    it = client.iter_items("/me/messages", params={"$top": page_size})
    assert next(it)["id"] == "m0"
    assert served == [0]  # one page requested, not all of them

    tracemalloc.start()
    try:
        count = 1
        for item in it:
            count += 1
            last = item["id"]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == total and last == f"m{total - 1}"
    assert len(served) == total // page_size
    # A few pages' worth (JSON text + decoded dicts) at most; holding 100k items would be ~30 MB.
    assert peak < 5_000_000, peak
