"""Known faults of Microsoft's documented examples, in one place, each with its reason and its fix.

``doc_call`` applies them to every example it makes concrete, so the docs contract tests, the
sandbox tests and the OpenAPI tests agree on what the docs got wrong. A fault names what Graph
really does (per the OpenAPI documents, or other examples of the same docs) and fixes the example
to match; it never bends the connector to the docs.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.docs_contract import DocCall


@dataclass(frozen=True)
class DocsFault:
    """A known fault of Microsoft's docs in one example, and how the tests normalize it."""

    reason: str
    fix: Callable[[DocCall], None] | None = None


def _set(path: str, value: Any) -> Any:
    """A fix setting a dot-path of the request body."""

    def fix(call: DocCall) -> None:
        node = call.body
        *parents, last = path.split(".")
        for part in parents:
            node = node[part]
        node[last] = value

    return fix


def _status(status: int) -> Any:
    def fix(call: DocCall) -> None:
        call.status = status

    return fix


def _both(*fixes: Any) -> Any:
    def fix(call: DocCall) -> None:
        for one in fixes:
            one(call)

    return fix


def _drop(*names: str) -> Any:
    """A fix removing top-level properties of the request body."""

    def fix(call: DocCall) -> None:
        for name in names:
            call.body.pop(name, None)

    return fix


def _mime_body(call: DocCall) -> None:
    call.body = base64.b64encode(OUR_MIME).decode("ascii")


OUR_MIME = (
    b"From: Avery Lindqvist <avery.lindqvist@meridiantraders.onmicrosoft.com>\r\n"
    b"To: Jordan Okafor <jordan.okafor@meridiantraders.onmicrosoft.com>\r\n"
    b"Subject: MIME message of the docs tests\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Sent as MIME by the docs tests.\r\n"
)
"""A complete MIME message of our own, for examples whose documented MIME body is cut short."""
SAMPLE_TIME = "2024-05-06T07:08:09Z"
SAMPLE_BASE64 = "SGVsbG8gV29ybGQh"  # "Hello World!"

PLACEHOLDER_TIMES = (
    'uses the placeholder "datetime-value" for dates (Edm.DateTimeOffset); a real time is sent'
)
EMPTY_BODY_TYPE = 'has "contentType": "" in the body; bodyType is text or html, so "text" is sent'
CREATED_201 = (
    "documents 200; a POST that creates an item answers 201 Created (as user-post-messages and"
    " user-post-mailfolders document)"
)
MIME_CUT_SHORT = (
    "the documented MIME body is cut short mid-header (the docs abbreviate it), which Graph refuses with"
    " ErrorMimeContentInvalidBase64String; a complete MIME message of our own is sent instead"
)


def _message_ids(call: DocCall) -> None:
    from tests.support.docs_contract import sample_id

    for index, item in enumerate(call.response_body["value"], start=1):
        item.setdefault("id", sample_id(100 + index))


DOCS_FAULTS: dict[str, tuple[DocsFault, ...]] = {
    "user_sendmail": (
        DocsFault(
            '"saveToSentItems": "false" is a string; the parameter is Edm.Boolean (Users.Actions.yml)',
            _set("saveToSentItems", False),
        ),
    ),
    "get_hiddenmailfolders": (
        DocsFault(
            "the v1.0 page documents this request on /beta; includeHiddenFolders is a v1.0 parameter"
            " (Mail.yml declares it), so the v1.0 request is used"
        ),
    ),
    "mailfolder_get_messages": (
        DocsFault(
            "the docs shortened the response: its messages lack `id`, which Graph always returns",
            _message_ids,
        ),
    ),
}
"""Example name -> its known faults."""
DOCS_FAULTS.update(
    {
        "create_message_from_mailfolder": (
            DocsFault(
                PLACEHOLDER_TIMES,
                _both(_set("receivedDateTime", SAMPLE_TIME), _set("sentDateTime", SAMPLE_TIME)),
            ),
            DocsFault(EMPTY_BODY_TYPE, _set("body.contentType", "text")),
            DocsFault(CREATED_201, _status(201)),
        ),
        "update_message": (DocsFault(EMPTY_BODY_TYPE, _set("body.contentType", "text")),),
        "message_copy": (
            DocsFault(
                'uses the placeholder "destinationId-value"; a well-known folder name is sent',
                _set("destinationId", "archive"),
            ),
            DocsFault(CREATED_201.replace("an item", "an item (copy)"), _status(201)),
        ),
        "create_mailfolder_from_mailfolder": (DocsFault(CREATED_201, _status(201)),),
        "create_file_attachment_from_eventmessage": (
            DocsFault(
                'uses placeholders ("base64-contentBytes-value", "contentType-value",'
                ' "contentLocation-value");'
                " real values are sent",
                _both(
                    _set("contentBytes", SAMPLE_BASE64),
                    _set("contentType", "text/plain"),
                    _drop("contentLocation"),
                ),
            ),
        ),
        "create_file_attachment_from_message_v1": (
            DocsFault(
                '"contentBytes": "R0lGODdhEAYEAA7" is 15 characters, not valid base64; valid base64 is sent',
                _set("contentBytes", SAMPLE_BASE64),
            ),
        ),
        "update_event": (
            DocsFault(
                'responseStatus holds placeholders ("response": "", "time": "datetime-value"); it is'
                " read-only (set by answering the invitation), so it is not sent",
                _drop("responseStatus"),
            ),
        ),
        "user_findmeetingtimes": (
            DocsFault(
                'isOrganizerOptional, returnSuggestionReasons ("false", "true") and minimumAttendeePercentage'
                ' ("100") are strings; the parameters are Edm.Boolean and Edm.Double (Users.Actions.yml)',
                _both(
                    _set("isOrganizerOptional", False),
                    _set("returnSuggestionReasons", True),
                    _set("minimumAttendeePercentage", 100),
                ),
            ),
        ),
        "message_send_mime_beta": (DocsFault(MIME_CUT_SHORT, _mime_body),),
        "message_create_draft_mime_v1": (DocsFault(MIME_CUT_SHORT, _mime_body),),
    }
)


def docs_faults(name: str) -> tuple[DocsFault, ...]:
    """The known faults of the example called ``name`` (empty when none is known)."""
    return DOCS_FAULTS.get(name, ())
