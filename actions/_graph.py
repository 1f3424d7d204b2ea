"""Graph logic shared by the actions: paging outputs, query options, recipients."""

from __future__ import annotations

from typing import Any

from actions._inputs import PagingInput
from connector.context import ActionContext


def odata_params(**options: Any) -> dict[str, str]:
    """``select=["id","subject"], top=5`` -> ``{"$select": "id,subject", "$top": "5"}``; empties dropped."""
    params: dict[str, str] = {}
    for name, value in options.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list | tuple):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        params["$" + name] = str(value)
    return params


def list_output(
    ctx: ActionContext,
    path: str,
    paging: PagingInput,
    items_name: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One page (or every page with ``fetch_all``) as ``{items_name: [...], count, next_link}``."""
    if paging.page_link:
        target, query = paging.page_link, None
    else:
        target, query = path, {**(params or {}), **odata_params(top=paging.top, skip=paging.skip or None)}
    if not paging.fetch_all:
        page = ctx.graph.get_json(target, params=query, headers=headers)
        items = page.get("value", [])
        return {items_name: items, "count": len(items), "next_link": page.get("@odata.nextLink")}
    pages = ctx.graph.iter_pages(target, params=query, headers=headers, max_items=paging.limit)
    collected: list[dict[str, Any]] = []
    for page_items in pages:
        collected.extend(page_items)
    return {items_name: collected, "count": len(collected), "next_link": pages.next_link}


def delta_output(
    ctx: ActionContext,
    target: str,
    query: dict[str, str] | None,
    headers: dict[str, str] | None,
    *,
    fetch_all: bool,
) -> dict[str, Any]:
    """A delta query's changes (one page, or every page to the delta link) and the cursor to resume.

    ``next_link``: more changes remain; ``delta_link``: caught up, store it for next time.
    """
    pages = ctx.graph.iter_pages(target, params=query, headers=headers, max_pages=None if fetch_all else 1)
    changes: list[dict[str, Any]] = []
    for page in pages:
        changes.extend(page)
    return {
        "changes": changes,
        "count": len(changes),
        "removed_ids": [c["id"] for c in changes if "@removed" in c],
        "next_link": pages.next_link,
        "delta_link": pages.delta_link if pages.next_link is None else None,
    }
