"""Data source of the change-notification subscriptions the connection's app holds."""

from __future__ import annotations

from typing import Any

from actions._options import DataSourceInput, OptionsOutput, link_page_output
from connector.context import ActionContext
from connector.schemas import returns


class SelectSubscriptionInput(DataSourceInput):
    """The app's subscriptions (a signed-in user sees those made for them); `search` filters the page
    fetched by resource, change types and id."""


@returns(OptionsOutput)
def select_subscription(ctx: ActionContext, params: SelectSubscriptionInput) -> dict[str, Any]:
    # GET /subscriptions takes no $top or $select: Graph pages it by itself (nextLink in the cursor).
    return link_page_output(
        ctx, params, "/subscriptions", {}, _subscription_option, top=False, filter_locally=True
    )


def _subscription_option(subscription: dict[str, Any]) -> dict[str, Any]:
    expiry = str(subscription.get("expirationDateTime") or "")[:16].replace("T", " ")
    details = [str(subscription.get("changeType") or ""), f"expires {expiry} UTC" if expiry else ""]
    return {
        "key": subscription["id"],
        "label": subscription.get("resource") or subscription["id"],
        "description": " · ".join(part for part in details if part) or None,
    }
