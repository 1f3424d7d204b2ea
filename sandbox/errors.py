"""Graph's OData error bodies and the identity platform's OAuth error bodies."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Response, g, jsonify


class GraphError(Exception):
    """Raised by handlers; the app answers with Graph's error JSON."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def graph_error_body(code: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": g.get("request_id", ""),
                "client-request-id": g.get("client_request_id", ""),
            },
        }
    }


def graph_error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    response = jsonify(graph_error_body(code, message))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


# -- common Graph errors -------------------------------------------------------------------------------
def bad_request(message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(400, code, message)


def access_denied() -> GraphError:
    return GraphError(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def item_not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def id_malformed() -> GraphError:
    return GraphError(400, "ErrorInvalidIdMalformed", "Id is malformed.")


def unknown_property(name: str, entity: str) -> GraphError:
    return GraphError(
        400,
        "RequestBroker--ParseUri",
        f"Could not find a property named '{name}' on type 'microsoft.graph.{entity}'.",
    )


_NAMESPACE = "microsoft.graph."


def invalid_request_body(name: str, entity: str) -> GraphError:
    return GraphError(
        400,
        "RequestBodyRead",
        f"The property '{name}' does not exist on type 'microsoft.graph.{entity.removeprefix(_NAMESPACE)}'. "
        "Make sure to "
        "only use property names that are defined by the type or mark the type as open type.",
    )


# -- identity platform -------------------------------------------------------------------------------
def oauth_error(status: int, error: str, aadsts: int, description: str, **extra: Any) -> Response:
    """An identity platform error: ``{"error", "error_description": "AADSTSnnn: ...", "error_codes"...}``."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = {
        "error": error,
        "error_description": f"AADSTS{aadsts}: {description}\r\nTrace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation_id}\r\nTimestamp: {now}",
        "error_codes": [aadsts],
        "timestamp": now,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
        **extra,
    }
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store, no-cache"
    return response
