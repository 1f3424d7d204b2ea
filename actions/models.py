"""Graph resources as actions return them (the output schemas' building blocks).

Outputs keep Graph's own camelCase JSON, so a workflow can use any documented property; these
models name the common ones and allow the rest (``$select`` may also return fewer).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class GraphObject(BaseModel):
    model_config = ConfigDict(
        extra="allow", alias_generator=to_camel, populate_by_name=True, defer_build=True
    )


class EmailAddress(GraphObject):
    name: str | None = None
    address: str | None = None


class Recipient(GraphObject):
    email_address: EmailAddress | None = None


class ItemBody(GraphObject):
    content_type: Literal["text", "html"] | None = None
    content: str | None = None


FlagStatus = Literal["notFlagged", "flagged", "complete"]
"""One spelling for every model: typing caches equal Literals, so a second order would make the
generated schemas depend on which module was imported first."""


class FollowupFlag(GraphObject):
    flag_status: FlagStatus | None = None


class Message(GraphObject):
    """An Outlook message (microsoft.graph.message)."""

    id: str = Field(description="Graph id of the message in this mailbox.")
    created_date_time: str | None = None
    last_modified_date_time: str | None = None
    change_key: str | None = None
    categories: list[str] | None = None
    received_date_time: str | None = None
    sent_date_time: str | None = None
    has_attachments: bool | None = None
    internet_message_id: str | None = None
    subject: str | None = None
    body_preview: str | None = None
    importance: Literal["low", "normal", "high"] | None = None
    parent_folder_id: str | None = None
    conversation_id: str | None = None
    is_read: bool | None = None
    is_draft: bool | None = None
    web_link: str | None = None
    body: ItemBody | None = None
    sender: Recipient | None = None
    from_: Recipient | None = Field(default=None, alias="from")
    to_recipients: list[Recipient] | None = None
    cc_recipients: list[Recipient] | None = None
    bcc_recipients: list[Recipient] | None = None
    reply_to: list[Recipient] | None = None
    flag: FollowupFlag | None = None


class MailFolder(GraphObject):
    """A mail folder (microsoft.graph.mailFolder)."""

    id: str
    display_name: str | None = None
    parent_folder_id: str | None = None
    child_folder_count: int | None = None
    unread_item_count: int | None = None
    total_item_count: int | None = None
    is_hidden: bool | None = None


class User(GraphObject):
    """A user (microsoft.graph.user), as returned by GET /me or /users/{id}."""

    id: str
    display_name: str | None = None
    user_principal_name: str | None = None
    mail: str | None = None
    given_name: str | None = None
    surname: str | None = None
    job_title: str | None = None
    office_location: str | None = None
    mobile_phone: str | None = None
    business_phones: list[str] | None = None
    preferred_language: str | None = None


class DeletedOutput(BaseModel):
    """What a delete action returns: the id it deleted."""

    deleted: bool
    id: str


def page_output(items_name: str, item_model: type[GraphObject], description: str) -> type[BaseModel]:
    """The output model of a list action: the items, their count and the next page's link."""
    fields: dict[str, Any] = {
        items_name: (list[item_model], Field(description=description)),  # type: ignore[valid-type]
        "count": (int, Field(description="How many items this output holds.")),
        "next_link": (
            str | None,
            Field(
                default=None,
                description="Graph's @odata.nextLink when more items remain; pass it as `page_link`"
                " to get the next page. Null when this is the last page.",
            ),
        ),
    }
    from pydantic import create_model

    return create_model(f"{item_model.__name__}Page", **fields)
