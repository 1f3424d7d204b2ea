"""Microsoft's Python SDK (msgraph-sdk, Kiota) drives the sandbox as it would drive Graph.

Each test is one area of the issue's list; the calls are the SDK's own request builders, so what
reaches the sandbox is what the SDK sends to Graph (PascalCase action parameters, ``@odata.type`` in
every body, ``delta()`` function calls). Where the SDK itself is at fault the test names the defect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

pytest.importorskip("msgraph", reason="msgraph-sdk is not installed: pip install -e '.[interop]'")

from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models import (
    attendee,
    attendee_type,
    automatic_replies_setting,
    automatic_replies_status,
    body_type,
    category_color,
    contact,
    date_time_time_zone,
    day_of_week,
    email_address,
    event,
    file_attachment,
    item_body,
    location,
    mail_folder,
    mailbox_settings,
    message,
    outlook_category,
    patterned_recurrence,
    recipient,
    recurrence_pattern,
    recurrence_pattern_type,
    recurrence_range,
    recurrence_range_type,
    single_value_legacy_extended_property,
    subscription,
    time_constraint,
    time_slot,
)
from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
    GetSchedulePostRequestBody,
)
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
    DeltaRequestBuilder as CalendarViewDelta,
)
from msgraph.generated.users.item.events.item.accept.accept_post_request_body import (
    AcceptPostRequestBody,
)
from msgraph.generated.users.item.find_meeting_times.find_meeting_times_post_request_body import (
    FindMeetingTimesPostRequestBody,
)
from msgraph.generated.users.item.messages.item.move.move_post_request_body import (
    MovePostRequestBody,
)
from msgraph.generated.users.item.messages.item.reply.reply_post_request_body import (
    ReplyPostRequestBody,
)
from msgraph.generated.users.item.messages.messages_request_builder import (
    MessagesRequestBuilder,
)
from msgraph.generated.users.item.send_mail.send_mail_post_request_body import (
    SendMailPostRequestBody,
)

from sandbox import seed
from sandbox.server import SandboxServer
from tests.support.graph_conformance import CONTACTS_NOT_IN_OPENAPI
from tests.support.listener import Listener

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK warns about its own classes
T = TypeVar("T")
ME = seed.USERS[0]
OTHER = seed.USERS[1]
WINDOW_START = datetime(2030, 1, 6, tzinfo=UTC)


class _StaticToken(AccessTokenProvider):
    """The sandbox's own token (obtained through its OAuth flow) for every request."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri: str, additional_authentication_context: Any = None) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


def run(server: SandboxServer, token: str, test: Callable[[GraphServiceClient], Awaitable[T]]) -> T:
    async def main() -> T:
        adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(_StaticToken(token)))
        adapter.base_url = server.graph_url
        return await test(GraphServiceClient(request_adapter=adapter))

    return asyncio.run(main())


def _to(address: str) -> recipient.Recipient:
    return recipient.Recipient(email_address=email_address.EmailAddress(address=address))


def _when(moment: datetime) -> date_time_time_zone.DateTimeTimeZone:
    return date_time_time_zone.DateTimeTimeZone(
        date_time=moment.strftime("%Y-%m-%dT%H:%M:%S"), time_zone="UTC"
    )


