"""Docs contract: each action sends exactly the request Microsoft documents and handles the documented answer.

Each row of ``CASES`` names a documented example (``../shared/graph-examples``), the action that
covers it and how its input derives from the documented request. The test replays the documented
response from a cassette built at test time; the cassette refuses any request but the documented
one (method, path, query, JSON body, documented headers). The runtime checks the output against
the action's output schema (strict).

Adding an action: add its endpoints to ``ACTION_ENDPOINTS``, a row to ``CASES`` per documented
example it can express, and a reason in ``UNUSED`` for each one it cannot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.manifest import load_manifest
from connector.runtime import Runtime
from tests.support import graph_docs
from tests.support.connections import StaticConnection
from tests.support.docs_contract import (
    COVERAGE_REPORTS,
    MAILBOX,
    Coverage,
    DocCall,
    DocCase,
    Endpoint,
    coverage,
    doc_call,
    documented_cassette,
    endpoint_action,
    message_input,
    prefer_input,
    select_input,
)
from tests.support.graph_conformance import GraphRequest

pytestmark = graph_docs.requires_docs()

# -- which endpoints each manifest action calls (the one place coverage is computed from) ----------
ACTION_ENDPOINTS: dict[str, list[Endpoint]] = {
    "get_current_user": [("GET", MAILBOX)],
    "list_mail_folders": [("GET", MAILBOX + r"/mailFolders")],
    "list_messages": [("GET", MAILBOX + r"(?:/mailFolders/[^/]+)?/messages")],
    "get_message": [("GET", MAILBOX + r"/messages/[^/]+")],
    "send_message": [("POST", MAILBOX + r"/sendMail")],
    "delete_message": [("DELETE", MAILBOX + r"/messages/[^/]+")],
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
    "message_send_mime_beta": "send_message sends JSON; sending MIME (base64 text/plain) is not an action",
    # other endpoints on the same reference pages
    "get_message_in_mime": "$value MIME download is not an action yet",
}


# -- the tests ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    with Runtime(strict_output=True) as rt:
        yield rt


@pytest.mark.parametrize("name", sorted(CASES))
def test_documented_example(
    name: str, runtime: Runtime, tmp_path: Path, graph_requests: list[GraphRequest]
) -> None:
    case = CASES[name]
    call = doc_call(graph_docs.example(name), case.faults)
    params = case.derive(call)
    with documented_cassette(call, tmp_path):
        output = runtime.run_action(case.action, params, StaticConnection())
    assert len(graph_requests) == 1, [str(r) for r in graph_requests]
    if case.expect is not None:
        case.expect(call, output)


@pytest.mark.parametrize(
    ("name", "change", "refused_by"),
    [
        ("get_messages", {"select": ["subject"]}, "match_query"),
        ("get_message_in_text", {"body_content_type": None}, "match_headers"),
        ("user_sendmail", {"subject": "Meet for dinner?"}, "match_body"),
        ("delete_message", {"user_id": "someone@contoso.com"}, "match_path"),
    ],
)
def test_the_cassette_refuses_any_other_request(
    name: str, change: dict[str, Any], refused_by: str, runtime: Runtime, tmp_path: Path
) -> None:
    """The harness bites: an input that changes the request makes the documented cassette refuse it."""
    from vcr.errors import CannotOverwriteExistingCassetteException

    case = CASES[name]
    call = doc_call(graph_docs.example(name), case.faults)
    params = {k: v for k, v in {**case.derive(call), **change}.items() if v is not None}
    with (
        pytest.raises(CannotOverwriteExistingCassetteException, match=f"{refused_by} differs"),
        documented_cassette(call, tmp_path),
    ):
        runtime.run_action(case.action, params, StaticConnection())


def test_table_names_documented_examples_of_its_actions() -> None:
    """Every row names a documented example of an endpoint of its action, and a manifest action."""
    actions = set(load_manifest().actions)
    assert set(ACTION_ENDPOINTS) == actions, "ACTION_ENDPOINTS must list every manifest action"
    for name, case in CASES.items():
        example = graph_docs.example(name)
        assert endpoint_action(example, ACTION_ENDPOINTS) == case.action, (
            f"{example} is not an endpoint of {case.action} in ACTION_ENDPOINTS"
        )
    known = {e.name for e in graph_docs.load_examples()}
    assert not set(UNUSED) - known, "UNUSED names examples that do not exist"


def test_every_example_of_a_covered_endpoint_is_used_or_explained() -> None:
    report = docs_coverage()
    assert report is not None
    missing = [str(example) for example, reason in report.unused if reason == "NO REASON GIVEN"]
    assert not missing, (
        "documented examples of covered endpoints, neither in CASES nor in UNUSED:\n" + "\n".join(missing)
    )


def docs_coverage() -> Coverage | None:
    if not graph_docs.examples_available():
        return None
    return coverage(graph_docs.load_examples(), ACTION_ENDPOINTS, CASES, UNUSED)


COVERAGE_REPORTS.append(docs_coverage)
