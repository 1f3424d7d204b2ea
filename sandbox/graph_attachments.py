"""Message attachments: list, get (``$expand=microsoft.graph.itemattachment/item`` for an attached item),
``$value`` (a file's bytes; an attached message as MIME, event as iCalendar, contact as vCard), add
(file, item or link), delete; and large files through upload sessions
(``POST .../attachments/createUploadSession``) and the pre-authenticated upload URL that takes the file
in byte ranges.

The upload URL is served outside ``/v1.0`` (like Outlook's own upload host): it needs no token and
refuses one (401), as Graph's docs warn; its ``authtoken`` query is the session's secret.
Fragments must come in order (``Content-Range: bytes a-b/size``, under 4 MB each): Graph answers
200 with ``nextExpectedRanges`` until the last one, then 201 Created with the attachment's Location.
"""

from __future__ import annotations

import re
import secrets
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState

from sandbox import attachment_model
from sandbox.errors import (
    GraphError,
    bad_request,
    graph_error_response,
    id_malformed,
    invalid_request_body,
    item_not_found,
)
from sandbox.graph import (
    add_mailbox_routes,
    collection,
    context_url,
    entity,
    json_body,
    no_content,
    open_mailbox,
    principal,
    user_segment,
)
from sandbox.graph_messages import find_message
from sandbox.ids import looks_like_graph_id
from sandbox.mailbox import Attachment, Mailbox
from sandbox.message_model import now_stamp
from sandbox.mime import attachment_bytes, attachment_media_type
from sandbox.odata import option
from sandbox.state import SandboxState, current_state
from sandbox.throttle import format_retry_after

MAX_ATTACHMENT_BYTES = 150 * 1024 * 1024
MAX_FRAGMENT_BYTES = 4 * 1024 * 1024
SESSION_LIFETIME = timedelta(hours=2)
UPLOAD_PREFIX = "/upload/v1.0/AttachmentSessions/"
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_ITEM_FIELDS = {"attachmentType", "name", "size", "contentType", "isInline", "contentId"}


@dataclass
class UploadSession:
    session_id: str
    token: str
    app_id: str
    owner_id: str
    message_id: str
    name: str
    size: int
    content_type: str
    is_inline: bool
    content_id: str | None
    expires: datetime
    data: bytearray = field(default_factory=bytearray)
    location: str | None = None
    """The attachment's URL once the last byte arrived (the session then answers re-sent fragments
    with it, until it expires)."""


_SESSIONS: weakref.WeakKeyDictionary[SandboxState, dict[str, UploadSession]] = weakref.WeakKeyDictionary()


def sessions(state: SandboxState) -> dict[str, UploadSession]:
    """The upload sessions of one sandbox (open, or completed and not yet expired)."""
    return _SESSIONS.setdefault(state, {})


