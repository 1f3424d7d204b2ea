"""Data sources of a mailbox's lists: categories, contacts, supported languages and time zones.

Categories, languages and time zones come whole from Graph (not paged): each call fetches the list
once through the matching action's Graph logic, then searches and pages it here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from actions._options import (
    MailboxDataSourceInput,
    OptionsOutput,
    link_page_output,
    local_page_output,
    odata_string,
)
from actions.categories import COLOR_NAMES, ListCategoriesInput, list_categories
from actions.settings import (
    ListSupportedLanguagesInput,
    ListSupportedTimezonesInput,
    list_supported_languages,
    list_supported_timezones,
)
from connector.context import ActionContext
from connector.schemas import returns


# -- categories -----------------------------------------------------------------------------------------
class SelectCategoryInput(MailboxDataSourceInput):
    """The mailbox's master list of categories; the key is the category's name, which messages,
    events and contacts are tagged with."""


@returns(OptionsOutput)
def select_category(ctx: ActionContext, params: SelectCategoryInput) -> dict[str, Any]:
    listed = list_categories(ctx, ListCategoriesInput(user_id=params.user_id))
    options = [
        {
            "key": category["displayName"],
            "label": category["displayName"],
            "description": COLOR_NAMES.get(str(category.get("color")), None),
        }
        for category in listed["categories"]
        if category.get("displayName")
    ]
    return local_page_output(params, options)


# -- contacts -------------------------------------------------------------------------------------------
class SelectContactInput(MailboxDataSourceInput):
    """The mailbox's contacts by display name; `search` matches the start of the display, first or
    last name (Graph's startswith filter)."""


@returns(OptionsOutput)
def select_contact(ctx: ActionContext, params: SelectContactInput) -> dict[str, Any]:
    query = {"$select": "id,displayName,emailAddresses,companyName", "$orderby": "displayName"}
    if params.search:
        term = odata_string(params.search)
        # displayName leads the filter: Exchange wants the $orderby property first (InefficientFilter)
        query["$filter"] = " or ".join(
            f"startswith({name},{term})" for name in ("displayName", "givenName", "surname")
        )
    return link_page_output(ctx, params, f"{ctx.mailbox(params.user_id)}/contacts", query, _contact_option)


def _contact_option(contact: dict[str, Any]) -> dict[str, Any]:
    emails = [e.get("address") for e in contact.get("emailAddresses") or [] if e.get("address")]
    label = contact.get("displayName") or (emails[0] if emails else None) or "(no name)"
    details = [part for part in (emails[0] if emails else None, contact.get("companyName")) if part]
    return {"key": contact["id"], "label": label, "description": " · ".join(details) or None}


# -- languages and time zones -----------------------------------------------------------------------------
class SelectLanguageInput(MailboxDataSourceInput):
    """The languages the mailbox can use; the key is the locale code (en-US)."""


@returns(OptionsOutput)
def select_language(ctx: ActionContext, params: SelectLanguageInput) -> dict[str, Any]:
    listed = list_supported_languages(ctx, ListSupportedLanguagesInput(user_id=params.user_id))
    options = [
        {"key": locale, "label": language.get("displayName") or locale, "description": locale}
        for language in listed["languages"]
        if (locale := language.get("locale"))
    ]
    return local_page_output(params, options)


class SelectTimezoneInput(MailboxDataSourceInput):
    """The time zones the mailbox can use; the key is the zone's name as Graph takes it."""

    format: Literal["Windows", "Iana"] = Field(
        default="Windows",
        title="Format",
        description="Windows names (Pacific Standard Time) or IANA names (America/Los_Angeles); Graph's"
        " time zone fields take both.",
        examples=["Iana"],
    )


@returns(OptionsOutput)
def select_timezone(ctx: ActionContext, params: SelectTimezoneInput) -> dict[str, Any]:
    listed = list_supported_timezones(
        ctx, ListSupportedTimezonesInput(user_id=params.user_id, standard=params.format)
    )
    options = []
    for zone in listed["time_zones"]:
        alias = zone.get("alias")
        if not alias:
            continue
        label = zone.get("displayName") or alias
        options.append({"key": alias, "label": label, "description": alias if label != alias else None})
    return local_page_output(params, options)