# -- mail, folders, attachments --------------------------------------------------------------------------
def test_mail(server: SandboxServer, token: str) -> None:
    async def flow(client: GraphServiceClient) -> None:
        query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(
            top=5, select=["subject", "isRead", "from"], filter="isRead eq false or isRead eq true"
        )
        page = await client.me.messages.get(RequestConfiguration(query_parameters=query))
        assert page is not None and page.value and len(page.value) == 5 and page.odata_next_link
        first = page.value[0]
        assert first.subject and first.id and first.body is None  # $select honoured

        draft = await client.me.messages.post(
            message.Message(
                subject="SDK draft",
                body=item_body.ItemBody(content_type=body_type.BodyType.Html, content="<p>Hello</p>"),
                to_recipients=[_to(OTHER["mail"])],
            )
        )
        assert draft is not None and draft.is_draft and draft.id
        patched = await client.me.messages.by_message_id(draft.id).patch(
            message.Message(subject="SDK draft 2")
        )
        assert patched is not None and patched.subject == "SDK draft 2"
        await client.me.messages.by_message_id(draft.id).send.post()

        await client.me.send_mail.post(
            SendMailPostRequestBody(  # sent as {"Message": ..., "SaveToSentItems": ...}
                message=message.Message(subject="SDK sendMail", to_recipients=[_to(OTHER["mail"])]),
                save_to_sent_items=True,
            )
        )
        sent = await client.me.mail_folders.by_mail_folder_id("sentitems").messages.get()
        assert sent is not None and sent.value
        assert {"SDK draft 2", "SDK sendMail"} <= {m.subject for m in sent.value}

        await client.me.messages.by_message_id(first.id).reply.post(ReplyPostRequestBody(comment="Thanks!"))
        moved = await client.me.messages.by_message_id(first.id).move.post(
            MovePostRequestBody(destination_id="archive")
        )
        assert moved is not None and moved.id
        await client.me.messages.by_message_id(moved.id).delete()

    run(server, token, flow)


def test_folders_and_attachments(server: SandboxServer, token: str) -> None:
    async def flow(client: GraphServiceClient) -> None:
        folders = await client.me.mail_folders.get()
        assert folders is not None and folders.value
        assert "Inbox" in {f.display_name for f in folders.value}
        child = await client.me.mail_folders.by_mail_folder_id("inbox").child_folders.post(
            mail_folder.MailFolder(display_name="SDK child")
        )
        assert child is not None and child.id and child.parent_folder_id

        draft = await client.me.messages.post(message.Message(subject="With a file"))
        assert draft is not None and draft.id
        added = await client.me.messages.by_message_id(draft.id).attachments.post(
            file_attachment.FileAttachment(
                name="notes.txt", content_type="text/plain", content_bytes=b"SDK bytes"
            )
        )
        assert added is not None and added.id and added.name == "notes.txt"
        listed = await client.me.messages.by_message_id(draft.id).attachments.get()
        assert listed is not None and [a.name for a in listed.value or []] == ["notes.txt"]
        got = await client.me.messages.by_message_id(draft.id).attachments.by_attachment_id(added.id).get()
        assert isinstance(got, file_attachment.FileAttachment) and got.content_bytes == b"SDK bytes"

    run(server, token, flow)


# -- categories, contacts, settings ----------------------------------------------------------------------
@CONTACTS_NOT_IN_OPENAPI
def test_categories_contacts_and_settings(server: SandboxServer, token: str) -> None:
    async def flow(client: GraphServiceClient) -> None:
        made = await client.me.outlook.master_categories.post(
            outlook_category.OutlookCategory(display_name="SDK", color=category_color.CategoryColor.Preset4)
        )
        assert made is not None and made.color == category_color.CategoryColor.Preset4
        categories = await client.me.outlook.master_categories.get()
        assert categories is not None and "SDK" in {c.display_name for c in categories.value or []}

        person = await client.me.contacts.post(
            contact.Contact(
                given_name="Ada",
                surname="Byron",
                email_addresses=[email_address.EmailAddress(address="ada@example.org", name="Ada")],
            )
        )
        assert person is not None and person.display_name == "Ada Byron" and person.id
        updated = await client.me.contacts.by_contact_id(person.id).patch(
            contact.Contact(job_title="Analyst")
        )
        assert updated is not None and updated.job_title == "Analyst"
        await client.me.contacts.by_contact_id(person.id).delete()

        settings = await client.me.mailbox_settings.get()
        assert settings is not None and settings.time_zone
        changed = await client.me.mailbox_settings.patch(
            mailbox_settings.MailboxSettings(
                automatic_replies_setting=automatic_replies_setting.AutomaticRepliesSetting(
                    status=automatic_replies_status.AutomaticRepliesStatus.AlwaysEnabled,
                    internal_reply_message="Away",
                )
            )
        )
        assert changed is not None and changed.automatic_replies_setting is not None
        assert (
            changed.automatic_replies_setting.status
            == automatic_replies_status.AutomaticRepliesStatus.AlwaysEnabled
        )

    run(server, token, flow)


