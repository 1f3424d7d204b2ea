"""The audit log: one record per action run or refusal, by any caller.

A record says who ran what, where, what the policy decided and how it ended, with Graph's
request-id. It never holds message bodies, subjects, tokens or addresses: recipients are counted,
errors are kept as their type, status and Graph code (never their message text).
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple

from connector.errors import ConnectorError, GraphError, InputValidationError

if TYPE_CHECKING:
    from connector.store.interfaces import AuditLog

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
class _Seen(list[str]):
    """The request-ids seen, and how many answers came (an answer may carry no request-id)."""

    answers = 0


_current: contextvars.ContextVar[_Seen | None] = contextvars.ContextVar(
    "outlook_connector_request_ids", default=None
)


def note_request_id(request_id: str | None) -> None:
    """Called by the HTTP client for each answer: remembered while a run is being audited."""
    ids = _current.get()
    if ids is not None:
        ids.answers += 1
        if request_id:
            ids.append(request_id)


class RequestIds:
    """The request-ids of the Graph answers received in this context (this thread)."""

    __slots__ = ("_token", "ids")

    def __enter__(self) -> list[str]:
        self.ids = _Seen()
        self._token = _current.set(self.ids)
        return self.ids

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)


# -- Graph reads outside the runtime (trigger instances) ---------------------------------------------
REQUEST_IDS_KEPT = 20
"""A read pass's record keeps the request-ids of its last this many answers (space-separated)."""
_open_pass: contextvars.ContextVar[ReadPass | None] = contextvars.ContextVar(
    "outlook_connector_read_pass", default=None
)


class ReadPass:
    """One audited pass of Graph reads made outside the runtime: a trigger instance's notification
    batch, delta catch-up or poll. However many items it reads, it appends one record (caller
    ``trigger``, category ``read``, decision ``allowed``, outcome ``ok`` or ``error``) when closed,
    if it received an answer (or resource data: ``note_resource_data``) or failed; nothing when it
    read nothing. ``principal`` names the
    instance; a pass opened inside an open pass of the same principal joins it (``read_pass``)."""

    def __init__(
        self,
        log: AuditLog | None,
        clock: Callable[[], float],
        *,
        action: str,
        connection: str,
        mailbox: str,
        principal: str,
    ) -> None:
        self.log, self.clock = log, clock
        self.action, self.connection, self.mailbox, self.principal = action, connection, mailbox, principal
        self.ids: list[str] = []
        self.answers = 0
        self.failure: BaseException | None = None

    @contextmanager
    def reading(self) -> Iterator[ReadPass]:
        """Graph answers received inside count for this pass; a failure leaving it is its outcome."""
        token = _open_pass.set(self)
        try:
            with RequestIds() as ids:
                try:
                    yield self
                except BaseException as exc:
                    self.failure = exc
                    if isinstance(exc, GraphError) and exc.request_id:
                        ids.append(exc.request_id)
                    raise
                finally:
                    self.ids = [*self.ids, *ids][-REQUEST_IDS_KEPT:]
                    self.answers += getattr(ids, "answers", 0)
        finally:
            _open_pass.reset(token)

    def close(self) -> None:
        """Append the pass's record (if it read anything); an audit failure is logged, not raised."""
        if self.log is None or (self.answers == 0 and self.failure is None):
            return
        record = AuditRecord(
            at=self.clock(),
            caller="trigger",
            principal=self.principal,
            connection=self.connection,
            mailbox=self.mailbox,
            action=self.action,
            category="read",
            decision="allowed",
            outcome="ok" if self.failure is None else "error",
            error="" if self.failure is None else error_text(self.failure),
            request_id=" ".join(self.ids),
        )
        try:
            self.log.append_audit(record)
        except Exception as audit_error:  # the reads have happened: report, do not hide their result
            logging.getLogger("outlook_connector.audit").error(
                "could not write the audit record of %s: %s", self.action, audit_error
            )


def note_resource_data() -> None:
    """Mail content that came inside a notification (decrypted, no Graph answer) is a read of the
    open pass too: its record is written even if the pass asked Graph nothing."""
    current = _open_pass.get()
    if current is not None:
        current.answers += 1


@contextmanager
def read_pass(
    log: AuditLog | None,
    clock: Callable[[], float],
    *,
    action: str,
    connection: str,
    mailbox: str,
    principal: str,
) -> Iterator[ReadPass]:
    """A ``ReadPass`` around the block, closed (its record appended) when the block ends; inside
    an open pass of the same principal, that pass."""
    current = _open_pass.get()
    if current is not None and current.principal == principal:
        yield current
        return
    audited = ReadPass(log, clock, action=action, connection=connection, mailbox=mailbox, principal=principal)
    try:
        with audited.reading():
            yield audited
    finally:
        audited.close()
