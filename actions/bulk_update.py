"""Update Messages: read state, categories, flag or move of many messages through JSON batches
(actions/_bulk.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from actions._batch import SubAnswer, SubRequest, run_batch
from actions._bulk import (
    MAX_MESSAGES,
    MAX_RETRIES,
    MAX_RETRY_WAIT,
    chunks,
    error_text,
    mailbox_bucket,
    not_processed,
)
from actions._inputs import GraphId, MailboxInput
from actions.models import FlagStatus
from connector.context import ActionContext, quote_segment
from connector.schemas import returns


class UpdateMessagesInput(MailboxInput):
    message_ids: list[GraphId] = Field(
        min_length=1,
        max_length=MAX_MESSAGES,
        title="Message ids",
        description=f"Graph ids of the messages to change (1 to {MAX_MESSAGES:,}).",
        examples=[["AAMkAGI2TQ1AAA=", "AAMkAGI2TQ2AAA="]],
    )
    is_read: bool | None = Field(
        default=None, title="Read", description="Mark read (true) or unread (false)."
    )
    categories: list[str] | None = Field(
        default=None,
        title="Set categories",
        description="Replace each message's categories with these ([] clears them).",
        examples=[["Red category"]],
    )
    add_categories: list[str] | None = Field(
        default=None,
        title="Add categories",
        description="Add these categories, keeping the others (each message is read first).",
    )
    remove_categories: list[str] | None = Field(
        default=None,
        title="Remove categories",
        description="Remove these categories (ignoring case), keeping the others (each message is read"
        " first).",
    )
    flag: FlagStatus | None = Field(default=None, title="Follow-up flag")
    destination_id: GraphId | None = Field(
        default=None,
        min_length=1,
        title="Move to folder",
        description="Folder id or well-known name to move the messages to, after the other changes."
        " Moved messages get new ids (returned as `new_id`).",
        examples=["archive"],
        json_schema_extra={"data_source": "select_mail_folder"},
    )

    @field_validator("message_ids")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        seen: dict[str, int] = {}
        for index, message_id in enumerate(value):
            if not message_id:
                raise ValueError(f"[{index}] is empty")
            if message_id in seen:
                raise ValueError(f"[{index}] repeats the id at [{seen[message_id]}]; list each message once")
            seen[message_id] = index
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> UpdateMessagesInput:
        if self.categories is not None and (self.add_categories or self.remove_categories):
            raise ValueError("categories: cannot be combined with add_categories or remove_categories")
        if not (self.patch_json() or self.edits_categories or self.destination_id):
            raise ValueError(
                "name at least one change: is_read, categories, add_categories, remove_categories, flag"
                " or destination_id"
            )
        return self

    @property
    def edits_categories(self) -> bool:
        return bool(self.add_categories or self.remove_categories)

    def patch_json(self) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        if self.is_read is not None:
            patch["isRead"] = self.is_read
        if self.categories is not None:
            patch["categories"] = self.categories
        if self.flag is not None:
            patch["flag"] = {"flagStatus": self.flag}
        return patch

    def edited(self, current: list[str]) -> list[str]:
        """``current`` with the removals and additions applied (ignoring case, keeping order)."""
        removed = {c.casefold() for c in self.remove_categories or []}
        kept = [c for c in current if c.casefold() not in removed]
        present = {c.casefold() for c in kept}
        for category in self.add_categories or []:
            if category.casefold() not in present:
                kept.append(category)
                present.add(category.casefold())
        return kept


class ItemError(BaseModel):
    status: int = Field(description="Graph's HTTP status for the request (0: no answer).")
    code: str
    message: str


class MessageOutcome(BaseModel):
    message_id: str
    status: Literal["ok", "error", "unknown"] = Field(
        description="ok: every change applied; error: not applied (safe to run again); unknown: a move"
        " Graph may or may not have applied (it failed after reaching Graph), so it was not retried."
    )
    new_id: str | None = Field(default=None, description="The message's id after a move.")
    error: ItemError | None = None


class UpdateMessagesOutput(BaseModel):
    results: list[MessageOutcome] = Field(description="One outcome per message id, in input order.")
    count: int
    succeeded: int
    failed: int = Field(description="Messages with status error or unknown.")
    unknown: int = Field(default=0, description="Messages whose move may or may not have happened.")
    batches: int = Field(description="How many $batch calls were made.")


@dataclass
class _Updates:
    """The running state of an Update Messages run."""

    ctx: ActionContext
    params: UpdateMessagesInput
    base: str
    results: dict[str, dict[str, Any]]
    calls: int = 0
    stopped: str = ""
    """Why the run stopped early (a batch call failed), else empty."""

    def path(self, message_id: str) -> str:
        return f"{self.base}/messages/{quote_segment(message_id)}"

    def fail(self, message_id: str, status: int, code: str, message: str, *, unknown: bool = False) -> None:
        self.results[message_id].update(
            status="unknown" if unknown else "error",
            error={"status": status, "code": code, "message": message},
        )

    def send(self, requests: list[tuple[str, SubRequest]], *, moves: bool = False) -> dict[str, SubAnswer]:
        """One batch; answers by message id. A failed batch call fails its messages and stops the run."""
        if not requests or self.stopped:
            return {}
        run = run_batch(
            self.ctx,
            [sub for _, sub in requests],
            max_retries=MAX_RETRIES,
            max_retry_wait=MAX_RETRY_WAIT,
            mailbox=mailbox_bucket(self.base),
        )
        self.calls += run.calls
        answers = {message_id: run.answers[sub.id] for message_id, sub in requests}
        if run.error is not None:
            status, code, text = error_text(run.error)
            self.stopped = f"the run stopped after a batch call failed: {text}"
            unanswered = set(run.unanswered)
            unknown = moves and not not_processed(run.error)
            for message_id, sub in requests:
                if sub.id in unanswered:
                    self.fail(message_id, status, code, text, unknown=unknown)
                    answers.pop(message_id)
        return answers

    def answer_failed(self, message_id: str, answer: SubAnswer, *, applied_maybe: bool) -> bool:
        if answer.ok:
            return False
        code, message = answer.error()
        unknown = applied_maybe and (answer.status >= 500 or answer.status == 0)
        if unknown:
            code = "RequestOutcomeUnknown"
            message = (
                f"Graph answered {answer.status or 'nothing'}; the move may or may not have happened, so it"
                " was not retried. " + message
            ).strip()
        self.fail(
            message_id,
            answer.status,
            code or "Error",
            message or f"Graph answered {answer.status}",
            unknown=unknown,
        )
        return True


def _update_chunk(run: _Updates, ids: Sequence[str]) -> None:
    params = run.params
    active = [m for m in ids if run.results[m]["status"] == "ok"]
    patches: dict[str, dict[str, Any]] = {m: params.patch_json() for m in active}
    if params.edits_categories:
        reads = [
            (m, SubRequest(f"g{n}", "GET", f"{run.path(m)}?$select=categories")) for n, m in enumerate(active)
        ]
        for message_id, answer in run.send(reads).items():
            if run.answer_failed(message_id, answer, applied_maybe=False):
                continue
            body = answer.body if isinstance(answer.body, dict) else {}
            current = [str(c) for c in body.get("categories") or []]
            wanted = params.edited(current)
            if wanted != current:
                patches[message_id]["categories"] = wanted
        active = [m for m in active if run.results[m]["status"] == "ok"]
    writes = [
        (m, SubRequest(f"p{n}", "PATCH", run.path(m), patches[m])) for n, m in enumerate(active) if patches[m]
    ]
    for message_id, answer in run.send(writes).items():
        run.answer_failed(message_id, answer, applied_maybe=False)
    if params.destination_id:
        moving = [m for m in active if run.results[m]["status"] == "ok"]
        moves = [
            (m, SubRequest(f"m{n}", "POST", f"{run.path(m)}/move", {"destinationId": params.destination_id}))
            for n, m in enumerate(moving)
        ]
        for message_id, answer in run.send(moves, moves=True).items():
            if not run.answer_failed(message_id, answer, applied_maybe=True):
                body = answer.body if isinstance(answer.body, dict) else {}
                run.results[message_id]["new_id"] = body.get("id")


@returns(UpdateMessagesOutput)
def update_messages(ctx: ActionContext, params: UpdateMessagesInput) -> dict[str, Any]:
    """Mark read/unread, set/add/remove categories, flag and/or move many messages, 20 per batch."""
    run = _Updates(
        ctx,
        params,
        ctx.mailbox(params.user_id),
        {m: {"message_id": m, "status": "ok", "new_id": None, "error": None} for m in params.message_ids},
    )
    for chunk in chunks(params.message_ids):
        if run.stopped:
            for message_id in chunk:
                run.fail(message_id, 0, "NotAttempted", f"not attempted: {run.stopped}")
            continue
        _update_chunk(run, chunk)
    results = [run.results[m] for m in params.message_ids]
    ok = sum(r["status"] == "ok" for r in results)
    return {
        "results": results,
        "count": len(results),
        "succeeded": ok,
        "failed": len(results) - ok,
        "unknown": sum(r["status"] == "unknown" for r in results),
        "batches": run.calls,
    }
