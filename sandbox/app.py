"""The sandbox Flask app factory: identity platform + Graph v1.0 + admin controls on one host."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from sandbox import admin, delivery, identity
from sandbox.config import SandboxConfig
from sandbox.errors import GraphError, graph_error_response
from sandbox.fault_hooks import DroppedConnection
from sandbox.graph import create_blueprint, handle_http_exception
from sandbox.state import EXTENSION_KEY, RequestRecord, SandboxState, current_state, redact_form

_GRAPH_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
_HIDDEN_HEADERS = {"authorization", "cookie", "proxy-authorization"}
_DIAGNOSTIC = json.dumps(
    {
        "ServerInfo": {
            "DataCenter": "Sandbox",
            "Slice": "E",
            "Ring": "5",
            "ScaleUnit": "000",
            "RoleInstance": "SBX01",
        }
    },
    separators=(",", ":"),
)


def create_app(config: SandboxConfig | None = None) -> Flask:
    """A fresh sandbox: its own copy of the seeded tenant, grants, limits, faults and request log."""
    app = Flask("sandbox")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    state = SandboxState(config or SandboxConfig())
    state.subscriptions.tick = lambda: delivery.release_due(state)  # deferred sends fall due
    app.extensions[EXTENSION_KEY] = state
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_blueprint(identity.bp)
    app.register_blueprint(create_blueprint())
    app.register_blueprint(admin.bp)
    app.register_error_handler(GraphError, _graph_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.wsgi_app = _GraphPaths(app.wsgi_app, app)  # type: ignore[method-assign]
    return app


class _GraphPaths:
    """Graph's URL spellings, made the one spelling Flask routes know (in one place, before routing):

    - a trailing slash is dropped (``/me/mailFolders/`` is ``/me/mailFolders``);
    - a function called without parameters (``.../messages/delta()``) is its name (``.../delta``);
    - resource and action names are case-insensitive (``/me/mailfolders/{id}/childfolders`` is
      ``/me/mailFolders/{id}/childFolders``): a segment that spells a route's literal segment in
      another case gets the route's spelling. Other segments - ids (case-sensitive base64), UPNs,
      well-known folder names - are left exactly as sent.
    """

    def __init__(self, wsgi_app: Any, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self._spellings: dict[str, str] | None = None

    def spellings(self) -> dict[str, str]:
        """Lower-cased literal segment -> the routes' spelling (built once every route is registered)."""
        if self._spellings is None:
            found: dict[str, set[str]] = {}
            for rule in self.app.url_map.iter_rules():
                if rule.rule.startswith("/v1.0/"):
                    for part in rule.rule.split("/"):
                        if part and "<" not in part:
                            found.setdefault(part.lower(), set()).add(part)
            self._spellings = {low: next(iter(forms)) for low, forms in found.items() if len(forms) == 1}
        return self._spellings

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/v1.0/") and len(path) > len("/v1.0/"):
            spellings = self.spellings()
            segments = [s.removesuffix("()") for s in path.rstrip("/").split("/")]
            environ["PATH_INFO"] = "/".join(spellings.get(s.lower(), s) for s in segments)
        result: Iterable[bytes] = self.wsgi_app(environ, start_response)
        return result


def _is_graph() -> bool:
    return request.path.startswith("/v1.0")


def _start_request() -> None:
    g.request_id = str(uuid.uuid4())
    g.client_request_id = request.headers.get("client-request-id") or str(uuid.uuid4())
    if request.path.startswith("/_sandbox"):
        return
    body = None
    if request.is_json:
        body = request.get_json(silent=True)
    form = (
        redact_form(request.form.to_dict()) if request.mimetype == "application/x-www-form-urlencoded" else {}
    )
    record = RequestRecord(
        method=request.method,
        path=request.path,
        query=request.args.to_dict(),
        headers={k: v for k, v in request.headers.items() if k.lower() not in _HIDDEN_HEADERS},
        body=body,
        form=form,
        request_id=g.request_id,
    )
    g.log_record = record
    g.log_index = current_state().log_request(record)


def _finish_request(response: Response) -> Response:
    response.headers["request-id"] = g.get("request_id", "")
    response.headers["client-request-id"] = g.get("client_request_id", "")
    if _is_graph():
        response.headers["x-ms-ags-diagnostic"] = _DIAGNOSTIC
        if response.mimetype == "application/json":
            response.headers["Content-Type"] = _GRAPH_JSON
        response.headers.setdefault("Cache-Control", "no-cache")
    elif not request.path.startswith("/_sandbox"):
        response.headers["x-ms-request-id"] = g.get("request_id", "")
    record = g.get("log_record")
    if record is not None:
        record.status = 0 if g.get("dropped") else response.status_code
    return response


def _graph_error(error: GraphError) -> Response:
    return graph_error_response(error.status, error.code, error.message, error.headers)


def _http_error(error: HTTPException) -> Response | HTTPException:
    return handle_http_exception(error) if _is_graph() else error


def _unexpected_error(error: Exception) -> Response:
    if isinstance(error, DroppedConnection):
        raise error  # Flask's test client has no socket to drop: let the test see the exception
    current_app.logger.exception("sandbox handler failed")
    return graph_error_response(500, "InternalServerError", f"{type(error).__name__}: {error}")
