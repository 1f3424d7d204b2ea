"""Lazy iteration over Graph collection pages (``@odata.nextLink``) with the cursors kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from connector.errors import GraphError

Page = list[dict[str, Any]]
# fetch(path_or_url, params) -> the decoded JSON page; params only for the first request.
Fetch = Callable[[str, Mapping[str, Any] | None], dict[str, Any]]


class PageIterator(Iterator[Page]):
    """Fetches one page per ``next()``; nothing is fetched before the first.

    After (or during) iteration:

    - ``next_link``: Graph's ``@odata.nextLink`` of the last page fetched, i.e. where to resume;
      None once the collection is exhausted. When ``max_items`` cut the last page short, a
      ``$skip`` link (Outlook's paging) is moved back to the first item not returned; a link that
      cannot be moved back (``$skiptoken``) becomes None rather than skip items silently.
    - ``delta_link``: the ``@odata.deltaLink`` of the last page (delta queries), else None.
    - ``page_count`` / ``item_count``: pages fetched and items yielded.
    """

    def __init__(
        self,
        fetch: Fetch,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_items: int | None = None,
        max_pages: int | None = None,
    ) -> None:
        self._fetch = fetch
        self._url: str | None = path
        self._params = params
        self._max_items = max_items
        self._max_pages = max_pages
        self._done = (max_items is not None and max_items <= 0) or (max_pages is not None and max_pages <= 0)
        self.next_link: str | None = None
        self.delta_link: str | None = None
        self.page_count = 0
        self.item_count = 0

    def __iter__(self) -> PageIterator:
        return self

    def __next__(self) -> Page:
        url = self._url
        if self._done or url is None:
            raise StopIteration
        page = self._fetch(url, self._params)
        self._params = None  # the nextLink carries the query ($skip / $skiptoken) itself
        self.page_count += 1
        items = page.get("value")
        if not isinstance(items, list):
            items = []
        link = page.get("@odata.nextLink")
        self.next_link = link if isinstance(link, str) and link else None
        delta = page.get("@odata.deltaLink")
        if isinstance(delta, str) and delta:
            self.delta_link = delta
        if self.next_link is not None and self.next_link == url:
            self._done = True
            raise GraphError("Graph returned a nextLink pointing at the page just read", code="PagingLoop")
        self._url = self.next_link
        if self._max_items is not None:
            remaining = self._max_items - self.item_count
            if len(items) >= remaining:
                if len(items) > remaining:
                    self.next_link = _resume_link(self.next_link, len(items) - remaining)
                    items = items[:remaining]
                self._done = True
        if self._max_pages is not None and self.page_count >= self._max_pages:
            self._done = True
        self.item_count += len(items)
        return items

    def items(self) -> ItemIterator:
        """The same iteration, item by item."""
        return ItemIterator(self)


class ItemIterator(Iterator[dict[str, Any]]):
    """Items of a :class:`PageIterator`, flattened; ``next_link`` / ``delta_link`` as on the pages."""

    def __init__(self, pages: PageIterator) -> None:
        self.pages = pages
        self._items: Iterator[dict[str, Any]] = (item for page in pages for item in page)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._items

    def __next__(self) -> dict[str, Any]:
        return next(self._items)

    @property
    def next_link(self) -> str | None:
        return self.pages.next_link

    @property
    def delta_link(self) -> str | None:
        return self.pages.delta_link


def _resume_link(next_link: str | None, dropped: int) -> str | None:
    """The nextLink moved back by ``dropped`` items, or None if it has no ``$skip`` to move."""
    if next_link is None:
        return None
    url = httpx.URL(next_link)
    skip = url.params.get("$skip")
    if skip is None or not skip.isdigit():
        return None
    return str(url.copy_set_param("$skip", str(max(0, int(skip) - dropped))))
