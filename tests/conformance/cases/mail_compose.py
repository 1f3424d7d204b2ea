"""Docs-contract rows for composing and filing mail: reply, reply all, forward, drafts, update,
move/copy, permanent delete, MIME download and message delta."""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.support.docs_contract import (
    MAILBOX,
    DocCall,
    DocCase,
    DocsFault,
    Endpoint,
    message_input,
    recipients_input,
    sample_id,
)

_MESSAGE = MAILBOX + r"/messages/[^/]+"

ACTION_ENDPOINTS: dict[str, list[Endpoint]] = {
    "reply_to_message": [("POST", _MESSAGE + r"/reply")],
    "reply_all_to_message": [("POST", _MESSAGE + r"/replyAll")],
    "forward_message": [("POST", _MESSAGE + r"/forward")],
    "create_draft": [("POST", MAILBOX + r"(?:/mailFolders/[^/]+)?/messages")],
    "update_message": [("PATCH", _MESSAGE)],
    "send_draft": [("POST", _MESSAGE + r"/send")],
    "create_reply_draft": [("POST", _MESSAGE + r"/createReply")],
    "create_reply_all_draft": [("POST", _MESSAGE + r"/createReplyAll")],
    "create_forward_draft": [("POST", _MESSAGE + r"/createForward")],
    "move_message": [("POST", _MESSAGE + r"/move")],
    "copy_message": [("POST", _MESSAGE + r"/copy")],
    "permanent_delete_message": [("POST", _MESSAGE + r"/permanentDelete")],
    "get_message_mime": [("GET", _MESSAGE + r"/\$value")],
    "list_message_delta": [("GET", MAILBOX + r"/mailFolders/[^/]+/messages/delta")],
    "create_draft_mime": [("POST+MIME", MAILBOX + r"/messages")],
    "list_scheduled_messages": [
        ("GET", MAILBOX + r"/mailFolders/outbox/messages"),
        ("GET", MAILBOX + r"/mailFolders/outbox"),
    ],
    "cancel_scheduled_message": [("GET", _MESSAGE), ("DELETE", _MESSAGE)],  # delete_message's, claimed first
}


# -- docs faults of these examples (fixed in the documented exchange, never in the connector) ----------
def _response_id(call: DocCall) -> None:
    call.response_body.setdefault("id", sample_id(90))
    _response_body_type(call.response_body)


def _response_body_type(message: dict[str, Any]) -> None:
    body = message.get("body")
    if isinstance(body, dict) and body.get("contentType") not in ("text", "html"):
        body["contentType"] = "text"


def _forward_address(call: DocCall) -> None:
    call.body["toRecipients"][0]["emailAddress"]["address"] = "samanthab@contoso.onmicrosoft.com"


def _delta_ids(call: DocCall) -> None:
    for index, item in enumerate(call.response_body["value"], start=1):
        item.setdefault("id", sample_id(200 + index))
        _response_body_type(item)


def _lowercase_importance(call: DocCall) -> None:
    call.body["importance"] = str(call.body["importance"]).lower()


_HEADER = re.compile(r"^[A-Za-z][A-Za-z0-9-]*:")


def _mime_rewrapped(call: DocCall) -> None:
    """Strip the trailing spaces the docs added, drop the blank line they put inside the header block
    and fold the header lines they wrapped without leading whitespace."""
    lines = [re.sub(r"^\s+", " ", line.rstrip()) for line in str(call.response_body).split("\n")]
    out: list[str] = []
    in_headers = True
    for index, line in enumerate(lines):
        if in_headers and not line:
            following = next((x for x in lines[index + 1 :] if x), "")
            if _HEADER.match(following) and not following.startswith("--"):
                continue  # a blank line inside the headers
            in_headers = False
        elif in_headers and not _HEADER.match(line) and not line[:1].isspace():
            line = " " + line
        out.append(line)
    call.response_body = "\r\n".join(out)


NO_ID = DocsFault(
    "the docs shortened the response: the message lacks `id`, which Graph always returns; and its"
    ' body.contentType is a placeholder ("" or "contentType-value"; bodyType is text or html)',
    _response_id,
)
FORWARD_ADDRESS = DocsFault(
    'uses the placeholder "address-value" as an email address; a real address is sent', _forward_address
)
MIME_WRAPPED = DocsFault(
    "the docs wrapped the MIME headers without folding whitespace (continuation lines start at column"
    " 0), put a blank line inside the header block and trailing spaces on every line, so the header"
    " block ends after the first Received line; and its folded lines are indented with no-break spaces"
    " (U+00A0), which are not MIME whitespace. The headers are re-folded as RFC 5322 requires",
    _mime_rewrapped,
)


def _complete_smime(call: DocCall) -> None:
    """Drop the header line the docs cut in half and end the header block with an enveloped body."""
    raw = base64.b64decode("".join(str(call.body).split()))
    head = raw.rsplit(b"\r\n", 1)[0]
    body = b"Content-Disposition: attachment; filename=smime.p7m\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    call.body = base64.b64encode(head + b"\r\n" + body + b"MIAGCSqGSIb3DQEHA6CAMIACAQAxggFe\r\n").decode(
        "ascii"
    )


SMIME_CUT = DocsFault(
    "the docs cut the S/MIME message short: its base64 decodes to headers ending mid-name"
    " (`Content-Disposi`), with no blank line and no body. The cut line is dropped and the message ends"
    " with a Content-Disposition header, a blank line and an enveloped-data body",
    _complete_smime,
)
DELTA_IDS = DocsFault(
    "the docs shortened the response: its messages lack `id`, which a delta response always carries;"
    ' body.contentType is the placeholder "contentType-value" (bodyType is text or html)',
    _delta_ids,
)
IMPORTANCE_CASE = DocsFault(
    '"importance": "Low" is capitalized; the importance enum is low/normal/high (Mail.yml), which the'
    " connector sends",
    _lowercase_importance,
)


