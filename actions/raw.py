"""Raw Request: any Graph call the catalogue has no action for, on the connection's own Graph host."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from actions._files import FileData, file_attachment
from actions._inputs import ActionInput, HeaderName, HeaderValue, check_relative_path
from connector._paths import MAX_LINK_LENGTH
from connector._retry import IDEMPOTENT_METHODS, RetryPolicy
from connector.context import ActionContext
from connector.errors import FieldError, GraphError, InputValidationError
from connector.schemas import returns

FORBIDDEN_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
    }
)
"""Headers a caller may not set: credentials and framing belong to the connection and the client."""
SAFE_RESPONSE_HEADERS = (
    "content-type",
    "location",
    "etag",
    "retry-after",
    "preference-applied",
    "odata-version",
    "request-id",
    "client-request-id",
)
"""Response headers returned to the flow (no cookies, no diagnostics)."""


def _pairs_to_map(value: Any) -> Any:
    """Prismatic's key/value lists (``[{"key": ..., "value": ...}]``) -> a map; a map stays as it is."""
    if isinstance(value, list) and all(isinstance(i, dict) and set(i) == {"key", "value"} for i in value):
        return {str(i["key"]): i["value"] for i in value}
    return value


class KeyValue(BaseModel):
    key: str
    value: str


StringMap = Annotated[
    dict[str, str],
    BeforeValidator(_pairs_to_map, json_schema_input_type=dict[str, str] | list[KeyValue]),
]
"""A name -> text map, or a list of ``{key, value}`` pairs."""
HeaderMap = Annotated[
    dict[HeaderName, HeaderValue],
    BeforeValidator(_pairs_to_map, json_schema_input_type=dict[HeaderName, HeaderValue] | list[KeyValue]),
]
"""Header name -> value (HTTP token names, printable ASCII values), or a list of ``{key, value}`` pairs."""
MAX_RETRIES = 10
MAX_RETRY_DELAY_MS = 60_000