class UploadBudget:
    """Outlook's upload limit: so many bytes per app and mailbox in a sliding window."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._recent: dict[tuple[str, str], deque[tuple[float, int]]] = {}

    def take(self, key: tuple[str, str], size: int) -> float | None:
        """Count ``size`` bytes, or return the seconds to wait before they fit (nothing counted)."""
        now = self.clock()
        recent = self._recent.setdefault(key, deque())
        while recent and recent[0][0] <= now - self.window:
            recent.popleft()
        used = sum(n for _, n in recent)
        if used + size > self.limit:
            freed, wait = 0, 0.0
            for moment, count in recent:  # the oldest uploads leave the window first
                freed += count
                wait = moment + self.window - now
                if used - freed + size <= self.limit:
                    break
            return max(wait, 0.001)
        recent.append((now, size))
        return None


_BUDGETS: weakref.WeakKeyDictionary[SandboxState, tuple[object, UploadBudget]] = weakref.WeakKeyDictionary()


def upload_budget(state: SandboxState) -> UploadBudget:
    """The sandbox's upload budget; a fresh one when the state was reset (reloaded its mailboxes)."""
    held = _BUDGETS.get(state)
    if held is None or held[0] is not state.mailboxes:
        config = state.config
        budget = UploadBudget(config.upload_bytes_per_window, config.upload_window_seconds, config.clock)
        held = _BUDGETS[state] = (state.mailboxes, budget)
    return held[1]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def _attachment_item(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("AttachmentItem"), dict):
        raise GraphError(
            400, "ErrorInvalidParameter", "The value of the parameter 'AttachmentItem' is empty."
        )
    for name in payload:
        if name != "AttachmentItem":
            raise invalid_request_body(name, "microsoft.graph.createUploadSession")
    item: dict[str, Any] = payload["AttachmentItem"]
    for name in item:
        if name not in _ITEM_FIELDS:
            raise invalid_request_body(name, "microsoft.graph.attachmentItem")
    if item.get("attachmentType", "file") != "file":
        raise bad_request(
            "Only file attachments can be uploaded in an upload session.", "ErrorInvalidRequest"
        )
    size = item.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise bad_request("The attachment size must be a positive number of bytes.", "ErrorInvalidParameter")
    if size > MAX_ATTACHMENT_BYTES:
        raise GraphError(
            400, "ErrorAttachmentSizeLimitExceeded", "The attachment exceeds the maximum size of 150 MB."
        )
    if not isinstance(item.get("name"), str) or not item["name"]:
        raise GraphError(400, "ErrorInvalidParameter", "The value of the parameter 'Name' is empty.")
    return item


def create_upload_session(user_ref: str | None, message_id: str) -> Response:
    state, owner, box = open_mailbox(user_ref, "write")
    item = _attachment_item(json_body())
    with state.lock:
        find_message(box, message_id)
        session = UploadSession(
            session_id=secrets.token_urlsafe(24),
            token=secrets.token_urlsafe(32),
            app_id=principal().app_id,
            owner_id=str(owner["id"]),
            message_id=message_id,
            name=item["name"],
            size=item["size"],
            content_type=str(item.get("contentType") or "application/octet-stream"),
            is_inline=bool(item.get("isInline", False)),
            content_id=item.get("contentId"),
            expires=datetime.now(UTC) + SESSION_LIFETIME,
        )
        sessions(state)[session.session_id] = session
    body = {
        "@odata.context": f"{request.host_url}v1.0/$metadata#microsoft.graph.uploadSession",
        "uploadUrl": f"{request.host_url.rstrip('/')}{UPLOAD_PREFIX}{session.session_id}"
        f"?authtoken={session.token}",
        "expirationDateTime": _stamp(session.expires),
        "nextExpectedRanges": ["0-"],
    }
    response = jsonify(body)
    response.status_code = 201
    return response


# -- attachments of a message ---------------------------------------------------------------------------
def _context(user_ref: str | None, owner: dict[str, Any], message_id: str, single: bool = False) -> str:
    suffix = "/$entity" if single else ""
    return context_url(f"{user_segment(user_ref, owner)}/messages('{message_id}')/attachments{suffix}")


def _find_attachment(box: Mailbox, message_id: str, attachment_id: str) -> Attachment:
    find_message(box, message_id)
    for attachment in box.attachments_of(message_id):
        if attachment["id"] == attachment_id:
            return attachment
    if not looks_like_graph_id(attachment_id):
        raise id_malformed()
    raise item_not_found()


def _render(
    attachment: Attachment, select: list[str] | None, expand: bool, item_context: str
) -> dict[str, Any]:
    """The attachment; with the item expanded, an item attachment's item follows its properties."""
    out = attachment_model.render(attachment, select)
    item = attachment.get("item")
    if expand and isinstance(item, dict):
        out["item@odata.context"] = item_context
        out["item"] = attachment_model.render_item(item)
    return out


def _item_context(user_ref: str | None, owner: dict[str, Any], message_id: str, attachment_id: str) -> str:
    return context_url(
        f"{user_segment(user_ref, owner)}/messages('{quote(message_id, safe='')}')"
        f"/attachments('{quote(attachment_id, safe='')}')/microsoft.graph.itemAttachment/item/$entity"
    )


