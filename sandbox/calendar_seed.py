"""The seeded calendars of each sandbox state: a realistic week or two around the anchor for every
mailbox, with meetings between users, rebuilt whenever the state reloads its mailboxes."""

from __future__ import annotations

import threading
import weakref
from datetime import timedelta
from typing import Any

from sandbox import seed
from sandbox.calendar_store import CalendarStore, UserCalendars, fmt, record_response
from sandbox.state import SandboxState

# -- per state ---------------------------------------------------------------------------------------------
_STORES: weakref.WeakKeyDictionary[SandboxState, tuple[object, CalendarStore]] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def calendars_of(state: SandboxState) -> CalendarStore:
    """The state's calendar data; reseeded when the state reloaded its mailboxes (reset)."""
    with _GUARD:
        held = _STORES.get(state)
        if held is None or held[0] is not state.mailboxes:
            store = CalendarStore(state.config.resolved_anchor(), state.config.seed)
            store.observer = state.subscriptions.observe
            seed_events(store)
            store.seeding = False
            _STORES[state] = (state.mailboxes, store)
            return store
        return held[1]


# -- seed ----------------------------------------------------------------------------------------------------
def seed_events(store: CalendarStore) -> None:
    """A realistic week or two around the anchor for every mailbox, with meetings between users."""
    avery, jordan, priya, mateo, hannah = (store.users[u["id"]] for u in seed.USERS[:5])
    support = store.users[seed.SHARED_MAILBOX_USER["id"]]
    day0 = store.anchor.replace(hour=0, minute=0, second=0, microsecond=0)
    monday = day0 - timedelta(days=day0.weekday())

    def at(day: int, hour: int, minute: int = 0) -> dict[str, str]:
        return {"dateTime": fmt(monday + timedelta(days=day, hours=hour, minutes=minute)), "timeZone": "UTC"}

    def who(*boxes: UserCalendars, kind: str = "required") -> list[dict[str, Any]]:
        return [
            {"type": kind, "emailAddress": {"name": b.user["displayName"], "address": b.user["mail"]}}
            for b in boxes
        ]

    def add(box: UserCalendars, **props: Any) -> dict[str, Any]:
        return store.add_event(box, box.default_calendar["id"], props)

    series_start = (monday - timedelta(weeks=4)).date().isoformat()
    standup = add(
        avery,
        subject="Operations stand-up",
        body={"contentType": "html", "content": "<p>Ten minutes: yesterday, today, blockers.</p>"},
        start=at(-28, 9),
        end=at(-28, 9, 15),
        location={"displayName": "Teams"},
        attendees=who(jordan, priya, mateo),
        isOnlineMeeting=True,
        onlineMeetingProvider="teamsForBusiness",
        recurrence={
            "pattern": {
                "type": "weekly",
                "interval": 1,
                "daysOfWeek": ["monday", "wednesday", "friday"],
                "firstDayOfWeek": "sunday",
            },
            "range": {"type": "noEnd", "startDate": series_start, "recurrenceTimeZone": "UTC"},
        },
    )
    _answer(store, standup, jordan, "accepted")
    _answer(store, standup, priya, "tentativelyAccepted")
    close = add(
        jordan,
        subject="Month-end close review",
        body={"contentType": "html", "content": "<p>Accruals, open POs and the variance report.</p>"},
        start=at(-25, 14),
        end=at(-25, 15),
        location={"displayName": "Building 1 / Finance room"},
        attendees=[*who(avery), *who(hannah, kind="optional")],
        recurrence={
            "pattern": {
                "type": "relativeMonthly",
                "interval": 1,
                "daysOfWeek": ["thursday"],
                "index": "last",
            },
            "range": {
                "type": "numbered",
                "startDate": (monday - timedelta(days=25)).date().isoformat(),
                "numberOfOccurrences": 12,
            },
        },
    )
    _answer(store, close, avery, "accepted")
    add(
        avery,
        subject="Supplier call: Nordhavn Freight",
        body={"contentType": "html", "content": "<p>Renewal terms for the Baltic lane.</p>"},
        start=at(1, 13),
        end=at(1, 13, 45),
        location={"displayName": "Teams"},
        attendees=who(priya),
        isOnlineMeeting=True,
        onlineMeetingProvider="teamsForBusiness",
    )
    add(
        hannah,
        subject="1:1 Hannah / Avery",
        body={"contentType": "text", "content": "Fortnightly check-in."},
        start=at(-13, 10, 30),
        end=at(-13, 11),
        attendees=who(avery),
        recurrence={
            "pattern": {
                "type": "weekly",
                "interval": 2,
                "daysOfWeek": ["tuesday"],
                "firstDayOfWeek": "monday",
            },
            "range": {
                "type": "endDate",
                "startDate": (monday - timedelta(days=13)).date().isoformat(),
                "endDate": (monday + timedelta(days=120)).date().isoformat(),
            },
        },
    )
    add(
        avery,
        subject="Quarterly planning offsite",
        body={"contentType": "text", "content": "Whole team, off site."},
        start=at(9, 0),
        end=at(10, 0),
        isAllDay=True,
        showAs="oof",
        location={"displayName": "Harbour Loft"},
    )
    add(
        mateo,
        subject="Warehouse audit",
        body={"contentType": "text", "content": "On site at the Tacoma DC."},
        start=at(2, 8),
        end=at(2, 16),
        showAs="workingElsewhere",
        location={"displayName": "Tacoma DC"},
    )
    add(
        mateo,
        subject="Dentist",
        body={"contentType": "text", "content": ""},
        start=at(3, 15),
        end=at(3, 16),
        showAs="oof",
        sensitivity="private",
    )
    add(
        hannah,
        subject="Training: new ERP reports",
        body={"contentType": "text", "content": "Optional session."},
        start=at(1, 15),
        end=at(1, 16, 30),
        showAs="tentative",
    )
    add(
        priya,
        subject="Customer escalation review",
        body={"contentType": "text", "content": "Ticket backlog."},
        start=at(2, 11),
        end=at(2, 12),
        attendees=who(support, mateo),
    )
    add(
        support,
        subject="Support rota handover",
        body={"contentType": "text", "content": "Queue status."},
        start=at(-7, 8),
        end=at(-7, 8, 15),
        recurrence={
            "pattern": {"type": "daily", "interval": 1},
            "range": {
                "type": "numbered",
                "startDate": (monday - timedelta(days=7)).date().isoformat(),
                "numberOfOccurrences": 30,
            },
        },
    )
    store.add_calendar(avery, "Project Harbor", "lightGreen")


def _answer(store: CalendarStore, event: dict[str, Any], box: UserCalendars, response: str) -> None:
    for owner, copy in store.copies(event):
        if owner is box:
            record_response(store, owner, copy, response)
