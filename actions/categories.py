"""The mailbox's master list of categories (names and colours that messages, events and contacts use)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from actions._inputs import GraphId, MailboxInput
from actions.models import DeletedOutput, GraphObject
from connector.context import ActionContext, quote_segment
from connector.errors import FieldError, InputValidationError
from connector.schemas import returns

COLOR_NAMES: dict[str, str] = {
    "none": "No colour",
    "preset0": "Red",
    "preset1": "Orange",
    "preset2": "Brown",
    "preset3": "Yellow",
    "preset4": "Green",
    "preset5": "Teal",
    "preset6": "Olive",
    "preset7": "Blue",
    "preset8": "Purple",
    "preset9": "Cranberry",
    "preset10": "Steel",
    "preset11": "Dark steel",
    "preset12": "Gray",
    "preset13": "Dark gray",
    "preset14": "Black",
    "preset15": "Dark red",
    "preset16": "Dark orange",
    "preset17": "Dark brown",
    "preset18": "Dark yellow",
    "preset19": "Dark green",
    "preset20": "Dark teal",
    "preset21": "Dark olive",
    "preset22": "Dark blue",
    "preset23": "Dark purple",
    "preset24": "Dark cranberry",
}
"""Outlook's colour presets and the colour each shows as."""

CategoryColor = Literal[
    "none", "preset0", "preset1", "preset2", "preset3", "preset4", "preset5", "preset6", "preset7",
    "preset8", "preset9", "preset10", "preset11", "preset12", "preset13", "preset14", "preset15",
    "preset16", "preset17", "preset18", "preset19", "preset20", "preset21", "preset22", "preset23",
    "preset24",
]  # fmt: skip
_COLOR_HELP = (
    "Outlook colour preset: " + ", ".join(f"{key} = {name}" for key, name in COLOR_NAMES.items()) + "."
)
_COLOR_EXTRA: dict[str, Any] = {"x-enum-descriptions": list(COLOR_NAMES.values())}


class Category(GraphObject):
    """A category of the master list (microsoft.graph.outlookCategory)."""

    id: str = Field(description="Graph id (a GUID) of the category.")
    display_name: str | None = Field(default=None, description="The name items are tagged with.")
    color: str | None = Field(default=None, description="Colour preset (preset0..preset24, or none).")


class ListCategoriesInput(MailboxInput):
    """Graph returns the whole master list at once (it is not paged)."""


class CategoriesOutput(BaseModel):
    categories: list[Category] = Field(description="The mailbox's categories.")
    count: int = Field(description="How many categories the mailbox has.")


@returns(CategoriesOutput)
def list_categories(ctx: ActionContext, params: ListCategoriesInput) -> dict[str, Any]:
    page = ctx.graph.get_json(f"{ctx.mailbox(params.user_id)}/outlook/masterCategories")
    categories = page.get("value", [])
    return {"categories": categories, "count": len(categories)}


def _category_path(ctx: ActionContext, user_id: str | None, category: str) -> tuple[str, str]:
    """The path and id of a category named by its id (a GUID) or by its name, which is looked up."""
    base = f"{ctx.mailbox(user_id)}/outlook/masterCategories"
    category_id = _category_id(ctx, base, category)
    return f"{base}/{quote_segment(category_id)}", category_id


def _category_id(ctx: ActionContext, base: str, category: str) -> str:
    try:
        uuid.UUID(category)
    except ValueError:
        pass
    else:
        return category
    wanted = category.casefold()
    for item in ctx.graph.get_json(base).get("value", []):
        if str(item.get("displayName", "")).casefold() == wanted:
            return str(item["id"])
    raise InputValidationError([FieldError("category_id", f"no category named {category!r} in this mailbox")])


class CreateCategoryInput(MailboxInput):
    display_name: str = Field(
        min_length=1,
        max_length=255,
        title="Name",
        description="The category's name (unique in the mailbox; it cannot be renamed later).",
        examples=["Invoices"],
    )
    color: CategoryColor = Field(
        default="none", title="Colour", description=_COLOR_HELP, json_schema_extra=_COLOR_EXTRA
    )


@returns(Category)
def create_category(ctx: ActionContext, params: CreateCategoryInput) -> dict[str, Any]:
    path = f"{ctx.mailbox(params.user_id)}/outlook/masterCategories"
    return ctx.graph.post_json(path, {"displayName": params.display_name, "color": params.color})


class CategoryIdInput(MailboxInput):
    category_id: GraphId = Field(
        min_length=1,
        title="Category",
        description="The category's Graph id (a GUID) or its name (case-insensitive), as the dropdown gives.",
        examples=["Invoices"],
    )


class UpdateCategoryInput(CategoryIdInput):
    """Graph lets only the colour of a category change, not its name."""

    color: CategoryColor = Field(title="Colour", description=_COLOR_HELP, json_schema_extra=_COLOR_EXTRA)


@returns(Category)
def update_category(ctx: ActionContext, params: UpdateCategoryInput) -> dict[str, Any]:
    path, _ = _category_path(ctx, params.user_id, params.category_id)
    return ctx.graph.patch_json(path, {"color": params.color})


class DeleteCategoryInput(CategoryIdInput):
    """Removes the category from the master list; items tagged with it keep the name (uncoloured)."""


@returns(DeletedOutput)
def delete_category(ctx: ActionContext, params: DeleteCategoryInput) -> dict[str, Any]:
    path, category_id = _category_path(ctx, params.user_id, params.category_id)
    ctx.graph.delete(path)
    return {"deleted": True, "id": category_id}