def list_attachments(user_ref: str | None, message_id: str) -> Response:
    state, owner, box = open_mailbox(user_ref, "read")
    select = attachment_model.parse_select(option(request.args, "select"))
    expand = attachment_model.parse_expand(option(request.args, "expand"))
    with state.lock:
        find_message(box, message_id)
        values = [
            _render(a, select, expand, _item_context(user_ref, owner, message_id, a["id"]))
            for a in box.attachments_of(message_id)
        ]
    return collection(_context(user_ref, owner, message_id), values)


def get_attachment(user_ref: str | None, message_id: str, attachment_id: str) -> Response:
    state, owner, box = open_mailbox(user_ref, "read")
    select = attachment_model.parse_select(option(request.args, "select"))
    expand = attachment_model.parse_expand(option(request.args, "expand"))
    with state.lock:
        attachment = _find_attachment(box, message_id, attachment_id)
    item_context = _item_context(user_ref, owner, message_id, attachment_id)
    return entity(
        _context(user_ref, owner, message_id, single=True), _render(attachment, select, expand, item_context)
    )


def get_attachment_value(user_ref: str | None, message_id: str, attachment_id: str) -> Response:
    state, _owner, box = open_mailbox(user_ref, "read")
    with state.lock:
        attachment = _find_attachment(box, message_id, attachment_id)
    if attachment_model.kind(attachment) == "reference":
        raise bad_request(
            "A reference attachment is a link: it has no content to download.", "ErrorInvalidRequest"
        )
    return Response(attachment_bytes(attachment), mimetype=attachment_media_type(attachment))


def add_attachment(user_ref: str | None, message_id: str) -> Response:
    state, owner, box = open_mailbox(user_ref, "write")
    payload = json_body()
    with state.lock:
        find_message(box, message_id)
        attachment = attachment_model.attachment_from_payload(payload, box.ids, message_id)
        box.set_attachments(message_id, (*box.attachments_of(message_id), attachment), now_stamp())
    return entity(
        _context(user_ref, owner, message_id, single=True), attachment_model.render(attachment), 201
    )


def delete_attachment(user_ref: str | None, message_id: str, attachment_id: str) -> Response:
    state, _owner, box = open_mailbox(user_ref, "write")
    with state.lock:
        _find_attachment(box, message_id, attachment_id)
        remaining = tuple(a for a in box.attachments_of(message_id) if a["id"] != attachment_id)
        box.set_attachments(message_id, remaining, now_stamp())
    return no_content()


# -- the upload URL (no /v1.0 pipeline: no token, no throttling by app) ---------------------------------
def _open_session(session_id: str) -> tuple[SandboxState, UploadSession | Response]:
    state = current_state()
    session = sessions(state).get(session_id)
    if session is None or not secrets.compare_digest(request.args.get("authtoken", ""), session.token):
        return state, graph_error_response(404, "ErrorItemNotFound", "The upload session was not found.")
    if datetime.now(UTC) > session.expires:
        sessions(state).pop(session_id, None)
        return state, graph_error_response(404, "ErrorItemNotFound", "The upload session has expired.")
    if "Authorization" in request.headers:
        return state, graph_error_response(
            401,
            "InvalidAuthenticationToken",
            "The upload URL is pre-authenticated: do not send an Authorization header.",
        )
    return state, session


def _progress(session: UploadSession) -> Response:
    return jsonify(
        {
            "@odata.context": f"{request.host_url}v1.0/$metadata#microsoft.graph.uploadSession",
            "expirationDateTime": _stamp(session.expires),
            "nextExpectedRanges": [f"{len(session.data)}-{session.size - 1}"],
        }
    )


