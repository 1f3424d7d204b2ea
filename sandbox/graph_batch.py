"""JSON batching: ``POST /v1.0/$batch`` runs up to 20 sub-requests through this same app.

Each sub-request goes through the whole Graph pipeline (token, throttling, fault injection, handler)
with the batch's Authorization, so a sub-request can be throttled (429 + Retry-After) on its own.
As on Graph, up to 4 sub-requests run at once: those whose ``dependsOn`` requests have answered run
together, in waves; one whose ``dependsOn`` request failed is answered 424 Failed Dependency.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from sandbox.errors import bad_request, graph_error_body
from sandbox.fault_hooks import DroppedConnection
from sandbox.graph import json_body

MAX_REQUESTS = 20
PARALLEL = 4
"""Sub-requests of one batch that run at once (Outlook runs up to 4)."""
_METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}
_ANSWER_HEADERS = ("Content-Type", "Location", "Retry-After", "ETag", "Preference-Applied", "OData-Version")
_FORWARDED_HEADERS = ("Authorization", "Prefer")


def _sub_requests(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("requests"), list):
        raise bad_request("Invalid batch payload format.")
    items: list[dict[str, Any]] = payload["requests"]
    if not items:
        raise bad_request("Invalid batch payload format.")
    if len(items) > MAX_REQUESTS:
        raise bad_request(f"The batch request has {len(items)} requests; the limit is {MAX_REQUESTS}.")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            raise bad_request("Invalid batch payload format.")
        item_id, method, url = item.get("id"), item.get("method"), item.get("url")
        if not isinstance(item_id, str) or not item_id:
            raise bad_request("Request Id is required.")
        if item_id in seen:
            raise bad_request(f"Request Id '{item_id}' is not unique.")
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise bad_request(f"Invalid method for request '{item_id}'.")
        if not isinstance(url, str) or not url or "://" in url or url.startswith("//"):
            raise bad_request(f"Invalid request URL for request '{item_id}'.")
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or any(d not in seen for d in depends):
            raise bad_request(f"Request '{item_id}' depends on a request that is not before it in the batch.")
        if "body" in item and not any(str(k).lower() == "content-type" for k in item.get("headers") or {}):
            raise bad_request(f"Content-Type header must be specified for request '{item_id}' with a body.")
        seen.add(item_id)
    return items


def _answer(item_id: str, status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"id": item_id, "status": status, "headers": headers or {}}
    if body is not None:
        answer["body"] = body
    return answer


@dataclass(frozen=True)
class _Caller:
    """What a sub-request takes from the batch request (so it can run on another thread)."""

    app: Flask
    headers: dict[str, str]
    base_url: str


def _run(item: dict[str, Any], caller: _Caller) -> dict[str, Any]:
    url = str(item["url"])
    path = "/v1.0/" + url.lstrip("/")
    if path.split("?", 1)[0].rstrip("/").endswith("$batch"):
        return _answer(item["id"], 400, graph_error_body("BadRequest", "A batch cannot contain a batch."))
    headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()}
    for name, value in caller.headers.items():
        if name.lower() not in (k.lower() for k in headers):
            headers[name] = value
    data: bytes | None = None
    if "body" in item:
        body = item["body"]
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if isinstance(body, str) and "json" not in content_type.lower():
            try:
                data = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                return _answer(item["id"], 400, graph_error_body("BadRequest", "The body is not base64."))
        else:
            data = json.dumps(body).encode()
    client = caller.app.test_client()
    try:
        # An empty context: the sub-request gets its own app context and ``g`` (Flask would reuse ours).
        response = contextvars.Context().run(
            client.open,
            path,
            method=str(item["method"]).upper(),
            headers=headers,
            data=data,
            base_url=caller.base_url,
        )
    except DroppedConnection:
        return _answer(item["id"], 504, graph_error_body("UnknownError", ""))
    answer_headers = {n: response.headers[n] for n in _ANSWER_HEADERS if n in response.headers}
    raw = response.get_data()
    payload: Any = None
    if raw:
        if response.mimetype == "application/json":
            payload = json.loads(raw)
        else:
            payload = base64.b64encode(raw).decode("ascii")
    return _answer(item["id"], response.status_code, payload, answer_headers)


def batch() -> Response:
    items = _sub_requests(json_body())
    caller = _Caller(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        {n: request.headers[n] for n in _FORWARDED_HEADERS if n in request.headers},
        request.host_url.rstrip("/"),
    )
    answers: dict[str, dict[str, Any]] = {}
    waiting = list(items)
    with ThreadPoolExecutor(PARALLEL, thread_name_prefix="sandbox-batch") as pool:
        while waiting:
            ready = [i for i in waiting if all(d in answers for d in i.get("dependsOn", []))]
            runnable = []
            for item in ready:
                failed = [d for d in item.get("dependsOn", []) if not 200 <= answers[d]["status"] < 300]
                if failed:
                    message = f"The request depends on '{failed[0]}', which failed."
                    error = graph_error_body("FailedDependency", message)
                    answers[item["id"]] = _answer(item["id"], 424, error)
                else:
                    runnable.append(item)
            for item, answer in zip(runnable, pool.map(lambda i: _run(i, caller), runnable), strict=True):
                answers[item["id"]] = answer
            waiting = [i for i in waiting if i["id"] not in answers]
    return jsonify({"responses": [answers[item["id"]] for item in items]})


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/$batch", "batch", batch, methods=["POST"])