# -- calendar ------------------------------------------------------------------------------------------------
def test_events_with_recurrence_responses_and_extended_properties(server: SandboxServer, token: str) -> None:
    async def flow(client: GraphServiceClient) -> None:
        calendar = await client.me.calendar.get()
        assert calendar is not None and calendar.is_default_calendar
        weekly = event.Event(  # the SDK adds "@odata.type": "#microsoft.graph.event"
            subject="SDK weekly",
            start=_when(WINDOW_START + timedelta(days=1, hours=9)),
            end=_when(WINDOW_START + timedelta(days=1, hours=10)),
            location=location.Location(display_name="Room 4"),
            attendees=[
                attendee.Attendee(
                    email_address=email_address.EmailAddress(address=OTHER["mail"]),
                    type=attendee_type.AttendeeType.Required,
                )
            ],
            recurrence=patterned_recurrence.PatternedRecurrence(
                pattern=recurrence_pattern.RecurrencePattern(
                    type=recurrence_pattern_type.RecurrencePatternType.Weekly,
                    interval=1,
                    days_of_week=[day_of_week.DayOfWeek.Monday],
                ),
                range=recurrence_range.RecurrenceRange(
                    type=recurrence_range_type.RecurrenceRangeType.Numbered,
                    start_date=(WINDOW_START + timedelta(days=1)).date(),
                    number_of_occurrences=4,
                ),
            ),
            single_value_extended_properties=[
                single_value_legacy_extended_property.SingleValueLegacyExtendedProperty(
                    id="String {66f5a359-4659-4830-9070-00047ec6ac6e} Name Origin", value="sdk"
                )
            ],
        )
        created = await client.me.events.post(weekly)
        assert created is not None and created.id and created.recurrence is not None
        assert created.recurrence.pattern is not None
        assert created.recurrence.pattern.first_day_of_week == day_of_week.DayOfWeek.Sunday  # Graph's default
        assert created.location is not None and created.location.unique_id == "Room 4"
        assert created.attendees and created.attendees[0].type == attendee_type.AttendeeType.Required

        instances = await client.me.events.by_event_id(created.id).instances.get(
            RequestConfiguration(
                query_parameters=type(
                    client.me.events.by_event_id(created.id).instances
                ).InstancesRequestBuilderGetQueryParameters(
                    start_date_time=WINDOW_START.isoformat(),
                    end_date_time=(WINDOW_START + timedelta(days=60)).isoformat(),
                )
            )
        )
        assert instances is not None and len(instances.value or []) == 4

        patched = await client.me.events.by_event_id(created.id).patch(
            event.Event(subject="SDK weekly (moved)")
        )
        assert patched is not None and patched.subject == "SDK weekly (moved)"

        events = await client.me.events.get()
        invitation = next(e for e in events.value or [] if not e.is_organizer) if events else None
        assert invitation is not None and invitation.id
        await client.me.events.by_event_id(invitation.id).accept.post(
            AcceptPostRequestBody(comment="See you there", send_response=True)  # "Comment", "SendResponse"
        )
        answered = await client.me.events.by_event_id(invitation.id).get()
        assert answered is not None and answered.response_status is not None
        assert (
            str(answered.response_status.response.value if answered.response_status.response else "")
            == "accepted"
        )

    run(server, token, flow)


