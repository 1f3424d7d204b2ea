"""The O365 library drives the sandbox as it would drive Graph.

O365 signs in through MSAL, which only talks to an https login authority; the tests give its
connection the sandbox's own token (from the sandbox's OAuth flow) instead. Everything after that is
O365's own request building: its ``users/{upn}`` resource paths, its bodies (an extended property on
every event), its recurrence and response calls.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("O365", reason="O365 is not installed: pip install -e '.[interop]'")

import requests
from O365 import Account
from O365.category import CategoryColor
from O365.connection import MSGraphProtocol

from sandbox import seed
from sandbox.server import SandboxServer
from tests.support.listener import Listener

ME = seed.USERS[0]
OTHER = seed.USERS[1]
UTC = ZoneInfo("UTC")
START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def account(server: SandboxServer, token: str) -> Iterator[Account]:
    class SandboxProtocol(MSGraphProtocol):
        _protocol_url = server.url + "/"

    protocol = SandboxProtocol(api_version="v1.0")
    protocol.protocol_url = server.url + "/"
    protocol.service_url = server.url + "/v1.0/"
    account = Account(
        (seed.CLIENT_ID, "unused"),
        protocol=protocol,
        auth_flow_type="credentials",
        tenant_id=seed.TENANT_ID,
        main_resource=f"users/{ME['userPrincipalName']}",
    )
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    account.con.session = session
    yield account
    session.close()


def _last(server: SandboxServer, method: str, fragment: str) -> Any:
    """The newest ``method`` request whose path ends with ``fragment``."""
    return next(
        r for r in reversed(server.state.request_log) if r.method == method and r.path.endswith(fragment)
    )


def test_mail_folders_and_attachments(account: Account, server: SandboxServer) -> None:
    mailbox = account.mailbox()
    inbox = mailbox.inbox_folder()
    query = mailbox.new_query().equals("isRead", False)
    unread = list(inbox.get_messages(limit=5, query=query))
    assert unread and all(not m.is_read for m in unread)

    message = mailbox.new_message()
    message.to.add(OTHER["mail"])
    message.subject = "O365 hello"
    message.body = "<p>Hello from O365</p>"
    assert message.send()

    draft = mailbox.new_message()
    draft.to.add(OTHER["mail"])
    draft.subject = "O365 with a file"
    draft.attachments.add([(io.BytesIO(b"O365 bytes"), "notes.txt")])
    assert draft.save_draft()
    assert draft.object_id and draft.is_draft
    assert draft.send()
    saved = _last(server, "POST", "/messages")
    assert saved.status == 201 and saved.body["attachments"][0]["name"] == "notes.txt"

    original = unread[0]
    reply = original.reply()
    reply.body = "Thanks"
    assert reply.send()
    archive = mailbox.archive_folder()
    assert original.move(archive)
    assert original.folder_id == archive.folder_id

    folders = list(mailbox.get_folders())
    assert "Inbox" in {f.name for f in folders}
    child = inbox.create_child_folder("O365 child")
    assert child is not None and child.folder_id
    sent = _last(server, "POST", "/sendMail")
    assert sent.status == 202 and sent.body["message"]["subject"] == "O365 hello"


def test_categories_contacts_and_settings(account: Account) -> None:
    categories = account.outlook_categories()
    # O365 defect: CategoryColor.get("preset3") capitalizes to "Preset3" and never matches, so the
    # color is given as the enum member.
    made = categories.create_category("O365 category", color=CategoryColor.YELLOW)
    assert made is not None and made.name == "O365 category"
    assert "O365 category" in {c.name for c in categories.get_categories()}

    book = account.address_book()
    person = book.new_contact()
    person.name, person.surname = "Grace", "Hopper"  # O365's name is the given name
    person.emails.add("grace@example.org")
    assert person.save() and person.object_id
    assert "Grace Hopper" in {c.full_name for c in book.get_contacts(limit=50)}
    assert person.delete()

    settings = account.mailbox().get_settings()
    assert settings is not None and settings.timezone


def test_events_with_recurrence_responses_and_schedule(account: Account, server: SandboxServer) -> None:
    schedule = account.schedule()
    calendar = schedule.get_default_calendar()
    assert calendar is not None and calendar.name
    event = calendar.new_event()
    event.subject = "O365 weekly"
    event.start = START
    event.end = START + timedelta(hours=1)
    event.location = "Room 7"
    event.attendees.add(OTHER["mail"])
    event.recurrence.set_weekly(1, days_of_week=["monday"], first_day_of_week="monday")
    event.recurrence.set_range(start=START.date(), occurrences=3)
    assert event.save() and event.object_id
    created = _last(server, "POST", "/events")
    assert created.status == 201
    assert created.body.get("singleValueExtendedProperties")  # O365 sends one on every event

    occurrences = list(
        calendar.get_events(
            include_recurring=True,
            start_recurring=START - timedelta(days=1),
            end_recurring=START + timedelta(days=30),
        )
    )
    assert sum(1 for e in occurrences if e.subject == "O365 weekly") == 3

    invitation = next(
        e for e in calendar.get_events(limit=100, include_recurring=False) if not e.is_organizer
    )
    assert invitation.accept_event("Count me in")
    accepted = _last(server, "POST", "/accept")
    assert accepted.status == 202

    availability = schedule.get_availability(
        [ME["mail"], OTHER["mail"]], START, START + timedelta(hours=8), interval=60
    )
    assert len(availability) == 2 and len(availability[0]["availabilityView"]) == 8


def test_subscription_with_a_listener(account: Account, server: SandboxServer, listener: Listener) -> None:
    subscriptions = account.subscriptions()
    made = subscriptions.create_subscription(
        f"{listener.url}/o365",
        resource=f"users/{ME['userPrincipalName']}/mailFolders('inbox')/messages",
        change_type="created",
        expiration_minutes=60,
        client_state="o365-secret",
    )
    assert made is not None and made["id"]
    message = account.mailbox().new_message()
    message.to.add(ME["mail"])
    message.subject = "Notify O365"
    assert message.send()
    assert server.state.subscriptions.deliver_pending() >= 1
    assert listener.wait_for(lambda: bool(listener.items("/o365")))
    assert listener.items("/o365")[-1]["clientState"] == "o365-secret"
