"""Personal contacts of a mailbox: list, get, create, update, delete."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from actions._graph import list_output, odata_params
from actions._inputs import ActionInput, GraphId, MailboxInput, PagingInput
from actions._mail import Address
from actions.models import DeletedOutput, EmailAddress, GraphObject, page_output
from connector.context import ActionContext, quote_segment
from connector.errors import FieldError, InputValidationError
from connector.schemas import returns


# -- what actions return -----------------------------------------------------------------------------
class PhysicalAddress(GraphObject):
    street: str | None = None
    city: str | None = None
    state: str | None = None
    country_or_region: str | None = None
    postal_code: str | None = None


class Contact(GraphObject):
    """A personal contact (microsoft.graph.contact)."""

    id: str = Field(description="Graph id of the contact.")
    created_date_time: str | None = None
    last_modified_date_time: str | None = None
    parent_folder_id: str | None = None
    categories: list[str] | None = None
    display_name: str | None = None
    given_name: str | None = None
    middle_name: str | None = None
    surname: str | None = None
    nick_name: str | None = None
    title: str | None = None
    file_as: str | None = None
    birthday: str | None = None
    email_addresses: list[EmailAddress] | None = None
    business_phones: list[str] | None = None
    home_phones: list[str] | None = None
    mobile_phone: str | None = None
    company_name: str | None = None
    job_title: str | None = None
    department: str | None = None
    office_location: str | None = None
    business_address: PhysicalAddress | None = None
    home_address: PhysicalAddress | None = None
    personal_notes: str | None = None


# -- inputs ---------------------------------------------------------------------------------------------
class ContactEmailInput(ActionInput):
    address: Address = Field(title="Email address")
    name: str | None = Field(default=None, title="Display name")


class AddressInput(ActionInput):
    street: str | None = Field(default=None, title="Street")
    city: str | None = Field(default=None, title="City")
    state: str | None = Field(default=None, title="State or province")
    postal_code: str | None = Field(default=None, title="Postal code")
    country_or_region: str | None = Field(default=None, title="Country or region")


_GRAPH_NAMES = {
    "email_addresses": "emailAddresses",
    "business_phones": "businessPhones",
    "home_phones": "homePhones",
    "given_name": "givenName",
    "middle_name": "middleName",
    "display_name": "displayName",
    "mobile_phone": "mobilePhone",
    "company_name": "companyName",
    "job_title": "jobTitle",
    "office_location": "officeLocation",
    "business_address": "businessAddress",
    "home_address": "homeAddress",
    "personal_notes": "personalNotes",
}


class ContactFields(ActionInput):
    """The editable properties of a contact; only the fields given are sent."""

    given_name: str | None = Field(default=None, title="First name", examples=["Ines"])
    middle_name: str | None = Field(default=None, title="Middle name")
    surname: str | None = Field(default=None, title="Last name", examples=["Marlowe"])
    display_name: str | None = Field(
        default=None,
        title="Display name",
        description="Empty: Outlook builds it from the first and last names.",
    )
    email_addresses: list[Address | ContactEmailInput] | None = Field(
        default=None,
        max_length=3,
        title="Email addresses",
        description="Up to 3 addresses (Outlook's limit), as plain addresses or {address, name}.",
        examples=[["ines@brightwater.example"]],
    )
    business_phones: list[str] | None = Field(
        default=None, title="Business phones", examples=[["+1 555 0100"]]
    )
    home_phones: list[str] | None = Field(default=None, title="Home phones")
    mobile_phone: str | None = Field(default=None, title="Mobile phone")
    company_name: str | None = Field(default=None, title="Company")
    job_title: str | None = Field(default=None, title="Job title")
    department: str | None = Field(default=None, title="Department")
    office_location: str | None = Field(default=None, title="Office")
    business_address: AddressInput | None = Field(default=None, title="Business address")
    home_address: AddressInput | None = Field(default=None, title="Home address")
    birthday: date | None = Field(default=None, title="Birthday", examples=["1990-04-17"])
    personal_notes: str | None = Field(default=None, title="Notes")
    categories: list[str] | None = Field(
        default=None, title="Categories", description="Category names from the mailbox's master list."
    )

    def contact_json(self) -> dict[str, Any]:
        """The fields given, as Graph's contact JSON."""
        body: dict[str, Any] = {}
        for name in ContactFields.model_fields:
            if name not in self.model_fields_set:
                continue
            value = getattr(self, name)
            if name == "email_addresses" and value is not None:
                value = [
                    {"address": v} if isinstance(v, str) else v.model_dump(exclude_none=True) for v in value
                ]
            elif isinstance(value, AddressInput):
                value = {_camel(k): v for k, v in value.model_dump(exclude_none=True).items()}
            elif isinstance(value, date):
                value = value.isoformat()
            body[_GRAPH_NAMES.get(name, name)] = value
        return body


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _contact_path(ctx: ActionContext, user_id: str | None, contact_id: str) -> str:
    return f"{ctx.mailbox(user_id)}/contacts/{quote_segment(contact_id)}"


