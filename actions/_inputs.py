"""Input fields shared by many actions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ActionInput(BaseModel):
    """Base of every action input: unknown fields are errors, not silently ignored.

    ``defer_build``: a model's validator is built on first use, so a run imports only what it uses.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)


class MailboxInput(ActionInput):
    user_id: str | None = Field(
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
    page_link: str | None = Field(
        default=None,
        title="Next page link",
        description="The `next_link` of an earlier output, to get the page after it. Other paging"
        " and query fields are then ignored: the link carries them.",
    )
