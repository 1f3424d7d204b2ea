"""Data sources of mail: folders (nested, with full paths) and messages."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from actions._inputs import GraphId
from actions._options import (
    MailboxDataSourceInput,
    OptionsOutput,
    cursor_error,
    link_page_output,
    state_value,
)
from actions.messages import _search_term
from connector.context import ActionContext, quote_segment
from connector.schemas import returns

FOLDER_REQUESTS_PER_CALL = 4
"""At most this many Graph requests per select_mail_folder call, however big the folder tree."""
PATH_SEPARATOR = " / "


# -- folders ------------------------------------------------------------------------------------------------
class SelectMailFolderInput(MailboxDataSourceInput):
    """Every folder of the mailbox, depth first: a folder, then its subfolders, then the next folder."""


@returns(OptionsOutput)
def select_mail_folder(ctx: ActionContext, params: SelectMailFolderInput) -> dict[str, Any]:
    """A depth-first walk that resumes where the cursor says.

    The cursor holds the walk's stack: for each open folder (from the top of the mailbox down to the
    folder being listed) its id, its path and how many of its children are done. Its size grows with
    the tree's depth, never with its width, and each call sends at most FOLDER_REQUESTS_PER_CALL
    requests, so a folder tree of any size costs a bounded number of requests per page.
    """
    stack = _folder_stack(params)
    base = ctx.mailbox(params.user_id)
    options: list[dict[str, Any]] = []
    requests = 0
    while stack and len(options) < params.page_size and requests < FOLDER_REQUESTS_PER_CALL:
        folder_id, path, done = stack[-1]
        target = f"{base}/mailFolders"
        if folder_id is not None:
            target += f"/{quote_segment(folder_id)}/childFolders"
        query = {"$select": "id,displayName,childFolderCount", "$top": str(params.page_size - len(options))}
        if done:
            query["$skip"] = str(done)
        page = ctx.graph.get_json(target, params=query)
        requests += 1
        children: list[dict[str, Any]] = page.get("value", [])
        used, below = 0, None
        for child in children:
            used += 1
            name = str(child.get("displayName") or "")
            child_path = f"{path}{PATH_SEPARATOR}{name}" if path else name
            if params.matches(child_path):
                options.append({"key": child["id"], "label": child_path, "description": None})
            if child.get("childFolderCount"):
                below = [child["id"], child_path, 0]  # list its subfolders before its next sibling
                break
        if used == len(children) and "@odata.nextLink" not in page:
            stack.pop()  # every child of this folder is listed
        else:
            stack[-1][2] = done + used
        if below is not None:
            stack.append(below)
    return {"options": options, "next_cursor": params.next_cursor({"stack": stack} if stack else None)}


def _folder_stack(params: SelectMailFolderInput) -> list[list[Any]]:
    """The walk's stack from the cursor, or the start (the top of the mailbox)."""
    stack = state_value(params, "stack", list)
    if stack is None:
        return [[None, "", 0]]
    for index, entry in enumerate(stack):
        if not (
            isinstance(entry, list)
            and len(entry) == 3
            and (isinstance(entry[0], str) or (entry[0] is None and index == 0))
            and isinstance(entry[1], str)
            and isinstance(entry[2], int)
            and not isinstance(entry[2], bool)
            and entry[2] >= 0
        ):
            raise cursor_error("is damaged (bad folder stack); start again without a cursor")
    if not stack:
        raise cursor_error("is damaged (empty folder stack); start again without a cursor")
    checked: list[list[Any]] = stack
    return checked


# -- messages ----------------------------------------------------------------------------------------------
class SelectMessageInput(MailboxDataSourceInput):
    """Messages newest first; `search` uses Outlook search (subject, body, sender)."""

    folder_id: GraphId | None = Field(
        default=None,
        min_length=1,
        title="Folder",
        description="Only messages of this folder (id or well-known name such as inbox). Empty: every"
        " folder.",
        examples=["inbox"],
    )


@returns(OptionsOutput)
def select_message(ctx: ActionContext, params: SelectMessageInput) -> dict[str, Any]:
    base = ctx.mailbox(params.user_id)
    path = (
        f"{base}/mailFolders/{quote_segment(params.folder_id)}/messages"
        if params.folder_id
        else f"{base}/messages"
    )
    query = {"$select": "id,subject,from,receivedDateTime"}
    if params.search:
        query["$search"] = _search_term(params.search)  # Graph orders search results itself
    else:
        query["$orderby"] = "receivedDateTime desc"
    return link_page_output(ctx, params, path, query, _message_option)


def _message_option(message: dict[str, Any]) -> dict[str, Any]:
    sender = (message.get("from") or {}).get("emailAddress") or {}
    who = sender.get("name") or sender.get("address")
    received = str(message.get("receivedDateTime") or "")[:16].replace("T", " ")
    details = [part for part in (who, received and f"{received} UTC") if part]
    return {
        "key": message["id"],
        "label": message.get("subject") or "(no subject)",
        "description": " · ".join(details) or None,
    }
