"""What every data source shares: its input (search, cursor, page size), its output (options and the
next cursor), the opaque cursor, and one-page fetching.

A data source feeds a dropdown in a workflow builder. Each call costs one Graph request (a bounded
few for nested folders) and returns one page of ``{"key", "label", "description"}`` options; the
builder passes ``next_cursor`` back as ``cursor`` for the page after it.

The cursor is base64url JSON ``{"v": 1, "f": <fingerprint>, ...state}``. The fingerprint binds it to
the data source and the inputs it was made for (search, mailbox, folder...), so a cursor reused with
other inputs is an input error naming ``cursor`` instead of a silently wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, field_validator, model_validator

from actions._inputs import ActionInput, MailboxInput
from connector._paths import MAX_LINK_LENGTH
from connector.context import ActionContext
from connector.errors import FieldError, InputValidationError

CURSOR_VERSION = 1
_RESTART = "start again without a cursor"


# -- output -----------------------------------------------------------------------------------------------
class Option(BaseModel):
    key: str = Field(description="The value to put in the input field: an id, a name or a time zone.")
    label: str = Field(description="What the dropdown shows.")
    description: str | None = Field(
        default=None, description="Secondary text (sender and date, email address, time...), or null."
    )


class OptionsOutput(BaseModel):
    """One page of a data source's options."""

    options: list[Option] = Field(description="The options of this page, in display order.")
    next_cursor: str | None = Field(
        description="Pass it back as `cursor` to get the next page; null when this is the last page."
    )


# -- input ------------------------------------------------------------------------------------------------
class DataSourceInput(ActionInput):
    search: str | None = Field(
        default=None,
        max_length=255,
        title="Search",
        description="Only options matching this text (Graph search where Graph can, otherwise the page"
        " fetched is filtered). Empty: every option.",
        examples=["project"],
    )
    cursor: str | None = Field(
        default=None,
        max_length=4 * MAX_LINK_LENGTH,
        title="Cursor",
        description="The `next_cursor` of an earlier call with the same inputs, for the page after it."
        " Empty: the first page.",
    )
    page_size: int = Field(
        default=50, ge=1, le=200, title="Page size", description="How many options to ask for (1-200)."
    )
    _cursor_state: dict[str, Any] | None = PrivateAttr(default=None)

    @field_validator("search")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="after")
    def _decode_cursor(self) -> DataSourceInput:
        if self.cursor:
            self._cursor_state = _decode(self.cursor, self._fingerprint())
        return self

    def _fingerprint(self) -> str:
        """What the cursor is bound to: this data source and every input but the cursor and page size."""
        inputs = self.model_dump(mode="json", exclude={"cursor", "page_size"})
        text = json.dumps([type(self).__name__, inputs], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def cursor_state(self) -> dict[str, Any] | None:
        """The decoded cursor (None on the first page)."""
        return self._cursor_state

    def next_cursor(self, state: dict[str, Any] | None) -> str | None:
        """The cursor for the page after this one (None: this was the last page)."""
        if state is None:
            return None
        document = {"v": CURSOR_VERSION, "f": self._fingerprint(), **state}
        raw = json.dumps(document, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def matches(self, *texts: str | None) -> bool:
        """True without a search, or when one of the texts contains it (case-insensitive)."""
        if self.search is None:
            return True
        needle = self.search.casefold()
        return any(needle in text.casefold() for text in texts if text)


class MailboxDataSourceInput(DataSourceInput, MailboxInput):
    pass


def cursor_error(reason: str) -> InputValidationError:
    return InputValidationError([FieldError("cursor", reason)])


def _decode(cursor: str, fingerprint: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError):
        raise ValueError(f"cursor: is not a cursor this data source returned; {_RESTART}") from None
    if not isinstance(document, dict) or document.get("v") != CURSOR_VERSION:
        raise ValueError(f"cursor: is not a cursor this data source returned; {_RESTART}")
    if document.get("f") != fingerprint:
        raise ValueError(
            f"cursor: was returned for another data source or other inputs (search, mailbox...); {_RESTART}"
        )
    return {key: value for key, value in document.items() if key not in ("v", "f")}


def state_value(params: DataSourceInput, name: str, kind: type) -> Any:
    """A value of the decoded cursor, checked (None on the first page)."""
    state = params.cursor_state
    if state is None:
        return None
    value = state.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise cursor_error(f"is damaged (no valid {name!r}); {_RESTART}")
    return value


# -- fetching one page ------------------------------------------------------------------------------------
def graph_page(
    ctx: ActionContext,
    params: DataSourceInput,
    path: str,
    query: dict[str, str],
    *,
    headers: dict[str, str] | None = None,
    top: bool = True,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One Graph request: the first page of ``path`` or the page the cursor points at.

    Returns the items and the next cursor's state (None on the last page). The cursor holds Graph's
    ``@odata.nextLink``, which the Graph client only follows on the Graph host.
    """
    link = state_value(params, "next", str)
    if link is not None:
        page = ctx.graph.get_json(link, headers=headers)
    else:
        first = {**query, "$top": str(params.page_size)} if top else query
        page = ctx.graph.get_json(path, params=first or None, headers=headers)
    items: list[dict[str, Any]] = page.get("value", [])
    next_link = page.get("@odata.nextLink")
    return items, ({"next": next_link} if isinstance(next_link, str) else None)


def link_page_output(
    ctx: ActionContext,
    params: DataSourceInput,
    path: str,
    query: dict[str, str],
    option: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    headers: dict[str, str] | None = None,
    top: bool = True,
    filter_locally: bool = False,
) -> dict[str, Any]:
    """One Graph page turned into options by ``option(item)``; ``filter_locally``: keep only the
    options matching ``search`` (for collections Graph cannot search)."""
    items, state = graph_page(ctx, params, path, query, headers=headers, top=top)
    options = [option(item) for item in items]
    if filter_locally:
        options = [o for o in options if params.matches(o["label"], o.get("description"), o["key"])]
    return {"options": options, "next_cursor": params.next_cursor(state)}


def local_page_output(params: DataSourceInput, options: list[dict[str, Any]]) -> dict[str, Any]:
    """A page of a list Graph returns whole (languages, time zones, categories): search, then slice."""
    matching = [o for o in options if params.matches(o["label"], o.get("description"), o["key"])]
    offset = state_value(params, "offset", int) or 0
    if offset < 0:
        raise cursor_error(f"is damaged (negative offset); {_RESTART}")
    end = offset + params.page_size
    state = {"offset": end} if end < len(matching) else None
    return {"options": matching[offset:end], "next_cursor": params.next_cursor(state)}


def odata_string(text: str) -> str:
    """A string literal for ``$filter``: quoted, inner quotes doubled."""
    return "'" + text.replace("'", "''") + "'"