@pytest.mark.graph_nonconformant(
    "msgraph-sdk writes meetingDuration as '1:00:00' (its defect, shown on purpose)",
    match=r"findMeetingTimes",
)
def test_find_meeting_times_and_get_schedule(server: SandboxServer, token: str) -> None:
    async def flow(client: GraphServiceClient) -> None:
        constraint = time_constraint.TimeConstraint(
            time_slots=[
                time_slot.TimeSlot(
                    start=_when(WINDOW_START + timedelta(days=1, hours=8)),
                    end=_when(WINDOW_START + timedelta(days=1, hours=17)),
                )
            ]
        )
        body = FindMeetingTimesPostRequestBody(
            attendees=[
                attendee.AttendeeBase(email_address=email_address.EmailAddress(address=OTHER["mail"]))
            ],
            time_constraint=constraint,
            meeting_duration=timedelta(hours=1),
        )
        # SDK defect (kiota-serialization-json): a timedelta is written with str(), "1:00:00", not the
        # ISO 8601 duration "PT1H" that Edm.Duration needs; the sandbox refuses it as Graph does.
        with pytest.raises(APIError) as refused:
            await client.me.find_meeting_times.post(body)
        assert refused.value.response_status_code == 400
        sent = server.state.request_log[-1].body
        assert sent is not None and sent["meetingDuration"] == "1:00:00"

        schedule = await client.me.calendar.get_schedule.post(
            GetSchedulePostRequestBody(  # "Schedules", "StartTime", "EndTime", "AvailabilityViewInterval"
                schedules=[ME["mail"], OTHER["mail"]],
                start_time=_when(WINDOW_START + timedelta(days=1, hours=8)),
                end_time=_when(WINDOW_START + timedelta(days=1, hours=18)),
                availability_view_interval=60,
            )
        )
        assert schedule is not None and len(schedule.value or []) == 2
        first = (schedule.value or [])[0]
        assert first.availability_view and len(first.availability_view) == 10 and first.working_hours

    run(server, token, flow)
    # The same request with the duration as Graph documents it succeeds (the SDK defect is the only fault).
    with httpx.Client(base_url=server.graph_url, headers={"Authorization": f"Bearer {token}"}) as raw:
        sent = server.state.request_log[-2].body
        fixed = raw.post("/me/findMeetingTimes", json={**sent, "meetingDuration": "PT1H"})
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["meetingTimeSuggestions"]