class RawRequestInput(ActionInput):
    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"] = Field(default="GET", title="Method")
    path: str = Field(
        min_length=1,
        max_length=MAX_LINK_LENGTH,
        title="Path",
        description="Relative to the Graph version root, e.g. `/me/messages` or `/users/alex@contoso.com`."
        " An absolute URL is accepted only on the connection's own Graph host (e.g. a nextLink).",
        examples=["/me/mailFolders/inbox"],
    )
    query: StringMap = Field(
        default_factory=dict,
        title="Query",
        description='Query options, e.g. {"$select": "subject", "$top": "5"}.',
        examples=[{"$select": "displayName,totalItemCount"}],
    )
    headers: HeaderMap = Field(
        default_factory=dict,
        max_length=50,
        title="Headers",
        description="Extra request headers, e.g. Prefer. Authorization and framing headers cannot be set;"
        " names are HTTP tokens, values printable ASCII without line breaks.",
        examples=[{"Prefer": 'outlook.body-content-type="text"'}],
    )
    body: Any = Field(default=None, title="Body", description="A JSON body (POST, PATCH, PUT).")
    form_data: StringMap = Field(
        default_factory=dict,
        title="Form data",
        description="Fields sent as a multipart/form-data body (with `file_data`), instead of `body`.",
    )
    file_data: Annotated[
        dict[str, FileData],
        BeforeValidator(_pairs_to_map, json_schema_input_type=dict[str, FileData] | list[KeyValue]),
    ] = Field(
        default_factory=dict,
        title="File data",
        description="Files sent in the multipart/form-data body: field name -> file data (text, {data:"
        " base64, contentType} or a Buffer as JSON).",
    )
    file_data_file_names: StringMap = Field(
        default_factory=dict,
        title="File names",
        description="Field name (a key of `file_data`) -> the file name sent for it. Default: the field"
        " name.",
    )
    response_type: Literal["json", "text", "binary"] | None = Field(
        default=None,
        title="Response type",
        description="json: the answer parsed as JSON (as text if it is not JSON); text: as text;"
        " binary: base64 (`body_base64`). Empty: by the answer's Content-Type.",
    )
    timeout_ms: int | None = Field(
        default=None,
        ge=1,
        le=600_000,
        title="Timeout (ms)",
        description="How long to wait for each answer, in milliseconds (at most 10 minutes). Empty: 30 s.",
    )
    max_retry_count: int | None = Field(
        default=None,
        ge=0,
        le=MAX_RETRIES,
        title="Max retry count",
        description="Retries after a failed attempt (0: none). Empty: the connector's own (throttling"
        " 429, 503, 504 and network errors, up to 4 retries). A POST is never sent again once Graph"
        " may have run it.",
    )
    retry_delay_ms: int = Field(
        default=0,
        ge=0,
        le=MAX_RETRY_DELAY_MS,
        title="Retry delay (ms)",
        description="The wait between retries without `use_exponential_backoff` (Retry-After wins).",
    )
    retry_on_all_errors: bool = Field(
        default=False,
        title="Retry on all errors",
        description="Retry any 3xx-5xx answer, not only 429, 503 and 504 (GET, PUT, PATCH, DELETE only:"
        " a POST is retried only when Graph provably did not run it).",
    )
    use_exponential_backoff: bool = Field(
        default=False,
        title="Exponential backoff",
        description="Wait 0.5 s, 1 s, 2 s ... (with jitter) between retries instead of `retry_delay_ms`.",
    )

    @model_validator(mode="after")
    def _one_body(self) -> RawRequestInput:
        multipart = bool(self.form_data or self.file_data)
        if multipart and self.body is not None:
            raise ValueError("body: give a JSON body or form_data/file_data, not both")
        if multipart and any(n.strip().lower() == "content-type" for n in self.headers):
            raise ValueError("headers: Content-Type is set by the multipart body (with its boundary)")
        unknown = sorted(set(self.file_data_file_names) - set(self.file_data))
        if unknown:
            raise ValueError(f"file_data_file_names: {', '.join(unknown)} is not a key of file_data")
        retry_options = self.retry_delay_ms or self.retry_on_all_errors or self.use_exponential_backoff
        if retry_options and self.max_retry_count is None:
            raise ValueError("max_retry_count: is required with the other retry options")
        return self

    def multipart(self) -> tuple[bytes, str] | None:
        """The multipart/form-data body and its Content-Type, or None without form or file data."""
        if not (self.form_data or self.file_data):
            return None
        files = {}
        for field, data in self.file_data.items():
            name = self.file_data_file_names.get(field) or field
            try:
                item = file_attachment(name, data.model_dump() if isinstance(data, BaseModel) else data)
                raw = base64.b64decode(item["content_base64"], validate=True)
            except ValueError as exc:
                raise InputValidationError([FieldError(f"file_data.{field}", str(exc))]) from None
            files[field] = (name, raw, item["content_type"])
        encoded = httpx.Request("POST", "https://multipart.invalid/", data=self.form_data, files=files)
        return encoded.read(), encoded.headers["content-type"]

    def retry_policy(self) -> RetryPolicy | None:
        """This request's retry policy (None: the connector's)."""
        if self.max_retry_count is None:
            return None
        base = RetryPolicy(max_attempts=self.max_retry_count + 1, max_total_wait=300.0)
        if not self.use_exponential_backoff:
            delay = self.retry_delay_ms / 1000
            base = replace(base, backoff_base=delay, backoff_max=delay, jitter=lambda d: d)
        if self.retry_on_all_errors and self.method in IDEMPOTENT_METHODS:
            base = replace(base, retry_statuses=tuple(range(300, 600)))
        return base

    @field_validator("headers")
    @classmethod
    def _no_credentials(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.strip().lower() in FORBIDDEN_HEADERS:
                raise ValueError(f"{name!r} cannot be set: the connection supplies credentials and framing")
        return value

    @field_validator("path")
    @classmethod
    def _one_resource(cls, value: str) -> str:
        """No whitespace, control characters or fragment; no empty, ``.`` or ``..`` segment (the
        URL layer would drop them and address another resource). Absolute URLs: the same, and the
        Graph client then refuses any host but the connection's."""
        if "://" in value:
            check_relative_path("/" + value.partition("://")[2].partition("/")[2])
            return value
        return check_relative_path(value)


class RawResponse(BaseModel):
    status: int = Field(description="Graph's HTTP status (2xx; errors fail the action).")
    headers: StringMap = Field(description="A safe subset of the response headers.")
    body: Any = Field(
        default=None,
        description="The JSON answer; text answers as a string; binary ones as base64 (see `body_base64`).",
    )
    body_base64: bool = Field(default=False, description="True when `body` is base64 of a binary answer.")


@returns(RawResponse)
def raw_request(ctx: ActionContext, params: RawRequestInput) -> dict[str, Any]:
    multipart = params.multipart()
    headers = dict(params.headers)
    if multipart is not None:
        headers["Content-Type"] = multipart[1]
    try:
        response = ctx.graph.request(
            params.method,
            params.path,
            params=params.query or None,
            json=params.body,
            content=multipart[0] if multipart is not None else None,
            headers=headers or None,
            retry=params.retry_policy(),
            timeout=params.timeout_ms / 1000 if params.timeout_ms else None,
        )
    except GraphError as exc:
        if exc.code in ("UntrustedHost", "InvalidUrl"):
            raise InputValidationError([FieldError("path", str(exc))]) from None
        raise
    return {
        "status": response.status_code,
        "headers": {n: response.headers[n] for n in SAFE_RESPONSE_HEADERS if n in response.headers},
        **_body(response, params.response_type),
    }


def _body(response: httpx.Response, response_type: str | None = None) -> dict[str, Any]:
    if not response.content:
        return {"body": None, "body_base64": False}
    if response_type == "binary":
        return {"body": base64.b64encode(response.content).decode("ascii"), "body_base64": True}
    if response_type == "json":  # an answer that is not JSON comes back as text, as axios does
        try:
            return {"body": response.json(), "body_base64": False}
        except ValueError:
            response_type = "text"
    if response_type == "text":
        return {
            "body": response.content.decode(response.encoding or "utf-8", errors="replace"),
            "body_base64": False,
        }
    mime = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mime == "application/json" or mime.endswith("+json"):
        try:
            return {"body": response.json(), "body_base64": False}
        except ValueError:
            pass
    if mime.startswith("text/") or mime in ("application/json", "application/xml"):
        try:
            return {"body": response.content.decode(response.encoding or "utf-8"), "body_base64": False}
        except (UnicodeDecodeError, LookupError):
            pass
    return {"body": base64.b64encode(response.content).decode("ascii"), "body_base64": True}
