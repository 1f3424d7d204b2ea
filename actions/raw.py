"""Raw Request: any Graph call the catalogue has no action for, on the connection's own Graph host."""

from __future__ import annotations

import base64
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, field_validator

from actions._inputs import ActionInput
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


class RawRequestInput(ActionInput):
    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"] = Field(default="GET", title="Method")
    path: str = Field(
        min_length=1,
        title="Path",
        description="Relative to the Graph version root, e.g. `/me/messages` or `/users/alex@contoso.com`."
        " An absolute URL is accepted only on the connection's own Graph host (e.g. a nextLink).",
        examples=["/me/mailFolders/inbox"],
    )
    query: dict[str, str] = Field(
        default_factory=dict,
        title="Query",
        description='Query options, e.g. {"$select": "subject", "$top": "5"}.',
        examples=[{"$select": "displayName,totalItemCount"}],
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        title="Headers",
        description="Extra request headers, e.g. Prefer. Authorization and framing headers cannot be set.",
        examples=[{"Prefer": 'outlook.body-content-type="text"'}],
    )
    body: Any = Field(default=None, title="Body", description="A JSON body (POST, PATCH, PUT).")

    @field_validator("headers")
    @classmethod
    def _no_credentials(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.strip().lower() in FORBIDDEN_HEADERS:
                raise ValueError(f"{name!r} cannot be set: the connection supplies credentials and framing")
        return value

    @field_validator("path")
    @classmethod
    def _no_control_characters(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\t ") or "#" in value:
            raise ValueError("must be a URL path without spaces, line breaks or a #fragment")
        return value


class RawResponse(BaseModel):
    status: int = Field(description="Graph's HTTP status (2xx; errors fail the action).")
    headers: dict[str, str] = Field(description="A safe subset of the response headers.")
    body: Any = Field(
        default=None,
        description="The JSON answer; text answers as a string; binary ones as base64 (see `body_base64`).",
    )
    body_base64: bool = Field(default=False, description="True when `body` is base64 of a binary answer.")


@returns(RawResponse)
def raw_request(ctx: ActionContext, params: RawRequestInput) -> dict[str, Any]:
    try:
        response = ctx.graph.request(
            params.method,
            params.path,
            params=params.query or None,
            json=params.body,
            headers=params.headers or None,
        )
    except GraphError as exc:
        if exc.code in ("UntrustedHost", "InvalidUrl"):
            raise InputValidationError([FieldError("path", str(exc))]) from None
        raise
    return {
        "status": response.status_code,
        "headers": {n: response.headers[n] for n in SAFE_RESPONSE_HEADERS if n in response.headers},
        **_body(response),
    }


def _body(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {"body": None, "body_base64": False}
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
