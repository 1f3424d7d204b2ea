"""Batch Request: up to 20 Graph requests in one JSON batch (``POST /$batch``).

Graph answers each sub-request separately; throttled ones (429) are sent again, alone, after their
``Retry-After`` (a bounded number of times), and the combined answers come back in request order.
A sub-request that may have been applied is never repeated: only 429s (Graph did not run them), 5xx
answers of idempotent methods, and the 424s of requests that depended on one of those are retried.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from actions._inputs import ActionInput
from connector._retry import IDEMPOTENT_METHODS, parse_retry_after
from connector.context import ActionContext
from connector.schemas import returns

MAX_BATCH = 20
_RETRYABLE_IF_IDEMPOTENT = frozenset({500, 502, 503, 504})
_DEFAULT_WAIT = 1.0


class BatchItemInput(ActionInput):
    id: str = Field(
        min_length=1, max_length=64, title="Id", description="Unique in the batch; its answer carries it."
    )
    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"] = Field(default="GET", title="Method")
    url: str = Field(
        min_length=1,
        title="URL",
        description="Relative to the Graph version root, with its query: `/me/messages?$top=5`.",
        examples=["/me/mailFolders/inbox?$select=displayName,unreadItemCount"],
    )
    headers: dict[str, str] = Field(default_factory=dict, title="Headers")
    body: Any = Field(default=None, title="Body", description="A JSON body (POST, PATCH, PUT).")
    depends_on: list[str] = Field(
        default_factory=list,
        title="Depends on",
        description="Ids of earlier requests that must succeed first (Graph then runs them in order).",
    )

    @field_validator("url")
    @classmethod
    def _relative(cls, value: str) -> str:
        if "://" in value or value.startswith("//") or any(ch in value for ch in "\r\n\t "):
            raise ValueError("must be a path relative to the Graph version root, e.g. /me/messages")
        return value

    @field_validator("headers")
    @classmethod
    def _no_credentials(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.strip().lower() in ("authorization", "host", "cookie", "content-length"):
                raise ValueError(f"{name!r} cannot be set in a batch request")
        return value

    def to_graph(self, depends_on: list[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.id, "method": self.method, "url": self.url}
        headers = dict(self.headers)
        if self.body is not None:
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
            item["body"] = self.body
        if headers:
            item["headers"] = headers
        if depends_on:
            item["dependsOn"] = depends_on
        return item


class BatchRequestInput(ActionInput):
    requests: list[BatchItemInput] = Field(
        min_length=1, max_length=MAX_BATCH, title="Requests", description="1 to 20 requests."
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        le=5,
        title="Retries of throttled requests",
        description="How many times requests answered 429 (throttled) are sent again.",
    )
    max_retry_wait: float = Field(
        default=60,
        ge=0,
        le=300,
        title="Longest total wait (s)",
        description="Stop retrying when the Retry-After waits would add up to more than this.",
    )

    @model_validator(mode="after")
    def _ids_and_dependencies(self) -> BatchRequestInput:
        seen: set[str] = set()
        for index, item in enumerate(self.requests):
            if item.id in seen:
                raise ValueError(f"requests[{index}].id: {item.id!r} is used twice; ids must be unique")
            for dep in item.depends_on:
                if dep not in seen:
                    raise ValueError(
                        f"requests[{index}].depends_on: {dep!r} is not the id of an earlier request"
                    )
            seen.add(item.id)
        return self


class BatchResponse(BaseModel):
    id: str
    status: int = Field(description="The sub-request's HTTP status (424: a request it depended on failed).")
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    attempts: int = Field(description="How many times it was sent (more than 1 after throttling).")


class BatchOutput(BaseModel):
    responses: list[BatchResponse] = Field(description="One answer per request, in request order.")
    count: int
    succeeded: int = Field(description="Answers with a 2xx status.")
    failed: int = Field(description="Answers with another status.")


@returns(BatchOutput)
def batch_request(ctx: ActionContext, params: BatchRequestInput) -> dict[str, Any]:
    sleep = ctx.extras.get("sleep", time.sleep)
    answers: dict[str, dict[str, Any]] = {}
    attempts: dict[str, int] = {}
    pending = list(params.requests)
    retries = 0
    waited = 0.0
    while True:
        ids = {item.id for item in pending}
        payload = {"requests": [i.to_graph([d for d in i.depends_on if d in ids]) for i in pending]}
        idempotent = all(i.method in IDEMPOTENT_METHODS for i in pending)
        answer = ctx.graph.post_json("/$batch", json=payload, idempotent=idempotent, mailbox="")
        by_id = {str(r.get("id")): r for r in answer.get("responses", []) if isinstance(r, dict)}
        again: list[BatchItemInput] = []
        wait = 0.0
        for item in pending:
            attempts[item.id] = attempts.get(item.id, 0) + 1
            got = by_id.get(item.id) or {"status": 0, "body": {"error": {"code": "NoAnswer"}}}
            answers[item.id] = got
            status = int(got.get("status") or 0)
            retry = (
                status == 429
                or (status in _RETRYABLE_IF_IDEMPOTENT and item.method in IDEMPOTENT_METHODS)
                or (status == 424 and any(d in {a.id for a in again} for d in item.depends_on))
            )
            if retry:
                again.append(item)
                if status != 424:
                    wait = max(wait, _retry_after(got))
        if not again or retries >= params.max_retries or waited + wait > params.max_retry_wait:
            break
        ctx.logger.warning("batch: %d sub-requests throttled; retrying in %.2fs", len(again), wait)
        sleep(wait)
        waited += wait
        retries += 1
        pending = again
    responses: list[dict[str, Any]] = []
    ok = 0
    for item in params.requests:
        got = answers[item.id]
        status = int(got.get("status") or 0)
        ok += 200 <= status < 300
        raw_headers = got.get("headers")
        headers: dict[str, Any] = raw_headers if isinstance(raw_headers, dict) else {}
        responses.append(
            {
                "id": item.id,
                "status": status,
                "headers": {str(k): str(v) for k, v in headers.items()},
                "body": got.get("body"),
                "attempts": attempts[item.id],
            }
        )
    return {"responses": responses, "count": len(responses), "succeeded": ok, "failed": len(responses) - ok}


def _retry_after(answer: dict[str, Any]) -> float:
    headers = answer.get("headers") or {}
    for name, value in headers.items() if isinstance(headers, dict) else ():
        if str(name).lower() == "retry-after":
            seconds = parse_retry_after(str(value))
            if seconds is not None:
                return seconds
    return _DEFAULT_WAIT
