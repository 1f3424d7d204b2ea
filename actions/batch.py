"""Batch Request: up to 20 Graph requests in one JSON batch (``POST /$batch``).

Graph answers each sub-request separately; throttled ones (429) are sent again, alone, after their
``Retry-After`` (a bounded number of times), and the combined answers come back in request order.
A sub-request that may have been applied is never repeated: only 429s (Graph did not run them), 5xx
answers of idempotent methods, and the 424s of requests that depended on one of those are retried.
The engine (actions/_batch.py) is shared with the bulk actions.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from actions._batch import MAX_BATCH, SubRequest, run_batch
from actions._inputs import ActionInput, HeaderName, HeaderValue, check_relative_path
from connector._paths import MAX_LINK_LENGTH
from connector.context import ActionContext
from connector.schemas import returns


class BatchItemInput(ActionInput):
    id: str = Field(
        min_length=1, max_length=64, title="Id", description="Unique in the batch; its answer carries it."
    )
    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"] = Field(default="GET", title="Method")
    url: str = Field(
        min_length=1,
        max_length=MAX_LINK_LENGTH,
        title="URL",
        description="Relative to the Graph version root, with its query: `/me/messages?$top=5`.",
        examples=["/me/mailFolders/inbox?$select=displayName,unreadItemCount"],
    )
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict, max_length=50, title="Headers")
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
        return check_relative_path(value)

    @field_validator("headers")
    @classmethod
    def _no_credentials(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.strip().lower() in ("authorization", "host", "cookie", "content-length"):
                raise ValueError(f"{name!r} cannot be set in a batch request")
        return value

    def sub_request(self) -> SubRequest:
        return SubRequest(self.id, self.method, self.url, self.body, self.headers, tuple(self.depends_on))


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
    run = run_batch(
        ctx,
        [item.sub_request() for item in params.requests],
        max_retries=params.max_retries,
        max_retry_wait=params.max_retry_wait,
    )
    if run.error is not None:
        raise run.error
    responses: list[dict[str, Any]] = []
    ok = 0
    for item in params.requests:
        got = run.answers[item.id]
        ok += got.ok
        responses.append(
            {
                "id": item.id,
                "status": got.status,
                "headers": got.headers,
                "body": got.body,
                "attempts": got.attempts,
            }
        )
    return {"responses": responses, "count": len(responses), "succeeded": ok, "failed": len(responses) - ok}
