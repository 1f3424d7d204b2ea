"""Sandbox controls under ``/_sandbox/`` (not part of Graph): faults, reset, request log, identity tricks."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox import seed
from sandbox.config import FAULT_KINDS
from sandbox.state import current_state

bp = Blueprint("admin", __name__, url_prefix="/_sandbox")


def _error(message: str, status: int = 400) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _body() -> dict[str, Any]:
    payload = request.get_json(silent=True, force=True)
    return payload if isinstance(payload, dict) else {}


@bp.get("/")
def info() -> Response:
    base = request.host_url.rstrip("/")
    return jsonify(
        {
            "graph_url": f"{base}/v1.0",
            "authority": f"{base}/{seed.TENANT_ID}",
            "tenant_id": seed.TENANT_ID,
            "tenant_domain": seed.TENANT_DOMAIN,
            "client_id": seed.CLIENT_ID,
            "client_secret": seed.CLIENT_SECRET,  # a published fake value, like the rest of this tenant
            "default_user": seed.DEFAULT_USER,
            "users": [u["userPrincipalName"] for u in seed.USERS],
            "shared_mailbox": seed.SHARED_MAILBOX,
            "fault_kinds": list(FAULT_KINDS),
        }
    )


@bp.get("/faults")
def get_faults() -> Response:
    faults = current_state().faults
    return jsonify({"settings": asdict(faults.settings), "log": [asdict(record) for record in faults.log]})


@bp.post("/faults")
def set_faults() -> Response:
    """Body: ``{"rates": {"429": 0.1, ...}, "seed": 1, "paths": [...], "methods": [...],
    "slow_seconds": 0.2, "retry_after": [0.05]}``; kinds may also be given at the top level."""
    body = _body()
    rates = body.get("rates")
    if rates is None:
        rates = {kind: body[kind] for kind in FAULT_KINDS if kind in body}
    options = {k: body[k] for k in ("seed", "paths", "methods", "slow_seconds", "retry_after") if k in body}
    try:
        settings = current_state().set_faults({str(k): float(v) for k, v in rates.items()}, **options)
    except (TypeError, ValueError) as exc:
        return _error(str(exc))
    return jsonify({"settings": asdict(settings)})


@bp.post("/reset")
def reset() -> Response:
    current_state().reset()
    return jsonify({"reset": True})


@bp.get("/requests")
def requests_log() -> Response:
    since = request.args.get("since", "0")
    start = int(since) if since.isdigit() else 0
    log = current_state().request_log
    return jsonify({"requests": [record.to_json() for record in log[start:]], "next": len(log)})


@bp.delete("/requests")
def clear_requests() -> Response:
    state = current_state()
    with state.lock:
        state.request_log.clear()
    return Response(b"", status=204)


@bp.post("/identity/fail-next")
def fail_next_token() -> Response:
    """Body: ``{"error": 65001, "user": "upn"}`` or ``{"error": 50076, "app": true}``."""
    body = _body()
    try:
        current_state().force_token_failure(
            int(body.get("error", 0)), body.get("user"), bool(body.get("app"))
        )
    except (TypeError, ValueError) as exc:
        return _error(str(exc))
    return jsonify({"forced": int(body["error"])})


@bp.post("/tokens/expire")
def expire_tokens() -> Response:
    """Body: ``{"user": "upn"}``, ``{"app": true}`` or ``{}`` (everyone); ``"refresh_tokens": true``
    also invalidates refresh tokens (the next refresh fails with AADSTS70008)."""
    body = _body()
    try:
        count = current_state().expire_tokens(
            body.get("user"), bool(body.get("app")), bool(body.get("refresh_tokens"))
        )
    except ValueError as exc:
        return _error(str(exc))
    return jsonify({"expired_access_tokens": count})


# -- subscriptions (change notifications) -------------------------------------------------------------
@bp.get("/subscriptions")
def list_subscriptions() -> Response:
    """Every live subscription (all apps and users) and how many notification items wait."""
    hub = current_state().subscriptions
    return jsonify({"subscriptions": hub.list(), "pending": hub.pending_count()})


@bp.post("/subscriptions/deliver")
def deliver_notifications() -> Response:
    """POST every due notification batch now; body ``{"timeout": 10}`` (optional)."""
    hub = current_state().subscriptions
    try:
        timeout = float(_body().get("timeout", 10))
    except (TypeError, ValueError) as exc:
        return _error(str(exc))
    delivered = hub.deliver_pending(timeout)
    return jsonify({"delivered": delivered, "pending": hub.pending_count()})


@bp.post("/subscriptions/<subscription_id>/lifecycle")
def send_lifecycle(subscription_id: str) -> Response:
    """Body ``{"event": "reauthorizationRequired" | "subscriptionRemoved" | "missed"}``."""
    try:
        sent = current_state().subscriptions.send_lifecycle(subscription_id, str(_body().get("event", "")))
    except LookupError as exc:
        return _error(str(exc), 404)
    except ValueError as exc:
        return _error(str(exc))
    return jsonify({"sent": sent})


@bp.post("/subscriptions/<subscription_id>/expire")
def expire_subscription(subscription_id: str) -> Response:
    if not current_state().subscriptions.expire(subscription_id):
        return _error(f"no subscription {subscription_id!r}", 404)
    return jsonify({"expired": True})


# -- a notification endpoint to try subscriptions with ---------------------------------------------------
WEBHOOK_INBOX_LIMIT = 1000


@bp.post("/webhooks/<name>")
def webhook_inbox_post(name: str) -> Response:
    """Answers Graph's validation handshake like a good endpoint (200, text/plain, the token) and keeps
    the last notification bodies it receives (202), so ``notificationUrl`` can point here."""
    token = request.args.get("validationToken")
    if token is not None:
        return Response(token, status=200, mimetype="text/plain")
    state = current_state()
    with state.lock:
        received = state.webhook_inbox.setdefault(name, [])
        received.append(request.get_json(silent=True, force=True))
        del received[:-WEBHOOK_INBOX_LIMIT]
    return Response(status=202)


@bp.get("/webhooks/<name>")
def webhook_inbox_get(name: str) -> Response:
    state = current_state()
    with state.lock:
        return jsonify({"received": list(state.webhook_inbox.get(name, []))})
