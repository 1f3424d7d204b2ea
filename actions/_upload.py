"""Adding a file attachment to a message: inline under 3 MB, through an upload session up to 150 MB.

Upload sessions (``POST .../attachments/createUploadSession``) answer a pre-authenticated
``uploadUrl``; the bytes go there in ranges under 4 MB (multiples of 320 KiB) with NO Authorization
header: the connection's token never leaves for the upload host. A message with such a file is sent
as a draft: created (or createReply/createReplyAll/createForward), filled, then sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from actions._mail import INLINE_ATTACHMENT_LIMIT, AttachmentInput
from connector.context import ActionContext, quote_segment
from connector.errors import GraphError

CHUNK_BYTES = 10 * 320 * 1024
"""3,276,800 bytes per PUT: a multiple of 320 KiB and under Graph's 4 MB per request."""
_ATTACHMENT_IN_LOCATION = re.compile(r"Attachments\('([^']+)'\)", re.IGNORECASE)


def send_draft_with_uploads(
    ctx: ActionContext, mailbox: str, draft: dict[str, Any], large: Sequence[AttachmentInput]
) -> None:
    """Upload ``large`` files into a draft just created for them, then send the draft (once).

    The way every send with a file of 3 MB or more goes (send, reply, reply all, forward): if an
    upload fails the draft is deleted and nothing is sent; the send is a POST never repeated when
    Graph may have applied it.
    """
    draft_path = fill_draft(ctx, mailbox, draft, large)
    ctx.graph.request("POST", f"{draft_path}/send")


def fill_draft(
    ctx: ActionContext, mailbox: str, draft: dict[str, Any], large: Sequence[AttachmentInput]
) -> str:
    """Upload ``large`` files into a draft just created for them; the draft's path. If an upload
    fails, the draft is deleted (best effort) and the upload's error raised."""
    if not isinstance(draft.get("id"), str):
        raise GraphError("Graph created the draft but answered without its id", code="InvalidResponse")
    draft_path = f"{mailbox}/messages/{quote_segment(draft['id'])}"
    try:
        for attachment in large:
            upload_file_attachment(ctx, draft_path, attachment, attachment.decoded())
    except Exception:
        try:
            ctx.graph.delete(draft_path)
        except Exception:  # the upload's error is the one to report
            ctx.logger.warning("could not delete the unsent draft %s", draft_path)
        raise
    return draft_path


def add_file_attachment(ctx: ActionContext, message_path: str, attachment: AttachmentInput) -> dict[str, Any]:
    """Attach ``attachment`` to the message at ``message_path``; the attachment as Graph describes it
    (``id``, ``name``, ``contentType``, ``size``, ``isInline``; no ``contentBytes``)."""
    data = attachment.decoded()
    if len(data) < INLINE_ATTACHMENT_LIMIT:
        created = ctx.graph.post_json(f"{message_path}/attachments", json=attachment.to_graph())
        created.pop("contentBytes", None)
        created.pop("@odata.context", None)
        return created
    return upload_file_attachment(ctx, message_path, attachment, data)


def upload_file_attachment(
    ctx: ActionContext, message_path: str, attachment: AttachmentInput, data: bytes
) -> dict[str, Any]:
    """Create an upload session for the file and PUT its bytes range after range."""
    item: dict[str, Any] = {
        "attachmentType": "file",
        "name": attachment.name,
        "size": len(data),
        "contentType": attachment.content_type,
        "isInline": attachment.is_inline,
    }
    if attachment.content_id:
        item["contentId"] = attachment.content_id
    session = ctx.graph.post_json(
        f"{message_path}/attachments/createUploadSession", json={"AttachmentItem": item}
    )
    upload_url = session.get("uploadUrl")
    if not isinstance(upload_url, str) or not upload_url:
        raise GraphError("Graph answered an upload session without an uploadUrl", code="InvalidResponse")
    total = len(data)
    start = _next_start(session, 0)
    location = ""
    rounds = total // CHUNK_BYTES + 8  # a server that never moves on must not keep us looping
    while start < total:
        rounds -= 1
        if rounds < 0:
            raise GraphError("the upload session does not move on to the next range", code="UploadStalled")
        end = min(start + CHUNK_BYTES, total)
        response = ctx.graph.request(
            "PUT",
            upload_url,
            content=data[start:end],
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"bytes {start}-{end - 1}/{total}",
            },
            auth=False,  # the URL is pre-authenticated: the bearer token must not go to the upload host
            mailbox="",
        )
        if response.status_code == 201:
            location = response.headers.get("location", "")
            start = total
            break
        answer = response.json() if response.content else {}
        start = _next_start(answer, end)
    if not location:
        raise GraphError(
            "the upload session ended without Graph confirming the attachment (no 201 Created)",
            code="UploadIncomplete",
        )
    match = _ATTACHMENT_IN_LOCATION.search(location)
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "id": match.group(1) if match else None,
        "name": attachment.name,
        "contentType": attachment.content_type,
        "size": total,
        "isInline": attachment.is_inline,
    }


def _next_start(answer: dict[str, Any], default: int) -> int:
    """The first byte Graph expects next (``nextExpectedRanges: ["1048576-"]``)."""
    ranges = answer.get("nextExpectedRanges")
    if isinstance(ranges, list) and ranges and isinstance(ranges[0], str):
        first = ranges[0].split("-", 1)[0]
        if first.isdigit():
            return int(first)
    return default
