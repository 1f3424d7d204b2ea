"""Docs-contract rows for users, mail folders and messages.

One module per resource group in this package; ``tests.conformance.cases`` merges their
``ACTION_ENDPOINTS``, ``CASES`` and ``UNUSED``.
"""

from __future__ import annotations

from typing import Any

from tests.support.docs_contract import (
    MAILBOX,
    DocCall,
    DocCase,
    Endpoint,
    message_input,
    prefer_input,
    select_input,
)

# -- which endpoints each manifest action calls (the one place coverage is computed from) ----------
ACTION_ENDPOINTS: dict[str, list[Endpoint]] = {
    "get_current_user": [("GET", MAILBOX)],
    "list_mail_folders": [("GET", MAILBOX + r"/mailFolders")],
    "list_messages": [("GET", MAILBOX + r"(?:/mailFolders/[^/]+)?/messages")],
    "get_message": [("GET", MAILBOX + r"/messages/[^/]+")],
    "send_message": [("POST", MAILBOX + r"/sendMail")],
    "delete_message": [("DELETE", MAILBOX + r"/messages/[^/]+")],
    "send_mime_message": [("POST+MIME", MAILBOX + r"/sendMail")],
}


# -- expectations on the output ------------------------------------------------------------------
def same_items(items_name: str) -> Any:
    def expect(call: DocCall, output: dict[str, Any]) -> None:
        documented = call.response_body["value"]
        assert output["count"] == len(documented)
        assert [i.get("id") for i in output[items_name]] == [i.get("id") for i in documented]
        assert output["next_link"] == call.response_body.get("@odata.nextLink")

    return expect


def same_object(call: DocCall, output: dict[str, Any]) -> None:
    for key, value in call.response_body.items():
        assert output.get(key) == value, key


def deleted(call: DocCall, output: dict[str, Any]) -> None:
    assert output == {"deleted": True, "id": call.after("messages")}


def sent(call: DocCall, output: dict[str, Any]) -> None:
    message = call.body["message"]
    assert output["sent"] is True
    assert output["subject"] == message.get("subject", "")
    assert output["to"] == [r["emailAddress"]["address"] for r in message.get("toRecipients", [])]
    assert output["attachments"] == len(message.get("attachments", []))
    assert output["saved_to_sent_items"] is call.body.get("saveToSentItems", True)


# -- input derivations -------------------------------------------------------------------------------
def message_id(call: DocCall) -> dict[str, Any]:
    return {**call.mailbox_input(), "message_id": call.after("messages")}


def send_input(call: DocCall) -> dict[str, Any]:
    params = {**call.mailbox_input(), **message_input(call.body["message"])}
    if "saveToSentItems" in call.body:
        params["save_to_sent_items"] = call.body["saveToSentItems"]
    return params


CASES: dict[str, DocCase] = {
    # users
    "get_user": DocCase("get_current_user", lambda c: c.mailbox_input(), expect=same_object),
    "get_user_1": DocCase("get_current_user", lambda c: c.mailbox_input(), expect=same_object),
    # mail folders
    "get_mailfolders": DocCase(
        "list_mail_folders", lambda c: c.mailbox_input(), expect=same_items("folders")
    ),
    "get_hiddenmailfolders": DocCase(
        "list_mail_folders",
        lambda c: {**c.mailbox_input(), "include_hidden": c.query["includeHiddenFolders"] == "true"},
        expect=same_items("folders"),
    ),
    # messages
    "get_messages": DocCase(
        "list_messages", lambda c: {**c.mailbox_input(), **select_input(c)}, expect=same_items("messages")
    ),
    "mailfolder_get_messages": DocCase(
        "list_messages",
        lambda c: {**c.mailbox_input(), "folder_id": c.after("mailFolders")},
        expect=same_items("messages"),
    ),
    "get_message": DocCase("get_message", message_id, expect=same_object),
    "get_message_headers": DocCase(
        "get_message", lambda c: {**message_id(c), **select_input(c)}, expect=same_object
    ),
    "get_message_in_text": DocCase(
        "get_message", lambda c: {**message_id(c), **select_input(c), **prefer_input(c)}, expect=same_object
    ),
    "get_eventmessage": DocCase("get_message", message_id, expect=same_object),
    "user_sendmail": DocCase("send_message", send_input, expect=sent),
    "user_sendmail_with_attachment": DocCase("send_message", send_input, expect=sent),
    "delete_message": DocCase("delete_message", message_id, expect=deleted),
    "delete_eventmessage": DocCase("delete_message", message_id, expect=deleted),
}

UNUSED: dict[str, str] = {
    # examples of covered endpoints the actions cannot express (yet)
    "get_user_2": "get_current_user has no `select` input",
    "get_event_based_on_eventmessage": "get_message has no `expand` input (eventMessage/event)",
    "get_opentypeextension_3": "get_message has no `expand` input (open extensions)",
    "get_opentypeextension_5": "list_messages has no `expand` input (open extensions)",
    "get_singlevaluelegacyextendedproperty_1": "get_message has no `expand` input (extended properties)",
    "user_sendmail_with_headers": "send_message has no input for custom internetMessageHeaders",
    "message_send_mime_beta": "the docs cut its base64 MIME short (573 characters, not valid base64, the"
    " message ends mid-header); send_mime_message refuses such input before sending (its sandbox and HTTP"
    " tests send whole MIME messages)",
}
