"""Send Templated Messages: one message per row of a sheet, through JSON batches (actions/_bulk.py).

Sending never repeats a message Graph may have accepted: only a 429 (Graph did not run the request)
is retried. A 5xx (503 included: Graph can answer it after the message went), a missing answer, or a
batch call that failed after it may have reached Graph make the row ``unknown``. With a ``run_id``
each row's message is recorded in the state store before its batch is sent, so a re-run skips the
rows sent before (``already_sent``) and never re-sends one whose outcome is unknown.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from actions import _template
from actions._batch import MAX_BATCH, SubAnswer, SubRequest, run_batch
from actions._bulk import (
    BATCH_BYTES,
    JOURNAL,
    JOURNAL_TTL,
    MAX_RETRIES,
    MAX_RETRY_WAIT,
    MAX_ROWS,
    error_text,
    mailbox_bucket,
    not_processed,
)
from actions._deferred import SendAtInput, deferred_properties, deferred_until
from actions._inputs import MailboxInput
from actions._mail import ATTACHMENT_FORMS, REQUEST_LIMIT, AttachmentInput, Attachments, _looks_like_address
from connector.context import ActionContext
from connector.errors import ConnectorError, FieldError, InputValidationError
from connector.schemas import returns


class SendTemplatedMessagesInput(SendAtInput, MailboxInput):
    subject_template: str = Field(
        min_length=1,
        title="Subject",
        description="The subject, with `{{Column Name}}` variables filled from each row.",
        examples=["Your order {{Order Number}}"],
    )
    body_template: str = Field(
        min_length=1,
        title="Body",
        description="The body, with `{{Column Name}}` variables. In an HTML body the values are"
        " HTML-escaped (a row's data cannot add markup).",
        examples=["<p>Hello {{First Name}},</p><p>your order {{Order Number}} has shipped.</p>"],
    )
    body_type: Literal["html", "text"] = Field(default="html", title="Body type")
    to_column: str = Field(
        min_length=1,
        title="To column",
        description="The column holding each row's recipient address (several may be separated by"
        " commas or semicolons; `Name <address>` works too).",
        examples=["Email"],
    )
    cc_column: str | None = Field(default=None, min_length=1, title="Cc column")
    bcc_column: str | None = Field(default=None, min_length=1, title="Bcc column")
    rows: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_ROWS,
        title="Rows",
        description=f"One object per message (1 to {MAX_ROWS}): column name -> value (text, number or"
        " boolean). Variable names match columns exactly, else ignoring case; a missing or blank value"
        " fails that row alone.",
        examples=[[{"Email": "alex@contoso.com", "First Name": "Alex", "Order Number": 1042}]],
    )
    attachments: Attachments = Field(
        default_factory=list,
        title="Attachments",
        description="Files added to every message; under 3 MB in all." + ATTACHMENT_FORMS,
    )
    save_to_sent_items: bool = Field(default=True, title="Save to Sent Items")
    run_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f]+$",
        title="Run id",
        description="An idempotency key: rows sent under this id (same row number and same message) are"
        " skipped as `already_sent` when the action runs again, and a row whose outcome was unknown is"
        " not sent again. Needs the connector's state store; kept 30 days.",
        examples=["newsletter-2026-05"],
    )

    @field_validator("attachments")
    @classmethod
    def _small(cls, value: list[AttachmentInput]) -> list[AttachmentInput]:
        total = sum(len(a.content_base64) for a in value)
        if total >= REQUEST_LIMIT * 3 // 4:
            raise ValueError(
                f"add up to {total:,} base64 bytes; attachments shared by every message must stay under"
                " 3 MB in all (each message goes in a Graph request under 4 MB)"
            )
        return value

    @model_validator(mode="after")
    def _templates_match_columns(self) -> SendTemplatedMessagesInput:
        columns = _template.column_names(self.rows)
        problems: list[str] = []
        for field_name in ("subject_template", "body_template"):
            try:
                names = _template.variables(getattr(self, field_name))
            except ValueError as exc:
                problems.append(f"{field_name}: {exc}")
                continue
            unknown = [n for n in names if n.casefold() not in columns]
            if unknown:
                problems.append(
                    f"{field_name}: {', '.join('{{' + n + '}}' for n in unknown)} is not a column of any row"
                    f" (columns: {', '.join(sorted(columns)) or 'none'})"
                )
        for field_name in ("to_column", "cc_column", "bcc_column"):
            name = getattr(self, field_name)
            if name is not None and name.strip().casefold() not in columns:
                problems.append(f"{field_name}: {name!r} is not a column of any row")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class RowOutcome(BaseModel):
    row: int = Field(description="The row's index in `rows` (from 0).")
    recipient: str = Field(description="The To addresses of the row's message ('' if unreadable).")
    status: Literal["sent", "failed", "unknown", "already_sent"] = Field(
        description="sent: Graph accepted it; failed: not sent (safe to send again); unknown: it may or"
        " may not have been sent (never retried: check Sent Items); already_sent: sent by an earlier run"
        " with this run_id."
    )
    reason: str | None = Field(default=None, description="Why it failed or is unknown.")


class SendTemplatedMessagesOutput(BaseModel):
    rows: list[RowOutcome] = Field(description="One outcome per row, in input order.")
    count: int
    sent: int
    failed: int
    unknown: int
    already_sent: int
    batches: int = Field(description="How many $batch calls were made.")
    scheduled_for: str | None = Field(
        default=None,
        description="With `send_at` in the future: when Exchange sends the messages (UTC); else null.",
    )


@dataclass
class _Row:
    index: int
    recipient: str
    request: SubRequest | None = None
    key: str = ""
    """The row's journal key (with a run_id)."""
    size: int = 0


