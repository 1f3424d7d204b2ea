"""What a raw or batch call does, request by request: the category each Graph request falls in (GET
reads, DELETE deletes, a send/reply/forward POST sends, ...), for the permission policy."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit


def requests_of(key: str, raw_input: Any) -> Iterable[tuple[str, str]]:
    """(method, path) of each Graph request a raw or batch call makes (nested ``$batch`` included)."""
    if not isinstance(raw_input, dict):
        return
    if key == "raw_request":
        method = str(raw_input.get("method") or "GET").upper()
        path = str(raw_input.get("path") or "")
        body = raw_input.get("body")
        if _is_batch(path) and isinstance(body, dict):
            yield from requests_of("batch_request", {"requests": body.get("requests")})
            return
        yield method, path
    elif isinstance(raw_input.get("requests"), list):
        for item in raw_input["requests"]:
            if isinstance(item, dict):
                yield str(item.get("method") or "GET").upper(), str(item.get("url") or "")


def _is_batch(path: str) -> bool:
    return urlsplit(path).path.rstrip("/").endswith("$batch")


SEND_VERBS = frozenset(
    {"sendmail", "send", "reply", "replyall", "forward", "accept", "decline", "tentativelyaccept",
     "cancel"}
)  # fmt: skip
DRAFT_VERBS = frozenset({"createreply", "createreplyall", "createforward", "createuploadsession"})
ORGANIZE_VERBS = frozenset({"move", "copy"})
ADMIN_SEGMENTS = frozenset({"subscriptions", "mailboxsettings", "inferenceclassification", "messagerules"})
_SEGMENT = re.compile(r"[^/]+")


def classify_request(method: str, path: str) -> str:
    """The category of one Graph request, by what it does: GET reads, DELETE deletes, a send/reply/
    forward/accept POST sends, move/copy and master categories organize, settings and subscriptions
    are admin, other writes to mail, calendar and contacts are drafts."""
    method = method.upper()
    segments = [s.lower() for s in _SEGMENT.findall(urlsplit(path).path)]
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if method == "DELETE":
        return "delete"
    last = segments[-1].split("(")[0].removeprefix("microsoft.graph.") if segments else ""
    if any(s in ADMIN_SEGMENTS for s in segments):
        return "admin"
    if last in SEND_VERBS:
        return "send"
    if last in DRAFT_VERBS:
        return "draft"
    if last in ORGANIZE_VERBS or "mastercategories" in segments:
        return "categorize"
    if any(s in ("messages", "mailfolders", "events", "calendars", "contacts", "contactfolders",
                 "calendargroups", "attachments") for s in segments):  # fmt: skip
        return "draft"
    return "admin"


def short_path(path: str, limit: int = 80) -> str:
    path = urlsplit(path).path or path
    return path if len(path) <= limit else path[: limit - 3] + "..."
