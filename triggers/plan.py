"""What a trigger instance watches: its plan, computed from the trigger's validated input.

A manifest trigger's ``handler`` is ``def plan_x(ctx, params) -> TriggerPlan`` (``triggers.definitions``):
pure, no request. The lifecycle code (``triggers.service``) subscribes to each watch's ``resource``
and catches up through its delta query; polling (``triggers.polling``) reads only the delta query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

CHANGE_TYPES = ("created", "updated", "deleted")
ADOPTING_TRIGGERS = frozenset({"webhook"})
"""Triggers whose instances also deliver the notifications of subscriptions made for them with the
subscription actions (``trigger_instance_id``); the others drop notifications of subscriptions they
did not make."""
ITEM_KINDS = ("message", "event", "contact")


@dataclass(frozen=True)
class Watch:
    """One Graph resource a trigger instance watches: a subscription and a delta query over the same items."""

    resource: str
    """Subscription resource, no leading slash: ``me/mailFolders('inbox')/messages``, ``users/{id}/events``"""
    change_types: tuple[str, ...]
    """A subset of ``created``, ``updated``, ``deleted``, in that order."""
    item_kind: str
    """``message`` | ``event`` | ``contact``."""
    delta_path: str
    """Delta query of the same items: ``/me/mailFolders/inbox/messages/delta``, ``/me/calendarView/delta``."""
    delta_params: Mapping[str, str] = field(default_factory=dict)
    """Query of the delta query's first request (``startDateTime``/``endDateTime`` of a calendar view)."""
    include_resource_data: bool = False

    def __post_init__(self) -> None:
        if self.resource.startswith("/") or not self.resource:
            raise ValueError("Watch.resource must be a path without a leading slash")
        if not self.change_types or any(c not in CHANGE_TYPES for c in self.change_types):
            raise ValueError(f"Watch.change_types must be a non-empty subset of {CHANGE_TYPES}")
        if self.item_kind not in ITEM_KINDS:
            raise ValueError(f"Watch.item_kind must be one of {ITEM_KINDS}")
        if not self.delta_path.startswith("/"):
            raise ValueError("Watch.delta_path must start with '/'")
        object.__setattr__(self, "delta_params", MappingProxyType(dict(self.delta_params)))

    def item_path(self, resource_id: str) -> str:
        """The Graph path of one watched item: ``/me/messages/{id}``, ``/users/{id}/events/{id}``
        (the mailbox's own collection: folder-scoped item paths are not routed everywhere)."""
        from connector.context import quote_segment

        mailbox = self.delta_path
        for marker in ("/mailFolders/", "/calendarView/", "/calendars/", "/contactFolders/", "/contacts/"):
            mailbox = mailbox.split(marker, 1)[0]
        collection = {"message": "messages", "event": "events", "contact": "contacts"}[self.item_kind]
        return f"{mailbox}/{collection}/{quote_segment(resource_id)}"

    def __hash__(self) -> int:
        return hash(
            (self.resource, self.change_types, self.delta_path, tuple(sorted(self.delta_params.items())))
        )


@dataclass(frozen=True)
class TriggerPlan:
    """Every watch of a trigger instance, and how its changes are shaped before delivery."""

    watches: tuple[Watch, ...]
    only_with_attachments: bool = False
    """new_attachment_webhook: only created messages with attachments..."""
    expand_attachments: bool = False
    """...delivered with their attachment list (metadata, no content bytes)."""
