"""Mail folders: list, get, create, rename, move, copy, delete, and child folders with their paths."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from actions._graph import list_output, odata_params
from actions._inputs import GraphId, MailboxInput, PagingInput
from actions.models import DeletedOutput, MailFolder, page_output
from connector.context import ActionContext, quote_segment
from connector.errors import GraphError
from connector.schemas import returns


class ListMailFoldersInput(MailboxInput, PagingInput):
    include_hidden: bool = Field(
        default=False, title="Include hidden folders", description="Also list folders Outlook hides."
    )
    parent_folder_id: str | None = Field(
        default=None,
        min_length=1,
        title="Parent folder",
        description="List the folders directly inside this one (id or well-known name). Empty: the"
        " top-level folders.",
        examples=["inbox"],
        json_schema_extra={"data_source": "select_mail_folder"},
    )


MailFolderPage = page_output(
    "folders", MailFolder, "The mailbox's top-level mail folders, or those of `parent_folder_id`."
)


@returns(MailFolderPage)
def list_mail_folders(ctx: ActionContext, params: ListMailFoldersInput) -> dict[str, Any]:
    query = {"includeHiddenFolders": "true"} if params.include_hidden else None
    base = ctx.mailbox(params.user_id)
    path = (
        f"{base}/mailFolders/{quote_segment(params.parent_folder_id)}/childFolders"
        if params.parent_folder_id
        else f"{base}/mailFolders"
    )
    return list_output(ctx, path, params, "folders", params=query)


# -- one folder --------------------------------------------------------------------------------------
_FOLDER_REF = "Folder id or well-known name (inbox, drafts, sentitems, deleteditems, archive, junkemail...)."


class FolderIdInput(MailboxInput):
    folder_id: GraphId = Field(
        min_length=1,
        title="Folder",
        description=_FOLDER_REF,
        examples=["inbox"],
    )


def folder_path(ctx: ActionContext, user_id: str | None, folder_id: str) -> str:
    """``/me/mailFolders/{id}`` (the id URL-encoded)."""
    return f"{ctx.mailbox(user_id)}/mailFolders/{quote_segment(folder_id)}"


class CreateMailFolderInput(MailboxInput):
    display_name: str = Field(
        min_length=1,
        max_length=255,
        title="Name",
        description="The new folder's name.",
        examples=["Projects"],
    )
    parent_folder_id: GraphId | None = Field(
        default=None,
        title="Parent folder",
        description="Create the folder inside this folder (id or well-known name). Empty: at the top"
        " level, next to Inbox.",
        examples=["inbox"],
    )
    is_hidden: bool = Field(
        default=False,
        title="Hidden",
        description="Create it hidden (Outlook does not show it; it cannot be unhidden later).",
    )


@returns(MailFolder)
def create_mail_folder(ctx: ActionContext, params: CreateMailFolderInput) -> dict[str, Any]:
    if params.parent_folder_id:
        path = folder_path(ctx, params.user_id, params.parent_folder_id) + "/childFolders"
    else:
        path = f"{ctx.mailbox(params.user_id)}/mailFolders"
    body: dict[str, Any] = {"displayName": params.display_name}
    if params.is_hidden:
        body["isHidden"] = True
    return ctx.graph.post_json(path, body)


class GetMailFolderInput(FolderIdInput):
    select: list[str] | None = Field(
        default=None,
        title="Properties",
        description="Only these folder properties (id is always included).",
        examples=[["displayName", "totalItemCount"]],
    )


@returns(MailFolder)
def get_mail_folder(ctx: ActionContext, params: GetMailFolderInput) -> dict[str, Any]:
    return ctx.graph.get_json(
        folder_path(ctx, params.user_id, params.folder_id), params=odata_params(select=params.select) or None
    )


class UpdateMailFolderInput(FolderIdInput):
    display_name: str = Field(
        min_length=1,
        max_length=255,
        title="New name",
        description="The folder's new name.",
        examples=["Clients"],
    )


@returns(MailFolder)
def update_mail_folder(ctx: ActionContext, params: UpdateMailFolderInput) -> dict[str, Any]:
    return ctx.graph.patch_json(
        folder_path(ctx, params.user_id, params.folder_id), {"displayName": params.display_name}
    )


class DeleteMailFolderInput(FolderIdInput):
    """Moves the folder (with its messages and subfolders) to Deleted Items, as Outlook does."""


@returns(DeletedOutput)
def delete_mail_folder(ctx: ActionContext, params: DeleteMailFolderInput) -> dict[str, Any]:
    ctx.graph.delete(folder_path(ctx, params.user_id, params.folder_id))
    return {"deleted": True, "id": params.folder_id}


class MoveMailFolderInput(FolderIdInput):
    destination_folder_id: GraphId = Field(
        min_length=1,
        title="Destination folder",
        description="The folder to move it into (id or well-known name; `msgfolderroot` for the top level).",
        examples=["archive"],
    )


@returns(MailFolder)
def move_mail_folder(ctx: ActionContext, params: MoveMailFolderInput) -> dict[str, Any]:
    path = folder_path(ctx, params.user_id, params.folder_id) + "/move"
    # Moving is idempotent (moving again into the same parent changes nothing), so it may be retried.
    return ctx.graph.post_json(path, {"destinationId": params.destination_folder_id}, idempotent=True)


class CopyMailFolderInput(MoveMailFolderInput):
    """Copies the folder with its messages and subfolders."""


@returns(MailFolder)
def copy_mail_folder(ctx: ActionContext, params: CopyMailFolderInput) -> dict[str, Any]:
    path = folder_path(ctx, params.user_id, params.folder_id) + "/copy"
    return ctx.graph.post_json(path, {"destinationId": params.destination_folder_id})


# -- child folders, with their paths ---------------------------------------------------------------------
class ListChildFoldersInput(FolderIdInput):
    recursive: bool = Field(
        default=False,
        title="Include subfolders",
        description="Also list the subfolders of every child folder, all the way down.",
    )
    include_hidden: bool = Field(
        default=False, title="Include hidden folders", description="Also list folders Outlook hides."
    )
    max_depth: int = Field(
        default=10,
        ge=1,
        le=50,
        title="Depth limit",
        description="With `recursive`: how many levels deep to go.",
    )
    include_paths: bool = Field(
        default=True,
        title="Include paths",
        description="Give each folder its full path (e.g. Inbox/Projects/2026). This reads the listed"
        " folder and its parents first: turn it off to save those requests.",
    )
    limit: int = Field(
        default=1000, ge=1, le=10000, title="Limit", description="Stop after this many folders."
    )


class FolderWithPath(MailFolder):
    path: str | None = Field(
        description='The folder\'s full path from the top of the mailbox, e.g. "Inbox/Projects/2026" (null'
        " with `include_paths` off)."
    )
    depth: int = Field(description="1 for a direct child of the listed folder, 2 for a grandchild...")


class ChildFoldersOutput(BaseModel):
    folders: list[FolderWithPath] = Field(description="The folders, each followed by its subfolders.")
    count: int = Field(description="How many folders this output holds.")
    truncated: bool = Field(description="True when `limit` stopped the listing before the end.")


def _folder_full_path(ctx: ActionContext, user_id: str | None, folder_id: str) -> tuple[str, str]:
    """(id, "Inbox/Projects") of a folder: its name and its ancestors' up to the mailbox root."""
    select = {"$select": "displayName,parentFolderId"}
    root = ctx.graph.get_json(folder_path(ctx, user_id, "msgfolderroot"), params={"$select": "id"}).get("id")
    folder = ctx.graph.get_json(folder_path(ctx, user_id, folder_id), params=select)
    if not isinstance(root, str) or not isinstance(folder.get("id"), str):
        raise GraphError("Graph answered a mail folder without its id", code="InvalidResponse")
    if folder["id"] == root:  # the top of the mailbox: its children's paths start with their names
        return root, ""
    names = [str(folder.get("displayName", ""))]
    parent = folder.get("parentFolderId")
    for _ in range(50):  # Outlook nests folders far less deep; this only guards against a cycle
        if not parent or parent == root:
            break
        above = ctx.graph.get_json(folder_path(ctx, user_id, parent), params=select)
        names.append(str(above.get("displayName", "")))
        parent = above.get("parentFolderId")
    return str(folder["id"]), "/".join(reversed(names))


@returns(ChildFoldersOutput)
def list_child_folders(ctx: ActionContext, params: ListChildFoldersInput) -> dict[str, Any]:
    if params.include_paths:
        start_id, start_path = _folder_full_path(ctx, params.user_id, params.folder_id)
    else:
        start_id, start_path = params.folder_id, ""
    query = {"includeHiddenFolders": "true"} if params.include_hidden else None
    found: list[dict[str, Any]] = []
    truncated = False

    def walk(folder_id: str, prefix: str, depth: int) -> None:
        nonlocal truncated
        path = folder_path(ctx, params.user_id, folder_id) + "/childFolders"
        for page in ctx.graph.iter_pages(path, params=query):
            for child in page:
                if len(found) >= params.limit:
                    truncated = True
                    return
                name = str(child.get("displayName", ""))
                child_path = (f"{prefix}/{name}" if prefix else name) if params.include_paths else None
                found.append({**child, "path": child_path, "depth": depth})
                if params.recursive and depth < params.max_depth and child.get("childFolderCount"):
                    walk(child["id"], child_path or "", depth + 1)
                    if truncated:
                        return

    walk(start_id, start_path, 1)
    return {"folders": found, "count": len(found), "truncated": truncated}
