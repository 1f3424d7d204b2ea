"""The page's policy switch and approvals: read and change a connection's policy (allow / approve /
disabled per category, per-action overrides), and decide the approvals a run asked for.

The page is the person at the keyboard: approving here is a human's decision, as
``outlook-connector approvals approve`` is. Policies and approvals live in the store of the
connection (the sandbox's in its throw-away store).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from connector.errors import ConnectorError
from connector.ui.workspace import Workspace

DECIDED_BY = "step runner (web page)"
policy_api = Blueprint("policy", __name__, url_prefix="/api")


def _workspace() -> Workspace:
    workspace = current_app.extensions["outlook_connector_ui"]
    assert isinstance(workspace, Workspace)
    return workspace


def _connection_name() -> str:
    name = request.args.get("connection") if request.method == "GET" else _body().get("connection")
    if not isinstance(name, str) or not name:
        raise ConnectorError("choose a connection (or the sandbox)")
    return name


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ConnectorError("the request body must be a JSON object")
    return body


def _policy_view(name: str) -> dict[str, Any]:
    from connector.policy import CATEGORY_MEANINGS, SETTINGS

    runtime, stored_name = _workspace().policy_scope(name)
    assert runtime.store is not None
    own = runtime.store.get_policy(stored_name) is not None
    return {
        "connection": name,
        "policy": runtime.gate.policy_for(stored_name).to_dict(),
        "source": "this connection's policy" if own else "the default policy",
        "categories": [{"name": c, "meaning": m} for c, m in CATEGORY_MEANINGS.items()],
        "settings": list(SETTINGS),
    }


@policy_api.get("/policy")
def show_policy() -> ResponseReturnValue:
    """The policy in force for ``?connection=NAME``, where it comes from, what each category means."""
    return jsonify(_policy_view(_connection_name()))


@policy_api.put("/policy")
def set_policy() -> ResponseReturnValue:
    """Store ``{"connection", "policy": {"categories", "overrides", ...}}`` as that connection's
    own policy (an invalid one is refused with its field errors)."""
    from connector.policy import Policy

    name = _connection_name()
    runtime, stored_name = _workspace().policy_scope(name)
    assert runtime.store is not None
    policy = Policy.from_dict(_body().get("policy"), runtime.manifest)
    runtime.store.set_policy(stored_name, policy.to_dict())
    return jsonify(_policy_view(name))


@policy_api.post("/approvals/<approval_id>")
def decide_approval(approval_id: str) -> ResponseReturnValue:
    """``{"connection", "approve": true|false}``: the person's answer to a pending approval."""
    approve = _body().get("approve")
    if not isinstance(approve, bool):
        raise ConnectorError("approve: must be true or false")
    runtime, _ = _workspace().policy_scope(_connection_name())
    decided = runtime.gate.decide(approval_id, approve, DECIDED_BY)
    return jsonify(decided.summary_dict())
