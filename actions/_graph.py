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
