"""Input fields shared by many actions, and the bounded types every id, link and time zone uses.

The bounds hold twice: in the JSON Schema (what a host validates and a builder renders) and in the
pydantic model. An id is one URL path segment (never empty, ``.``, ``..`` or only whitespace); a link
is an absolute URL or a path without whitespace or control characters; a time zone is a Windows or
IANA name (it goes into a ``Prefer`` header, so no quotes or control characters).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from connector._paths import (
    HEADER_NAME_PATTERN,
    HEADER_VALUE_PATTERN,
    MAX_HEADER_LENGTH,
    MAX_ID_LENGTH,
    MAX_LINK_LENGTH,
    id_problem,
    path_problem,
)

MAX_TIME_ZONE_LENGTH = 100
TIME_ZONE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _+\-/.(),:']*$"
LINK_PATTERN = r"^[hH][tT][tT][pP][sS]?://[^\s\x00-\x1f\x7f]+$"


class _OneSegment:
    """JSON Schema of an id: at least one non-space character, and not ``.`` or ``..``."""

    def __get_pydantic_json_schema__(
        self, core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core)
        schema["pattern"] = r"\S"
        schema["not"] = {"enum": [".", ".."]}
        return schema


def _check_id(value: str) -> str:
    problem = id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


GraphId = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(_check_id), _OneSegment()
]
"""A Graph id, UPN or name that becomes one URL path segment."""
Link = Annotated[str, Field(min_length=1, max_length=MAX_LINK_LENGTH, pattern=LINK_PATTERN)]
"""A link Graph returned (``@odata.nextLink``, ``@odata.deltaLink``): an absolute http(s) URL, so
that a relative path can never stand in for a link and address another resource."""
TimeZone = Annotated[str, Field(min_length=1, max_length=MAX_TIME_ZONE_LENGTH, pattern=TIME_ZONE_PATTERN)]
"""A Windows (``Pacific Standard Time``) or IANA (``America/Los_Angeles``) time zone name."""
HeaderName = Annotated[str, Field(min_length=1, max_length=256, pattern=HEADER_NAME_PATTERN)]
"""An HTTP header name (letters, digits and ``!#$%&'*+-.^_`|~``)."""
HeaderValue = Annotated[str, Field(max_length=MAX_HEADER_LENGTH, pattern=HEADER_VALUE_PATTERN)]
"""An HTTP header value: printable ASCII and tabs, no line breaks."""


def check_relative_path(value: str) -> str:
    """A pydantic check: a path relative to the Graph version root that addresses what it says."""
    problem = path_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class ActionInput(BaseModel):
    """Base of every action input: unknown fields are errors, not silently ignored.

    ``defer_build``: a model's validator is built on first use, so a run imports only what it uses.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)


class MailboxInput(ActionInput):
    user_id: GraphId | None = Field(
        default=None,
        title="Mailbox",
        description="User id or user principal name of the mailbox to act on (a shared mailbox or"
        " another user). Empty: the signed-in user, or the connection's default mailbox.",
        examples=["shared@contoso.com"],
        min_length=1,
    )


class PagingInput(ActionInput):
    top: int = Field(
        default=10,
        ge=1,
        le=1000,
        title="Page size",
        description="How many items to ask Graph for per page (1-1000).",
    )
    skip: int = Field(
        default=0, ge=0, title="Skip", description="How many items to skip before the first one returned."
    )
    fetch_all: bool = Field(
        default=False,
        title="Fetch all pages",
        description="Follow every next page (up to `limit` items) instead of returning one page.",
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        title="Limit",
        description="With `fetch_all`: stop after this many items. Empty: no limit.",
    )
    page_link: Link | None = Field(
        default=None,
        title="Next page link",
        description="The `next_link` of an earlier output, to get the page after it. Other paging"
        " and query fields are then ignored: the link carries them.",
    )
