"""The audit log: one record per action run or refusal, by any caller.

A record says who ran what, where, what the policy decided and how it ended, with Graph's
request-id. It never holds message bodies, subjects, tokens or addresses: recipients are counted,
errors are kept as their type, status and Graph code (never their message text).
"""

from __future__ import annotations

import contextvars
import json
from typing import Any, NamedTuple

from connector.errors import ConnectorError, GraphError, InputValidationError

CALLERS = ("cli", "mcp", "embedded", "trigger", "ui")
RETENTION = 90 * 86400.0
"""Seconds audit records are kept by default."""
RECIPIENT_KEYS = frozenset(
    {"to", "cc", "bcc", "reply_to", "required_attendees", "optional_attendees", "resource_attendees",
     "torecipients", "ccrecipients", "bccrecipients", "replyto", "attendees"}
)  # fmt: skip


class Caller(NamedTuple):
    """Who asks: the front door (``cli``, ``mcp``, ``embedded``, ``trigger``) and the principal it
    vouches for (an OS user, an MCP key's name, a host's user id)."""

    kind: str = "embedded"
    principal: str = ""


class AuditRecord(NamedTuple):
    """One audited call. ``decision``: allowed, approved, approval_required, denied, disabled or
    invalid (refused before the policy: bad input). ``outcome``: ok, refused or error."""

    at: float
    caller: str
    principal: str
    connection: str
    mailbox: str
    action: str
    category: str
    decision: str
    outcome: str
    approved_by: str = ""
    approval_id: str = ""
    error: str = ""
    request_id: str = ""
    recipients: int = 0

    def to_dict(self) -> dict[str, Any]:
        return self._asdict()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


def error_text(exc: BaseException) -> str:
    """An error as its type, status and Graph code: never its message (which may quote input)."""
    parts = [type(exc).__name__]
    if isinstance(exc, GraphError):
        parts += [str(exc.status)] + ([exc.code] if exc.code else [])
    elif isinstance(exc, InputValidationError):
        parts += sorted({e.path for e in exc.errors})[:10]
    elif not isinstance(exc, ConnectorError):
        parts = ["InternalError"]
    return " ".join(parts)[:300]


def count_recipients(raw_input: Any) -> int:
    """Addresses in the input's recipient fields, at any depth (raw and batch bodies included)."""
    total = 0
    stack = [raw_input]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if str(key).lower() in RECIPIENT_KEYS and isinstance(value, list):
                    total += len(value)
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    rows = raw_input.get("rows") if isinstance(raw_input, dict) else None
    if isinstance(rows, list) and raw_input.get("to_column"):
        total += len(rows)
    return total


# -- Graph request-ids of the current run ------------------------------------------------------------
_current: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "outlook_connector_request_ids", default=None
)


def note_request_id(request_id: str | None) -> None:
    """Called by the HTTP client for each answer: remembered while a run is being audited."""
    ids = _current.get()
    if ids is not None and request_id:
        ids.append(request_id)


class RequestIds:
    """The request-ids of the Graph answers received in this context (this thread)."""

    __slots__ = ("_token", "ids")

    def __enter__(self) -> list[str]:
        self.ids: list[str] = []
        self._token = _current.set(self.ids)
        return self.ids

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)