def _addresses(row: dict[str, Any], column: str | None, field_name: str) -> list[dict[str, Any]]:
    if column is None:
        return []
    value = _template.lookup(row, column.strip())
    if value is None or (isinstance(value, str) and not value.strip()):
        if field_name == "to":
            raise _template.RowError(f"to: column {column!r} is blank")
        return []
    if not isinstance(value, str):
        raise _template.RowError(f"{field_name}: column {column!r} holds no email address")
    out: list[dict[str, Any]] = []
    for name, address in getaddresses([value.replace(";", ",")]):
        try:
            _looks_like_address(address)
        except ValueError:
            raise _template.RowError(
                f"{field_name}: {value!r} (column {column!r}) is not an email address"
            ) from None
        out.append({"emailAddress": {"address": address, **({"name": name} if name else {})}})
    if not out:
        raise _template.RowError(f"{field_name}: {value!r} (column {column!r}) is not an email address")
    return out


def _message(params: SendTemplatedMessagesInput, row: dict[str, Any], until: str | None) -> dict[str, Any]:
    subject = " ".join(_template.render(params.subject_template, row).splitlines())
    if len(subject) > 255:
        raise _template.RowError(f"the subject is {len(subject)} characters once filled; at most 255")
    html_body = params.body_type == "html"
    message: dict[str, Any] = {
        "subject": subject,
        "body": {
            "contentType": "HTML" if html_body else "Text",
            "content": _template.render(params.body_template, row, html_escape=html_body),
        },
        "toRecipients": _addresses(row, params.to_column, "to"),
    }
    for column, field_name, graph_name in (
        (params.cc_column, "cc", "ccRecipients"),
        (params.bcc_column, "bcc", "bccRecipients"),
    ):
        found = _addresses(row, column, field_name)
        if found:
            message[graph_name] = found
    if params.attachments:
        message["attachments"] = [a.to_graph() for a in params.attachments]
    return {**message, **deferred_properties(until)}


