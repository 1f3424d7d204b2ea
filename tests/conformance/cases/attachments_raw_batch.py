"""Docs-contract rows for message attachments, Raw Request and Batch Request."""

from __future__ import annotations

from typing import Any

from tests.support.docs_contract import MAILBOX, DocCall, DocCase, Endpoint

_MESSAGE = MAILBOX + r"/messages/[^/]+"

ACTION_ENDPOINTS: dict[str, list[Endpoint]] = {
    "list_attachments": [("GET", _MESSAGE + r"/attachments")],
    "get_attachment": [("GET", _MESSAGE + r"/attachments/[^/]+(?:/\$value)?")],
    "add_attachment": [
        ("POST", _MESSAGE + r"/attachments"),
        ("POST", _MESSAGE + r"/attachments/(?:microsoft\.graph\.)?createUploadSession"),
    ],
    "delete_attachment": [("DELETE", _MESSAGE + r"/attachments/[^/]+")],
    # any endpoint: Raw Request is tested end to end on the sandbox, not against one documented page
    "raw_request": [],
    "batch_request": [("POST", r"/\$batch")],
}


def _message_input(call: DocCall) -> dict[str, Any]:
    return {**call.mailbox_input(), "message_id": call.after("messages")}


def _attachment_input(call: DocCall) -> dict[str, Any]:
    return {**_message_input(call), "attachment_id": call.after("attachments")}


def _same_list(call: DocCall, output: dict[str, Any]) -> None:
    documented = call.response_body["value"]
    assert output["count"] == len(documented)
    assert output["attachments"] == documented  # every documented property, content included


def _without_annotations(value: Any) -> Any:
    """Graph JSON without OData annotations other than @odata.type (as the actions return it)."""
    if isinstance(value, dict):
        return {k: _without_annotations(v) for k, v in value.items() if "@" not in k or k == "@odata.type"}
    if isinstance(value, list):
        return [_without_annotations(v) for v in value]
    return value


def _same_attachment(kind: str) -> Any:
    def expect(call: DocCall, output: dict[str, Any]) -> None:
        documented = _without_annotations(call.response_body)
        content = documented.pop("contentBytes", None)
        item = documented.pop("item", None)
        assert output["kind"] == kind
        assert output["content_base64"] == content
        assert output["item"] == item  # the attached item, every documented property
        for key, value in documented.items():
            assert output.get(key) == value, key

    return expect


def _item_input(expand: bool) -> Any:
    """The attachment's properties (and its item, expanded in the same request), without the $value."""

    def derive(call: DocCall) -> dict[str, Any]:
        return {**_attachment_input(call), "include_content": False, "include_item": expand}

    return derive


CASES: dict[str, DocCase] = {
    "message_get_attachments_v1": DocCase(
        "list_attachments", lambda c: {**_message_input(c), "include_content": True}, expect=_same_list
    ),
    "eventmessage_get_attachments_v1": DocCase(
        "list_attachments", lambda c: {**_message_input(c), "include_content": True}, expect=_same_list
    ),
    "get_file_attachment_v1": DocCase(
        "get_attachment",
        lambda c: {**_attachment_input(c), "include_item": False},
        expect=_same_attachment("file"),
    ),
    "get_reference_attachment": DocCase(
        "get_attachment",
        lambda c: {**_attachment_input(c), "include_item": False},
        expect=_same_attachment("reference"),
    ),
    "get_item_attachment": DocCase("get_attachment", _item_input(False), expect=_same_attachment("item")),
    "get_and_expand_item_attachment": DocCase(
        "get_attachment", _item_input(True), expect=_same_attachment("item")
    ),
    "get_and_expand_nested_item_attachment": DocCase(
        "get_attachment", _item_input(True), expect=_same_attachment("item")
    ),
}

_VALUE = (
    "get_attachment reads the attachment's properties first, then an item attachment's $value (two"
    " requests; tested end to end on the sandbox); a file's bytes come from contentBytes, without $value"
)
UNUSED: dict[str, str] = {
    "get_value_file_attachment": _VALUE,
    "get_value_contact_attachment": _VALUE,
    "get_value_event_attachment": _VALUE,
    "get_value_message_attachment": _VALUE,
    "create_file_attachment_from_message_v1": "the documented contentBytes 'R0lGODdhEAYEAA7' is not valid"
    " base64 (15 characters): add_attachment refuses it before any request",
    "create_file_attachment_from_eventmessage": "the documented values are placeholders"
    " ('base64-contentBytes-value' is not base64) and contentLocation is not an input of add_attachment",
    "create_item_attachment_from_message_v1": "add_attachment attaches an existing item (it reads the item,"
    " then posts the itemAttachment: two requests, tested end to end on the sandbox); the documented event"
    " is written inline, which is not an input",
    "attachment_createuploadsession": "add_attachment follows createUploadSession with the PUTs of the"
    " file's ranges (several requests) and states contentType and isInline; tested end to end on the"
    " sandbox with a 20 MB file",
}
