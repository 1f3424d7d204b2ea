"""Mail folders."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from actions._graph import list_output
from actions._inputs import MailboxInput, PagingInput
from actions.models import MailFolder, page_output
from connector.context import ActionContext
from connector.schemas import returns


class ListMailFoldersInput(MailboxInput, PagingInput):
    include_hidden: bool = Field(
        default=False, title="Include hidden folders", description="Also list folders Outlook hides."
    )


MailFolderPage = page_output("folders", MailFolder, "The mailbox's top-level mail folders.")


@returns(MailFolderPage)
def list_mail_folders(ctx: ActionContext, params: ListMailFoldersInput) -> dict[str, Any]:
    query = {"includeHiddenFolders": "true"} if params.include_hidden else None
    return list_output(ctx, f"{ctx.mailbox(params.user_id)}/mailFolders", params, "folders", params=query)
