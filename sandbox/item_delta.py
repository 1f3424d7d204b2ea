"""Delta of a small collection (mail folders, contacts): the first round returns every item, later
rounds (``$deltatoken``) only items created or changed since and ``@removed`` for those gone; pages in
between carry ``$skiptoken``. Each round remembers the collection as it ended (id -> change marker).
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, jsonify, request

from sandbox.errors import GraphError, bad_request
from sandbox.graph import apply_page_size_preference, preferences
from sandbox.odata import option
from sandbox.state import SandboxState

Snapshot = dict[str, str]
"""Item id -> a marker that changes whenever the item does (its changeKey)."""


@dataclass
class _Round:
    scope: str
    changes: list[str]  # ids, created or changed, or gone (not in baseline)
    baseline: Snapshot


_ROUNDS: weakref.WeakKeyDictionary[SandboxState, dict[str, _Round]] = weakref.WeakKeyDictionary()
_OPTIONS = {"$select", "select", "$skiptoken", "$deltatoken", "$top", "top"}


def _gone() -> GraphError:
    return GraphError(410, "SyncStateNotFound", "The sync state generation is not found or has expired.")


def delta(
    state: SandboxState,
    scope: str,
    snapshot: Snapshot,
    render: Callable[[str], dict[str, Any]],
    odata_type: str,
    context: str,
) -> Response:
    """One delta page of the collection ``scope`` (e.g. ``folders:{mailbox}``); the caller holds the lock
    and passes the collection now (``snapshot``) and how to render an item by id."""
    for name in request.args:
        if name not in _OPTIONS:
            raise bad_request(f"The query option '{name}' is not supported by this delta function.")
    prefs = preferences()
    page_size = prefs.max_page_size or int(option(request.args, "top") or 100)
    if prefs.max_page_size:
        apply_page_size_preference(prefs)
    rounds = _ROUNDS.setdefault(state, {})
    skip, token_text = request.args.get("$skiptoken"), request.args.get("$deltatoken")
    if skip is not None:
        token, _, offset_text = skip.partition(".")
        current = rounds.get(token)
        if current is None or current.scope != scope or not offset_text.isdigit():
            raise _gone()
        offset = int(offset_text)
    else:
        before: Snapshot = {}
        if token_text is not None:
            previous = rounds.get(token_text)
            if previous is None or previous.scope != scope:
                raise _gone()
            before = previous.baseline
        changed = [i for i, mark in snapshot.items() if before.get(i) != mark]
        current = _Round(scope, changed + [i for i in before if i not in snapshot], dict(snapshot))
        token = hashlib.sha256(repr((scope, current.changes, sorted(snapshot.items()))).encode()).hexdigest()[
            :24
        ]
        rounds[token] = current
        offset = 0
    values = [
        render(item_id)
        if item_id in snapshot
        else {"@odata.type": odata_type, "id": item_id, "@removed": {"reason": "deleted"}}
        for item_id in current.changes[offset : offset + page_size]
    ]
    body: dict[str, Any] = {"@odata.context": context}
    if offset + page_size < len(current.changes):
        body["@odata.nextLink"] = f"{request.base_url}?$skiptoken={token}.{offset + page_size}"
    else:
        body["@odata.deltaLink"] = f"{request.base_url}?$deltatoken={token}"
    body["value"] = values
    return jsonify(body)
