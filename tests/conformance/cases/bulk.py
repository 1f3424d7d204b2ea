"""Docs-contract rows for the bulk mail actions (Update Messages, Send Templated Messages).

Both send JSON batches (``POST /$batch``), and Microsoft's examples document no ``$batch`` exchange,
so the whole-request table has nothing to replay for them. What they put inside a batch is checked
against the documented single requests instead: ``BATCHED_CASES`` names documented examples whose
request each action expresses as a sub-request (same method, path and body) and whose documented
answer it reads (tests/conformance/test_bulk_docs_contract.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.docs_contract import DocCall, message_input, recipients_input

ACTION_ENDPOINTS = {
    "update_messages": [("POST", r"/\$batch")],
    "send_templated_messages": [("POST", r"/\$batch")],
}


@dataclass(frozen=True)
class BatchedCase:
    """A documented request an action sends as a batch sub-request, for the input derived from it."""

    action: str
    derive: Callable[[DocCall], dict[str, Any]]
    expect: Callable[[DocCall, dict[str, Any]], None]


# -- send_templated_messages: the documented sendMail, as a template without variables and one row ----
def _templated(call: DocCall) -> dict[str, Any]:
    message = dict(call.body["message"])
    params = message_input(message)
    to = recipients_input(message.get("toRecipients"))
    row = {"To": ", ".join(r if isinstance(r, str) else f'"{r["name"]}" <{r["address"]}>' for r in to)}
    derived: dict[str, Any] = {
        **call.mailbox_input(),
        "subject_template": params["subject"],
        "body_template": params["body"],
        "body_type": params.get("body_type", "html"),
        "to_column": "To",
        "rows": [row],
    }
    for field, column in (("cc", "Cc"), ("bcc", "Bcc")):
        if params.get(field):
            row[column] = ", ".join(r if isinstance(r, str) else r["address"] for r in params[field])
            derived[f"{field}_column"] = column
    if params.get("attachments"):
        derived["attachments"] = params["attachments"]
    if "saveToSentItems" in call.body:
        derived["save_to_sent_items"] = call.body["saveToSentItems"]
    return derived


def _one_sent(call: DocCall, output: dict[str, Any]) -> None:
    assert output["sent"] == 1 and output["rows"][0]["status"] == "sent", output


# -- update_messages: the documented PATCH of a message and its move, for one id ---------------------
def _updated(call: DocCall) -> dict[str, Any]:
    params: dict[str, Any] = {**call.mailbox_input(), "message_ids": [call.after("messages")]}
    body = call.body
    if "isRead" in body:
        params["is_read"] = body["isRead"]
    if "categories" in body:
        params["categories"] = body["categories"]
    if "flag" in body:
        params["flag"] = body["flag"]["flagStatus"]
    return params


def _moved(call: DocCall) -> dict[str, Any]:
    return {
        **call.mailbox_input(),
        "message_ids": [call.after("messages")],
        "destination_id": call.body["destinationId"],
    }


def _one_ok(call: DocCall, output: dict[str, Any]) -> None:
    (result,) = output["results"]
    assert result["status"] == "ok", result
    if call.segments[-1].lower().endswith("move"):
        assert result["new_id"] == call.response_body["id"]


BATCHED_CASES: dict[str, BatchedCase] = {
    "user_sendmail": BatchedCase("send_templated_messages", _templated, _one_sent),
    "user_sendmail_with_attachment": BatchedCase("send_templated_messages", _templated, _one_sent),
    "message_move": BatchedCase("update_messages", _moved, _one_ok),
}
