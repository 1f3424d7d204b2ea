"""Scheduled send: Exchange holds a message in the Outbox and sends it at a given time.

The time goes on the message as the MAPI property ``PidTagDeferredSendTime`` (extended property id
``SystemTime 0x3FEF``), set in the same request that creates or sends it (``sendMail``'s message,
a reply's or forward's ``message``, a draft's PATCH before ``/send``), so nothing keeps running
until then. A time that has already passed sends at once (no property). Scheduled messages wait
in the Outbox with that property until sent; deleting one there cancels it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, Field

from actions._inputs import ActionInput

DEFERRED_SEND_TIME = "SystemTime 0x3FEF"
"""PidTagDeferredSendTime: when Exchange sends a message held in the Outbox."""
SEND_AT_DESCRIPTION = (
    "Have Exchange send the message at this time (ISO 8601 with a time zone offset, e.g."
    " 2026-12-24T08:00:00+01:00): it waits in the Outbox until then, so the workflow need not keep"
    " running. A time already past sends now. Empty: send now."
)


class SendAtInput(ActionInput):
    send_at: AwareDatetime | None = Field(
        default=None,
        title="Send at",
        description=SEND_AT_DESCRIPTION,
        examples=["2026-12-24T08:00:00+01:00"],
    )


def graph_time(moment: datetime) -> str:
    """``2026-12-24T07:00:00Z``: UTC, whole seconds (what Exchange keeps of a SystemTime)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deferred_until(send_at: datetime | None, now: datetime | None = None) -> str | None:
    """The UTC time to hold the message until, or None to send now (no time, or a time past)."""
    if send_at is None:
        return None
    if send_at <= (now or datetime.now(UTC)):
        return None
    return graph_time(send_at)


def deferred_properties(until: str | None) -> dict[str, Any]:
    """The message JSON that holds it until ``until`` (``{}`` to send now), to merge into a message."""
    if until is None:
        return {}
    return {"singleValueExtendedProperties": [{"id": DEFERRED_SEND_TIME, "value": until}]}


def deferred_time(message: dict[str, Any]) -> str | None:
    """The deferred-send time on a message read with the property expanded, or None."""
    for prop in message.get("singleValueExtendedProperties") or []:
        if isinstance(prop, dict) and _same_id(prop.get("id")) and prop.get("value"):
            return str(prop["value"])
    return None


def expand_param() -> dict[str, str]:
    """``$expand`` that returns the deferred-send property with a message."""
    return {"$expand": f"singleValueExtendedProperties($filter=id eq '{DEFERRED_SEND_TIME}')"}


def _same_id(value: Any) -> bool:
    return " ".join(str(value or "").split()).lower() == DEFERRED_SEND_TIME.lower()