# -- delta (twice), subscriptions, $batch ------------------------------------------------------------------
def test_delta_twice(server: SandboxServer, token: str) -> None:
    async def flow(client: GraphServiceClient) -> None:
        inbox = client.me.mail_folders.by_mail_folder_id("inbox").messages.delta
        link, seen = None, 0
        page = await inbox.get()  # .../messages/delta()
        while page is not None:
            seen += len(page.value or [])
            if page.odata_next_link:
                page = await inbox.with_url(page.odata_next_link).get()
                continue
            link = page.odata_delta_link
            break
        assert seen > 0 and link
        await client.me.send_mail.post(
            SendMailPostRequestBody(
                message=message.Message(subject="Delta me", to_recipients=[_to(ME["mail"])])
            )
        )
        second = await inbox.with_url(link).get()
        assert second is not None and [m.subject for m in second.value or []] == ["Delta me"]

        view = client.me.calendar_view.delta
        query = CalendarViewDelta.DeltaRequestBuilderGetQueryParameters(
            start_date_time=WINDOW_START.strftime("%Y-%m-%dT%H:%M:%SZ"),
            end_date_time=(WINDOW_START + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        first_view = await view.get(RequestConfiguration(query_parameters=query))
        while first_view is not None and first_view.odata_next_link:
            first_view = await view.with_url(first_view.odata_next_link).get()
        assert first_view is not None and first_view.odata_delta_link
        again = await view.with_url(first_view.odata_delta_link).get()
        assert again is not None and again.value == []

        folders = await client.me.mail_folders.delta.get()
        assert folders is not None and folders.value and folders.odata_delta_link
        contacts = await client.me.contacts.delta.get()
        assert contacts is not None and contacts.value and contacts.odata_delta_link

    run(server, token, flow)


def test_subscription_with_a_listener(server: SandboxServer, token: str, listener: Listener) -> None:
    async def flow(client: GraphServiceClient) -> str:
        made = await client.subscriptions.post(
            subscription.Subscription(
                change_type="created",
                notification_url=f"{listener.url}/sdk",
                resource="me/mailFolders('inbox')/messages",
                expiration_date_time=datetime.now(UTC) + timedelta(hours=1),
                client_state="sdk-secret",
            )
        )
        assert made is not None and made.id
        await client.me.send_mail.post(
            SendMailPostRequestBody(
                message=message.Message(subject="Notify me", to_recipients=[_to(ME["mail"])])
            )
        )
        return made.id

    subscription_id = run(server, token, flow)
    assert server.state.subscriptions.deliver_pending() >= 1
    assert listener.wait_for(lambda: bool(listener.items("/sdk")))
    item = listener.items("/sdk")[-1]
    assert item["subscriptionId"] == subscription_id and item["clientState"] == "sdk-secret"
    assert item["changeType"] == "created"


def test_batch(server: SandboxServer, token: str) -> None:
    """``$batch`` as Graph documents it (json-batching): ids, dependsOn, per-request status and bodies,
    through msgraph-core's batch request builder."""
    from msgraph_core.requests.batch_request_content import BatchRequestContent
    from msgraph_core.requests.batch_request_item import BatchRequestItem

    async def flow(client: GraphServiceClient) -> None:
        me = BatchRequestItem(request_information=client.me.to_get_request_information())
        folders = BatchRequestItem(request_information=client.me.mail_folders.to_get_request_information())
        folders.set_depends_on([me])
        missing = BatchRequestItem(
            request_information=client.me.messages.by_message_id(
                "AAMkAGVmMDEzMTM4LTZmYWUtNDdkNC1hMDZiLTU1OGY5OTZhYmY4OAB="
            ).to_get_request_information()
        )
        content = BatchRequestContent({item.id: item for item in (me, folders, missing)})
        answer = await client.batch.post(batch_request_content=content)
        assert answer is not None
        statuses = {item_id: response.status for item_id, response in answer.responses.items()}
        assert statuses[me.id] == 200 and statuses[folders.id] == 200 and statuses[missing.id] == 404
        # SDK defect (msgraph-core): BatchResponseItem reads "body" with get_bytes_value(), i.e. as a
        # base64 string; Graph (json-batching) answers JSON bodies as JSON objects, so the SDK drops them.
        item = answer.get_response_by_id(me.id)
        assert item is not None and item.body is None

    run(server, token, flow)
    sent = next(r for r in reversed(server.state.request_log) if r.path == "/v1.0/$batch")
    with httpx.Client(base_url=server.graph_url, headers={"Authorization": f"Bearer {token}"}) as raw:
        again = raw.post("/$batch", json=sent.body)
    assert again.status_code == 200
    by_id = {r["id"]: r for r in again.json()["responses"]}
    me_answer = by_id[sent.body["requests"][0]["id"]]
    assert me_answer["status"] == 200 and me_answer["body"]["mail"] == ME["mail"]  # the body is JSON


def test_extended_property_deferred_send(server: SandboxServer, token: str) -> None:
    """A message sent with PidTagDeferredSendTime waits in the Outbox (the SDK's model carries it)."""

    async def flow(client: GraphServiceClient) -> None:
        later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        await client.me.send_mail.post(
            SendMailPostRequestBody(
                message=message.Message(
                    subject="Tomorrow",
                    to_recipients=[_to(OTHER["mail"])],
                    single_value_extended_properties=[
                        single_value_legacy_extended_property.SingleValueLegacyExtendedProperty(
                            id="SystemTime 0x3FEF", value=later
                        )
                    ],
                )
            )
        )
        outbox = await client.me.mail_folders.by_mail_folder_id("outbox").messages.get()
        assert outbox is not None and [m.subject for m in outbox.value or []] == ["Tomorrow"]

    run(server, token, flow)