def upload_fragment(session_id: str) -> Response:
    state, found = _open_session(session_id)
    if isinstance(found, Response):
        return found
    session = found
    match = _CONTENT_RANGE.match(request.headers.get("Content-Range", "").strip())
    chunk = request.get_data(cache=False)
    if match is None:
        return graph_error_response(
            400, "InvalidContentRange", "The Content-Range header is missing or not 'bytes start-end/size'."
        )
    start, end, total = (int(part) for part in match.groups())
    if total != session.size:
        return graph_error_response(
            400, "InvalidContentRange", f"The total size {total} does not match the session's {session.size}."
        )
    if end < start or end >= total or end - start + 1 != len(chunk):
        return graph_error_response(
            400, "InvalidContentRange", "The Content-Range does not match the bytes sent."
        )
    if len(chunk) > MAX_FRAGMENT_BYTES:
        return graph_error_response(413, "RequestEntityTooLarge", "A fragment must be under 4 MB.")
    with state.lock:
        if session.location is not None:  # complete: a fragment sent again gets the same answer
            return _created(session.location)
        received = len(session.data)
        if end < received:  # a fragment sent again (its answer was lost): nothing changes
            return _progress(session)
        if start != received:
            return graph_error_response(
                416,
                "InvalidRange",
                f"The fragment starts at byte {start}; the next expected byte is {received}.",
            )
        wait = upload_budget(state).take((session.app_id, session.owner_id), len(chunk))
        if wait is not None:
            return graph_error_response(
                429,
                "ApplicationThrottled",
                "Application is over its upload limit for this mailbox (150 MB in 5 minutes).",
                {"Retry-After": format_retry_after(wait)},
            )
        session.data.extend(chunk)
        if len(session.data) < session.size:
            return _progress(session)
        box = state.mailbox(session.owner_id)
        if session.message_id not in box.messages:
            sessions(state).pop(session_id, None)
            return graph_error_response(404, "ErrorItemNotFound", "The message was deleted.")
        attachment = attachment_model.file_attachment(
            box.ids.attachment_id(session.message_id),
            session.name,
            session.content_type,
            bytes(session.data),
            now_stamp(),
            session.is_inline,
            session.content_id,
        )
        box.set_attachments(
            session.message_id, (*box.attachments_of(session.message_id), attachment), now_stamp()
        )
        session.data = bytearray()  # kept only as the completed state, until the session expires
        session.location = (
            f"{request.host_url}upload/v1.0/Users('{session.owner_id}')/Messages('{session.message_id}')"
            f"/Attachments('{attachment['id']}')"
        )
    return _created(session.location)


def _created(location: str) -> Response:
    response = Response(b"", status=201)
    del response.headers["Content-Type"]
    response.headers["Location"] = location
    return response


def cancel_session(session_id: str) -> Response:
    state, found = _open_session(session_id)
    if isinstance(found, Response):
        return found
    with state.lock:
        sessions(state).pop(session_id, None)
    response = Response(b"", status=204)
    del response.headers["Content-Type"]
    return response


def _register_upload_url(setup: BlueprintSetupState) -> None:
    setup.app.add_url_rule(
        UPLOAD_PREFIX + "<session_id>", "upload_fragment", upload_fragment, methods=["PUT"]
    )
    setup.app.add_url_rule(
        UPLOAD_PREFIX + "<session_id>", "cancel_upload", cancel_session, methods=["DELETE"]
    )


_ROUTES = (
    ("/messages/<message_id>/attachments", "GET", list_attachments),
    ("/messages/<message_id>/attachments", "POST", add_attachment),
    ("/messages/<message_id>/attachments/createUploadSession", "POST", create_upload_session),
    ("/messages/<message_id>/attachments/<attachment_id>", "GET", get_attachment),
    ("/messages/<message_id>/attachments/<attachment_id>", "DELETE", delete_attachment),
    ("/messages/<message_id>/attachments/<attachment_id>/$value", "GET", get_attachment_value),
)


def register(bp: Blueprint) -> None:
    add_mailbox_routes(bp, _ROUTES)
    bp.record_once(_register_upload_url)