# -- actions ---------------------------------------------------------------------------------------------
class ListContactsInput(MailboxInput, PagingInput):
    filter: str | None = Field(
        default=None,
        title="Filter",
        description="An OData $filter, e.g. `startswith(displayName,'A')` or"
        " `emailAddresses/any(a:a/address eq 'ines@brightwater.example')`.",
        examples=["companyName eq 'Brightwater Logistics'"],
    )
    select: list[str] | None = Field(
        default=None,
        title="Properties",
        description="Only these contact properties (id is always included).",
        examples=[["displayName", "emailAddresses"]],
    )
    order_by: str | None = Field(
        default=None, title="Order by", description="An OData $orderby.", examples=["displayName"]
    )


ContactPage = page_output("contacts", Contact, "The mailbox's contacts.")


@returns(ContactPage)
def list_contacts(ctx: ActionContext, params: ListContactsInput) -> dict[str, Any]:
    query = odata_params(filter=params.filter, select=params.select, orderby=params.order_by)
    return list_output(ctx, f"{ctx.mailbox(params.user_id)}/contacts", params, "contacts", params=query)


class ContactIdInput(MailboxInput):
    contact_id: GraphId = Field(min_length=1, title="Contact id", description="Graph id of the contact.")


class GetContactInput(ContactIdInput):
    select: list[str] | None = Field(default=None, title="Properties", description="Only these properties.")


@returns(Contact)
def get_contact(ctx: ActionContext, params: GetContactInput) -> dict[str, Any]:
    return ctx.graph.get_json(
        _contact_path(ctx, params.user_id, params.contact_id),
        params=odata_params(select=params.select) or None,
    )


class CreateContactInput(ContactFields, MailboxInput):
    pass


@returns(Contact)
def create_contact(ctx: ActionContext, params: CreateContactInput) -> dict[str, Any]:
    body = params.contact_json()
    if not any(body.get(k) for k in ("givenName", "surname", "displayName", "emailAddresses", "companyName")):
        raise InputValidationError(
            [FieldError("given_name", "a contact needs a name, an email address or a company")]
        )
    return ctx.graph.post_json(f"{ctx.mailbox(params.user_id)}/contacts", body)


class UpdateContactInput(ContactFields, ContactIdInput):
    """Changes only the fields given; a field set to null is cleared."""


@returns(Contact)
def update_contact(ctx: ActionContext, params: UpdateContactInput) -> dict[str, Any]:
    body = params.contact_json()
    if not body:
        raise InputValidationError([FieldError("contact_id", "name at least one field to change")])
    return ctx.graph.patch_json(_contact_path(ctx, params.user_id, params.contact_id), body)


class DeleteContactInput(ContactIdInput):
    """Moves the contact to Deleted Items."""


@returns(DeletedOutput)
def delete_contact(ctx: ActionContext, params: DeleteContactInput) -> dict[str, Any]:
    ctx.graph.delete(_contact_path(ctx, params.user_id, params.contact_id))
    return {"deleted": True, "id": params.contact_id}
