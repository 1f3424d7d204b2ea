"""The one JSON batch engine (``POST /$batch``): Batch Request and the bulk actions send through it.

Graph answers each sub-request separately. Throttled ones (429) are sent again, alone, after their
``Retry-After`` (a bounded number of times). A sub-request that may have been applied is never
repeated: only 429s (Graph did not run them), 5xx answers of idempotent methods, and the 424s of
requests that depended on one of those are retried.

The batch call itself never repeats a batch holding a non-idempotent sub-request unless Graph
answered 429 (a 503 to the whole batch may come after its sub-requests ran).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector._paths import header_problem, path_problem
from connector._retry import IDEMPOTENT_METHODS, parse_retry_after
from connector.context import ActionContext
from connector.errors import ConnectorError, GraphError

MAX_BATCH = 20
"""Graph takes at most 20 requests in one batch."""
MAILBOX_CONCURRENCY = 4
"""Graph dispatches up to 4 sub-requests of a batch to Outlook at once."""
_RETRYABLE_IF_IDEMPOTENT = frozenset({500, 502, 503, 504})
_DEFAULT_WAIT = 1.0
NO_ANSWER = 0
"""The status recorded for a sub-request Graph's answer did not mention."""


@dataclass(frozen=True)
class SubRequest:
    """One request of a batch; ``url`` is relative to the version root (``/me/messages?$top=5``)."""

    id: str
    method: str
    url: str
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT_METHODS

    def to_graph(self, depends_on: Sequence[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "method": self.method, "url": self.url}
        headers = dict(self.headers)
        if self.body is not None:
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
            item["body"] = self.body
        if headers:
            item["headers"] = headers
        if depends_on:
            item["dependsOn"] = list(depends_on)
        return item


@dataclass
class SubAnswer:
    status: int
    headers: dict[str, str]
    body: Any
    attempts: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def error(self) -> tuple[str, str]:
        """Graph's error ``(code, message)`` from the answer body (empty strings when absent)."""
        body = self.body if isinstance(self.body, dict) else {}
        error = body.get("error")
        if not isinstance(error, dict):
            return "", ""
        return str(error.get("code") or ""), str(error.get("message") or "")


@dataclass
class BatchRun:
    """The answers of a run; ``error`` is set when a batch call itself failed, and ``unanswered``
    then lists the ids that call carried (they have no answer, or an earlier throttled one)."""

    answers: dict[str, SubAnswer]
    error: ConnectorError | None = None
    unanswered: list[str] = field(default_factory=list)
    calls: int = 0
    """How many ``$batch`` calls were made."""


def run_batch(
    ctx: ActionContext,
    requests: Sequence[SubRequest],
    *,
    max_retries: int = 3,
    max_retry_wait: float = 60.0,
    mailbox: str = "",
) -> BatchRun:
    """Send up to 20 requests as one batch, retrying what Graph did not run; answers by id.

    ``mailbox``: the concurrency bucket when every sub-request targets that mailbox (the batch call
    then holds as many of its slots as Graph runs at once); ``""`` for none.
    """
    if not 0 < len(requests) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} requests")
    for item in requests:  # every sub-request addresses what it says, before anything is sent
        problem = path_problem(item.url) or next(
            (p for n, v in item.headers.items() if (p := header_problem(n, v))), None
        )
        if problem is not None:
            raise GraphError(f"not sent: sub-request {item.id!r}: {problem}", code="InvalidUrl")
    sleep: Callable[[float], None] = ctx.extras.get("sleep", time.sleep)
    run = BatchRun(answers={})
    attempts: dict[str, int] = {}
    pending = list(requests)
    retries = 0
    waited = 0.0
    while True:
        ids = {item.id for item in pending}
        payload = {"requests": [i.to_graph([d for d in i.depends_on if d in ids]) for i in pending]}
        idempotent = all(i.idempotent for i in pending)
        run.calls += 1
        try:
            response = ctx.graph.request(
                "POST",
                "/$batch",
                json=payload,
                idempotent=idempotent,
                mailbox=mailbox,
                unprocessed=(429, 503) if idempotent else (429,),
                slots=min(len(pending), MAILBOX_CONCURRENCY) if mailbox else 1,
            )
            try:
                answer = response.json() if response.content else {}
            except ValueError:
                raise GraphError(
                    "Graph answered the batch with a body that is not JSON",
                    status=response.status_code,
                    code="InvalidResponse",
                ) from None
        except ConnectorError as exc:
            run.error = exc
            run.unanswered = [item.id for item in pending]
            for item in pending:
                attempts[item.id] = attempts.get(item.id, 0) + 1
                previous = run.answers.get(item.id)
                run.answers[item.id] = SubAnswer(
                    NO_ANSWER, {}, previous.body if previous else None, attempts[item.id]
                )
            return run
        listed = answer.get("responses", []) if isinstance(answer, dict) else []
        by_id = {str(r.get("id")): r for r in listed if isinstance(r, dict)}
        again: list[SubRequest] = []
        wait = 0.0
        for item in pending:
            attempts[item.id] = attempts.get(item.id, 0) + 1
            got = by_id.get(item.id) or {"status": NO_ANSWER, "body": {"error": {"code": "NoAnswer"}}}
            raw_headers = got.get("headers")
            headers = raw_headers if isinstance(raw_headers, dict) else {}
            status = int(got.get("status") or NO_ANSWER)
            run.answers[item.id] = SubAnswer(
                status, {str(k): str(v) for k, v in headers.items()}, got.get("body"), attempts[item.id]
            )
            retry = (
                status == 429
                or (status in _RETRYABLE_IF_IDEMPOTENT and item.idempotent)
                or (status == 424 and any(d in {a.id for a in again} for d in item.depends_on))
            )
            if retry:
                again.append(item)
                if status != 424:
                    wait = max(wait, _retry_after(headers))
        if not again or retries >= max_retries or waited + wait > max_retry_wait:
            return run
        ctx.logger.warning("batch: %d sub-requests throttled; retrying in %.2fs", len(again), wait)
        sleep(wait)
        waited += wait
        retries += 1
        pending = again


def _retry_after(headers: Mapping[str, Any]) -> float:
    for name, value in headers.items():
        if str(name).lower() == "retry-after":
            seconds = parse_retry_after(str(value))
            if seconds is not None:
                return seconds
    return _DEFAULT_WAIT