# -- expectations ------------------------------------------------------------------------------------
def responded(call: DocCall, output: dict[str, Any]) -> None:
    assert output["sent"] is True
    assert output["message_id"] == call.after("messages")


def same_object(call: DocCall, output: dict[str, Any]) -> None:
    for key, value in call.response_body.items():
        assert output.get(key) == value, key


def draft_sent(call: DocCall, output: dict[str, Any]) -> None:
    assert output == {"sent": True, "id": call.after("messages"), "scheduled_for": None}


def permanently_deleted(call: DocCall, output: dict[str, Any]) -> None:
    assert output == {"deleted": True, "id": call.after("messages")}


def mime_parsed(call: DocCall, output: dict[str, Any]) -> None:
    assert output["mime"] == call.response_body
    assert output["subject"] == "This email has attachment."
    assert output["from"] == "admin@contoso.com" and output["to"] == ["admin@contoso.com"]
    assert output["message_id"] == "<4aade2547798441eab5188a7a2436bc1@contoso.com>"
    assert output["text"] and output["html"]
    assert [a["name"] for a in output["attachments"]] == ["Attachment email.eml"]


def delta_page(call: DocCall, output: dict[str, Any]) -> None:
    documented = call.response_body
    assert [c["id"] for c in output["changes"]] == [v["id"] for v in documented["value"]]
    assert output["next_link"] == documented["@odata.nextLink"]
    assert output["delta_link"] is None


# -- input derivations --------------------------------------------------------------------------------
def message_id(call: DocCall) -> dict[str, Any]:
    return {**call.mailbox_input(), "message_id": call.after("messages")}


def reply_input(call: DocCall) -> dict[str, Any]:
    params = message_id(call)
    if call.body.get("comment"):
        params["comment"] = call.body["comment"]
    message = call.body.get("message") or {}
    if message.get("toRecipients"):
        params["to"] = recipients_input(message["toRecipients"])
    if call.body.get("toRecipients"):
        params["to"] = recipients_input(call.body["toRecipients"])
    return params


def destination_input(call: DocCall) -> dict[str, Any]:
    return {**message_id(call), "destination_id": call.body["destinationId"]}


def delta_input(call: DocCall) -> dict[str, Any]:
    prefer = next(v for k, v in call.headers.items() if k.lower() == "prefer")
    size = int(prefer.split("=", 1)[1])
    return {
        **call.mailbox_input(),
        "folder_id": call.after("mailFolders"),
        "page_size": size,
        "fetch_all": False,
    }


CASES: dict[str, DocCase] = {
    "message_reply_v1": DocCase("reply_to_message", reply_input, expect=responded),
    "message_replyall": DocCase("reply_all_to_message", reply_input, expect=responded),
    "message_forward": DocCase("forward_message", reply_input, faults=(FORWARD_ADDRESS,), expect=responded),
    "create_message_from_user": DocCase(
        "create_draft",
        lambda c: {**c.mailbox_input(), **message_input(c.body)},
        faults=(IMPORTANCE_CASE,),
        expect=same_object,
    ),
    "message_send": DocCase("send_draft", message_id, expect=draft_sent),
    "message_createreply": DocCase("create_reply_draft", message_id, faults=(NO_ID,), expect=same_object),
    "message_createreplyall": DocCase(
        "create_reply_all_draft", message_id, faults=(NO_ID,), expect=same_object
    ),
    "message_createforward": DocCase("create_forward_draft", message_id, faults=(NO_ID,), expect=same_object),
    "message_move": DocCase("move_message", destination_input, expect=same_object),
    "message_copy": DocCase("copy_message", destination_input, faults=(NO_ID,), expect=same_object),
    "messagethis.permanentdelete": DocCase(
        "permanent_delete_message", message_id, expect=permanently_deleted
    ),
    "get_message_in_mime": DocCase(
        "get_message_mime", message_id, faults=(MIME_WRAPPED,), expect=mime_parsed
    ),
    "message_delta": DocCase("list_message_delta", delta_input, faults=(DELTA_IDS,), expect=delta_page),
    "message_create_draft_mime_v1": DocCase(
        "create_draft_mime",
        lambda c: {**c.mailbox_input(), "mime_base64": c.body},
        faults=(SMIME_CUT,),
        expect=same_object,
    ),
}

_MIME = (
    "replies and forwards with a MIME body (base64 text/plain); the reply and forward actions send JSON"
    " (MIME goes to send_mime_message and create_draft_mime, for new messages)"
)

UNUSED: dict[str, str] = {
    "message_reply_mime_v1": _MIME,
    "message_replyAll_mime_v1": _MIME,
    "message_forward_mime_v1": _MIME,
    "message_createReply_mime_v1": _MIME,
    "message_createreplyAll_mime_v1": _MIME,
    "message-createforward_2": _MIME,
    "create_message_with_headers_from_user": "create_draft has no input for custom internetMessageHeaders",
    "create_message_from_mailfolder": "sets read-only properties (receivedDateTime, sentDateTime,"
    " hasAttachments, bodyPreview) that create_draft does not send",
    "update_eventmessage": "sets meeting-message properties; update_message takes message properties",
    "post_opentypeextension_1": "creates a message with an open extension; create_draft has no extensions"
    " input",
    "update_message": "changes subject and body, which update_message sends only after reading isDraft"
    " (two requests: it refuses draft-only changes on sent messages first); the documented exchange is"
    " one request. Also sets inferenceClassification, which has no input",
}
