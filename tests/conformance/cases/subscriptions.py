"""Docs-contract rows for change-notification subscriptions.

Microsoft's examples date from 2016: their expiries are in the past, which Graph (and the actions'
input check) refuse, so the fault below moves them a day ahead of the test's clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from actions._subscriptions import graph_time
from tests.support.docs_contract import DocCall, DocCase, DocsFault, Endpoint

_ONE = r"/subscriptions/[^/]+"

ACTION_ENDPOINTS: dict[str, list[Endpoint]] = {  # an example belongs to the first action naming its endpoint
    "create_subscription": [("POST", r"/subscriptions")],
    "list_subscriptions": [("GET", r"/subscriptions")],
    "get_subscription": [("GET", _ONE)],
    "update_subscription": [("PATCH", _ONE)],
    "update_event_subscription_expiration": [("PATCH", _ONE)],
    "reauthorize_subscription": [("POST", _ONE + r"/reauthorize")],
    "delete_subscription": [("DELETE", _ONE)],
    "delete_all_instance_subscriptions": [("DELETE", _ONE)],
    "create_event_subscription": [("POST", r"/subscriptions")],  # after listing them (reuse)
    "create_mail_folder_subscription": [("POST", r"/subscriptions")],
}


def _future_expiry(call: DocCall) -> None:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    call.body["expirationDateTime"] = graph_time(moment)


FUTURE_EXPIRY = DocsFault(
    "the documented expirationDateTime (2016) is in the past, which Graph refuses; moved a day ahead",
    _future_expiry,
)


# -- expectations ----------------------------------------------------------------------------------------
def shown(subscription: dict[str, Any]) -> dict[str, Any]:
    """The documented subscription as the actions show it: without its clientState."""
    return {k: v for k, v in subscription.items() if k != "clientState" and k != "@odata.context"}


def same_subscription(call: DocCall, output: dict[str, Any]) -> None:
    documented = call.response_body
    assert {k: output[k] for k in shown(documented)} == shown(documented)
    assert "clientState" not in output and output["hasClientState"] == bool(documented.get("clientState"))
    assert output["changeTypes"] == sorted(documented["changeType"].split(","))


def same_list(call: DocCall, output: dict[str, Any]) -> None:
    documented = [shown(s) for s in call.response_body["value"]]
    assert output["count"] == len(documented)
    assert [
        {k: s[k] for k in d} for d, s in zip(documented, output["subscriptions"], strict=True)
    ] == documented
    assert all("clientState" not in s for s in output["subscriptions"])


def deleted(call: DocCall, output: dict[str, Any]) -> None:
    assert output == {"deleted": True, "id": call.after("subscriptions")}


def reauthorized(call: DocCall, output: dict[str, Any]) -> None:
    assert output == {"reauthorized": True, "id": call.after("subscriptions")}


# -- input derivations -----------------------------------------------------------------------------------
def create_input(call: DocCall) -> dict[str, Any]:
    body = call.body
    params: dict[str, Any] = {
        "resource": body["resource"],
        "change_types": body["changeType"].split(","),
        "notification_url": body["notificationUrl"],
        "expiration_date_time": body["expirationDateTime"],
    }
    optional = {
        "clientState": "client_state",
        "lifecycleNotificationUrl": "lifecycle_notification_url",
        "latestSupportedTlsVersion": "latest_supported_tls_version",
    }
    params.update({name: body[key] for key, name in optional.items() if key in body})
    return params


def subscription_id(call: DocCall) -> dict[str, Any]:
    return {"subscription_id": call.after("subscriptions")}


CASES: dict[str, DocCase] = {
    "create_subscription_from_subscriptions": DocCase(
        "create_subscription", create_input, (FUTURE_EXPIRY,), same_subscription
    ),
    "get_subscriptions": DocCase("list_subscriptions", lambda call: {}, expect=same_list),
    "get_subscription": DocCase("get_subscription", subscription_id, expect=same_subscription),
    "subscriptionthis.reauthorize": DocCase("reauthorize_subscription", subscription_id, expect=reauthorized),
    "delete_subscription": DocCase("delete_subscription", subscription_id, expect=deleted),
}

UNUSED: dict[str, str] = {
    "update_subscription": "run by tests/conformance/test_subscriptions_docs_contract.py: update_subscription"
    " reads the subscription first (its resource sets the longest expiry allowed), so the documented PATCH"
    " is replayed after the documented GET",
}
