"""The web step runner: a Flask app factory serving the page and the JSON API it calls.

    app = create_app(runtime, store)      # outlook-connector ui serves it on 127.0.0.1

The page never calls Graph: every step goes ``page -> this API -> Runtime``. Errors leave as JSON
built from the connector's own error types (``to_dict``): input errors (422) list each field's path
and reason, Graph errors (502) carry status, code, hint and request-id. Anything else is a 500
with no detail.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from connector.audit import Caller
from connector.errors import ConnectorError, GraphError, InputValidationError
from connector.ui import forms
from connector.ui.policy import policy_api
from connector.ui.workspace import SANDBOX, Workspace, ui_caller

if TYPE_CHECKING:
    from connector.runtime import Runtime
    from connector.store import Store

EXTENSION_KEY = "outlook_connector_ui"
CALLER_KEY = "outlook_connector_ui_caller"
log = logging.getLogger("outlook_connector.ui")
MAX_WAIT = 25
"""Longest long poll of a trigger's events, in seconds."""
api = Blueprint("api", __name__, url_prefix="/api")


def create_app(runtime: Runtime, store: Store) -> Flask:
    """A fresh app over ``runtime`` (saved connections in ``store``). ``close_app`` stops the
    sandbox it may have started."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.json.sort_keys = False  # type: ignore[attr-defined]  # a form shows fields in schema order
    app.extensions[EXTENSION_KEY] = Workspace(runtime, store)
    app.extensions[CALLER_KEY] = ui_caller()
    app.register_blueprint(api)
    app.register_blueprint(policy_api)
    app.add_url_rule("/", "index", lambda: app.send_static_file("index.html"))
    app.register_error_handler(ConnectorError, _connector_error)
    app.before_request(_local_host_only)
    return app


def close_app(app: Flask) -> None:
    _workspace(app).close()


def _workspace(app: Flask | None = None) -> Workspace:
    workspace = (app or current_app).extensions[EXTENSION_KEY]
    assert isinstance(workspace, Workspace)
    return workspace


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})


def _local_host_only() -> ResponseReturnValue | None:
    """Refuse a request whose Host is not this machine: a web page that rebinds its own name to
    127.0.0.1 must not reach the user's connections. (Cross-site form posts are refused already:
    the API reads JSON bodies only, which a browser sends cross-site only after a CORS preflight
    this app never grants.)"""
    if request.host.rpartition(":")[0] not in LOCAL_HOSTS and request.host not in LOCAL_HOSTS:
        return jsonify(error={"type": "ConnectorError", "message": "this page serves 127.0.0.1 only"}), 403
    return None


def _connector_error(error: ConnectorError) -> ResponseReturnValue:
    from connector.policy import PolicyError

    if isinstance(error, InputValidationError):
        status = 422
    elif isinstance(error, GraphError):
        status = 502
    elif isinstance(error, PolicyError):  # disabled, or waiting for a person's approval
        status = 403
    else:
        status = 400
    return jsonify(error=error.to_dict()), status


def _caller() -> Caller:
    caller = current_app.extensions[CALLER_KEY]
    assert isinstance(caller, Caller)
    return caller


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ConnectorError("the request body must be a JSON object")
    return body


@api.get("/catalogue")
def catalogue() -> ResponseReturnValue:
    return jsonify(groups=forms.catalogue(_workspace().runtime.manifest))


@api.get("/connections")
def connections() -> ResponseReturnValue:
    return jsonify(connections=_workspace().connections(), sandbox=SANDBOX)


@api.get("/steps/<kind>/<key>")
def step(kind: str, key: str) -> ResponseReturnValue:
    manifest = _workspace().runtime.manifest
    if kind == "action":
        entry = manifest.action(key)
    elif kind == "trigger" and key in manifest.triggers:
        entry = manifest.triggers[key]
    else:
        raise ConnectorError(f"unknown {kind} {key!r}")
    return jsonify(forms.step(entry, kind, manifest))


@api.post("/run/<key>")
def run(key: str) -> ResponseReturnValue:
    """Run action ``key``: ``{"connection": NAME, "input": {...}}`` -> ``{"output": {...}}``."""
    body = _body()
    _workspace().runtime.manifest.action(key)  # an unknown key fails before a sandbox starts
    runtime, connection = _workspace().resolve(body.get("connection"))
    approval = body.get("approval")
    if approval is not None and not isinstance(approval, str):
        raise ConnectorError("approval: must be an approval id")
    output = runtime.run_action(key, body.get("input"), connection, approval=approval, caller=_caller())
    return jsonify(output=output)


@api.post("/data-sources/<key>")
def data_source(key: str) -> ResponseReturnValue:
    """One page of a data source's options (one Graph request); ``cursor`` asks for the next."""
    body = _body()
    _workspace().runtime.data_source(key)
    runtime, connection = _workspace().resolve(body.get("connection"))
    return jsonify(runtime.run_data_source(key, body.get("input"), connection, caller=_caller()))


@api.post("/triggers/<key>/start")
def start_trigger(key: str) -> ResponseReturnValue:
    """Enable trigger ``key`` on the sandbox; its events are read with ``/triggers/runs/ID``."""
    body = _body()
    if body.get("connection") != SANDBOX:
        raise ConnectorError(
            "triggers start here on the sandbox only (a saved connection's trigger needs a public"
            " receiver: `outlook-connector triggers listen KEY`)"
        )
    run = _workspace().sandbox().start_trigger(key, body.get("input"))
    return jsonify(instance_id=run.instance_id, trigger_key=run.trigger_key)


@api.get("/triggers/runs/<instance_id>")
def trigger_events(instance_id: str) -> ResponseReturnValue:
    """The run's events after the first ``after``; ``wait`` (seconds, up to 25) holds the answer
    until one comes (the page long-polls)."""
    after, wait = request.args.get("after", "0"), request.args.get("wait", "0")
    for name, value in (("after", after), ("wait", wait)):
        if not value.isdigit() or len(value) > 9:
            raise ConnectorError(f"{name}: must be a whole number")
    events, run = _workspace().sandbox().events(instance_id, int(after), min(int(wait), MAX_WAIT))
    return jsonify(events=events, next=int(after) + len(events), stopped=run.stopped, error=run.error)


@api.post("/triggers/runs/<instance_id>/stop")
def stop_trigger(instance_id: str) -> ResponseReturnValue:
    _workspace().sandbox().stop_trigger(instance_id)
    return jsonify(stopped=True)