def _digest(message: dict[str, Any], attachments_digest: str, save: bool) -> str:
    """A hash of the rendered message (attachments by their digest, computed once). The scheduled
    send time is left out: a re-run with a recomputed ``send_at``, or after it passed, is the same
    message (sending it again would be a duplicate)."""
    left_out = ("attachments", "singleValueExtendedProperties")
    content = {k: v for k, v in message.items() if k not in left_out}
    text = json.dumps([content, attachments_digest, save], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _attachments_digest(attachments: Sequence[AttachmentInput]) -> str:
    sha = hashlib.sha256()
    for attachment in attachments:
        sha.update(json.dumps(attachment.to_graph(), sort_keys=True).encode())
    return sha.hexdigest()


def _packs(rows: Sequence[_Row]) -> Iterator[list[_Row]]:
    """Rows in batches of at most 20 requests and BATCH_BYTES of JSON."""
    batch: list[_Row] = []
    size = 0
    for row in rows:
        if batch and (len(batch) == MAX_BATCH or size + row.size > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += row.size
    if batch:
        yield batch


_PREVIOUS_UNKNOWN = (
    "an earlier run with this run_id sent it without learning the outcome; not sent again (check the"
    " recipient or Sent Items; use a new run_id to send it anyway)"
)


class _Journal:
    """Rows sent under a run_id, in the state store: ``sending`` before the batch goes, then ``sent``;
    a row that failed before Graph ran it is forgotten (a re-run sends it)."""

    def __init__(self, ctx: ActionContext, run_id: str | None) -> None:
        self.store = ctx.store if run_id else None
        # a tenant's run_ids are its own (another tenant's run of the same id is none of its business)
        self.prefix = "" if self.store is None else self.store.tenant_prefix(ctx.connection.name)

    def previous(self, key: str) -> str | None:
        """``already_sent`` or ``unknown`` when an earlier run has the row, else None."""
        if self.store is None:
            return None
        entry = self.store.kv_get(JOURNAL, self.prefix + key)
        if entry is None and self.prefix:
            # written before run_ids were per tenant (unprefixed): still never sent twice
            entry = self.store.kv_get(JOURNAL, key)
        if entry is None:
            return None
        return "already_sent" if isinstance(entry, dict) and entry.get("status") == "sent" else "unknown"

    def claim(self, key: str) -> str | None:
        """Record the row as being sent; the earlier state if another run has it (then do not send)."""
        if self.store is None:
            return None
        if self.prefix and self.store.kv_get(JOURNAL, key) is not None:
            return self.previous(key)
        if self.store.kv_add(JOURNAL, self.prefix + key, {"status": "sending"}, ttl=JOURNAL_TTL):
            return None
        return self.previous(key) or "unknown"

    def settle(self, key: str, status: str) -> None:
        if self.store is None:
            return
        if status == "failed":
            self.store.kv_delete(JOURNAL, self.prefix + key)
        else:
            self.store.kv_put(JOURNAL, self.prefix + key, {"status": status}, ttl=JOURNAL_TTL)


def _sub_outcome(answer: SubAnswer) -> tuple[str, str | None]:
    """(status, reason) of one sendMail sub-request's final answer."""
    if answer.ok:
        return "sent", None
    code, message = answer.error()
    said = f"Graph answered {answer.status}{' ' + code if code else ''}{': ' + message if message else ''}"
    if answer.status == 429:
        return "failed", f"throttled {answer.attempts} times, not sent ({said}); safe to send again"
    if 400 <= answer.status < 500:
        return "failed", f"not sent: {said}"
    if answer.status == 0:
        return (
            "unknown",
            "Graph's batch answer did not include this request; it may or may not have been sent",
        )
    return "unknown", f"{said}; it may or may not have been sent, so it was not retried"


def _call_outcome(exc: ConnectorError) -> tuple[str, str]:
    _, code, text = error_text(exc)
    if not_processed(exc):
        return "failed", f"not sent: the batch call failed before Graph ran it ({code}: {text})"
    return "unknown", f"the batch call failed after it may have reached Graph ({code}: {text}); not retried"


@dataclass
class _Sending:
    """The running state of a Send Templated Messages run."""

    ctx: ActionContext
    journal: _Journal
    base: str
    outcomes: dict[int, dict[str, Any]]
    calls: int = 0
    stopped: str = ""

    def record(self, row: _Row, status: str, reason: str | None = None) -> None:
        self.outcomes[row.index] = {
            "row": row.index,
            "recipient": row.recipient,
            "status": status,
            "reason": reason,
        }

    def earlier(self, row: _Row, status: str) -> None:
        self.record(row, status, None if status == "already_sent" else _PREVIOUS_UNKNOWN)

    def send(self, batch: list[_Row]) -> None:
        if self.stopped:
            for row in batch:
                self.record(row, "failed", f"not sent: {self.stopped}; run again to send it")
            return
        claimed: list[_Row] = []
        for row in batch:
            earlier = self.journal.claim(row.key) if row.key else None
            if earlier is None:
                claimed.append(row)
            else:
                self.earlier(row, earlier)
        requests = [row.request for row in claimed if row.request is not None]
        if not requests:
            return
        run = run_batch(
            self.ctx,
            requests,
            max_retries=MAX_RETRIES,
            max_retry_wait=MAX_RETRY_WAIT,
            mailbox=mailbox_bucket(self.base),
        )
        self.calls += run.calls
        unanswered = set(run.unanswered)
        for row, request in zip(claimed, requests, strict=True):
            reason: str | None
            if run.error is not None and request.id in unanswered:
                status, reason = _call_outcome(run.error)
            else:
                status, reason = _sub_outcome(run.answers[request.id])
            self.record(row, status, reason)
            if row.key:
                self.journal.settle(row.key, status)
        if run.error is not None:
            self.stopped = f"the run stopped after a batch call failed ({error_text(run.error)[1]})"


def _prepare(
    params: SendTemplatedMessagesInput,
    base: str,
    shared: str,
    index: int,
    data: dict[str, Any],
    until: str | None = None,
) -> tuple[_Row, str | None]:
    """The row's request (and journal key), or the reason it fails alone."""
    row = _Row(index, _recipient_text(data, params.to_column))
    try:
        message = _message(params, data, until)
    except _template.RowError as exc:
        return row, str(exc)
    row.recipient = ", ".join(r["emailAddress"]["address"] for r in message["toRecipients"])
    body = {"message": message, "saveToSentItems": params.save_to_sent_items}
    row.request = SubRequest(str(index), "POST", f"{base}/sendMail", body)
    row.size = len(json.dumps(row.request.to_graph([]), ensure_ascii=False).encode())
    if row.size > BATCH_BYTES:
        return row, f"the message is {row.size:,} bytes as JSON; a Graph request must stay under 4 MB"
    if params.run_id:
        digest = _digest(message, shared, params.save_to_sent_items)
        row.key = f"{params.run_id}:{index}:{digest}"
    return row, None


@returns(SendTemplatedMessagesOutput)
def send_templated_messages(ctx: ActionContext, params: SendTemplatedMessagesInput) -> dict[str, Any]:
    """One message per row, rendered from the templates, sent 20 per batch; never a row twice."""
    if params.run_id and ctx.store is None:
        raise InputValidationError(
            [FieldError("run_id", "needs the connector's state store to remember sent rows; run without it")]
        )
    sending = _Sending(ctx, _Journal(ctx, params.run_id), ctx.mailbox(params.user_id), {})
    ready: list[_Row] = []
    shared = _attachments_digest(params.attachments)
    until = deferred_until(params.send_at)
    for index, data in enumerate(params.rows):
        row, problem = _prepare(params, sending.base, shared, index, data, until)
        earlier = sending.journal.previous(row.key) if row.key and problem is None else None
        if problem is not None:
            sending.record(row, "failed", problem)
        elif earlier is not None:
            sending.earlier(row, earlier)
        else:
            ready.append(row)
    for batch in _packs(ready):
        sending.send(batch)
    rows = [sending.outcomes[i] for i in range(len(params.rows))]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("sent", "failed", "unknown", "already_sent")}
    return {"rows": rows, "count": len(rows), **counts, "batches": sending.calls, "scheduled_for": until}


def _recipient_text(row: dict[str, Any], column: str) -> str:
    value = _template.lookup(row, column.strip())
    return value.strip() if isinstance(value, str) else ""
