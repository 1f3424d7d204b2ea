"""Graph subscriptions on the sandbox, over real HTTP: the validation handshake, limits, renew,
reauthorize, delete, visibility, and change notifications really POSTed to a local listener
(batching, retries, lifecycle events, expiry, the background delivery thread)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sandbox import seed
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.conftest import app_token, delegated_tokens
from tests.support.listener import Listener

SCOPES = (
    "openid profile offline_access User.Read Mail.ReadWrite Mail.Send Calendars.ReadWrite Contacts.ReadWrite"
)
USER = seed.USERS[0]
OTHER = seed.USERS[1]
CLIENT_STATE = "client-state-known-only-to-the-subscriber"
FAST = {
    "http_notification_urls": True,  # local listeners are http (Graph: https only)
    "messages_per_user": 20,
    "notification_interval": 0.0,  # deliveries only when a test calls deliver_pending()
    "validation_timeout": 10.0,  # Graph's; a loaded machine may be slow to answer (the hang test sets 0.5)
    "notification_retry_delay": 0.0,
    "notification_timeout": 10.0,  # a loaded machine's listener may be slower than Graph's 3 s
}


class Clock:
    """The sandbox clock, movable by tests."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return datetime.now(UTC).timestamp() + self.offset


def in_minutes(minutes: float, clock: Callable[[], float] | None = None) -> str:
    now = datetime.fromtimestamp(clock(), UTC) if clock else datetime.now(UTC)
    return (now + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Sandbox:
    """A served sandbox with clients for the default user, another user and the app."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.state = server.state
        self.hub = server.state.subscriptions
        self._clients: list[httpx.Client] = []

    def client(self, token: str) -> httpx.Client:
        client = httpx.Client(
            base_url=self.server.graph_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        self._clients.append(client)
        return client

    def user(self, who: dict[str, Any] = USER) -> httpx.Client:
        flask_client = self.server.app.test_client()
        return self.client(delegated_tokens(flask_client, SCOPES, who["userPrincipalName"])["access_token"])

    def app(self) -> httpx.Client:
        return self.client(app_token(self.server.app.test_client()))

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    made: list[Sandbox] = []

    def make(**config: Any) -> Sandbox:
        sandbox = Sandbox(SandboxServer(SandboxConfig(**{**FAST, **config})).start())
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        sandbox.close()
        sandbox.server.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox()


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


def subscribe(
    client: httpx.Client,
    url: str,
    resource: str = "me/mailFolders('inbox')/messages",
    change_type: str = "created,updated,deleted",
    minutes: float = 60,
    **extra: Any,
) -> httpx.Response:
    body = {
        "changeType": change_type,
        "notificationUrl": url,
        "resource": resource,
        "expirationDateTime": in_minutes(minutes),
        "clientState": CLIENT_STATE,
        **extra,
    }
    return client.post("/subscriptions", json=body)


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    return body


# -- creating: the validation handshake ---------------------------------------------------------------
def test_create_validates_the_endpoint_and_answers_the_subscription(
    sandbox: Sandbox, listener: Listener
) -> None:
    me = sandbox.user()
    body = created(
        subscribe(me, listener.url + "/notify?tenant=t1", lifecycleNotificationUrl=listener.url + "/life")
    )

    assert body["@odata.context"].endswith("$metadata#subscriptions/$entity")
    assert body["resource"] == "me/mailFolders('inbox')/messages"
    assert body["changeType"] == "created,updated,deleted"
    assert body["clientState"] == CLIENT_STATE
    assert body["applicationId"] == seed.CLIENT_ID
    assert body["creatorId"] == USER["id"]
    assert body["notificationUrl"] == listener.url + "/notify?tenant=t1"
    assert body["lifecycleNotificationUrl"] == listener.url + "/life"
    assert body["includeResourceData"] is False
    assert body["latestSupportedTlsVersion"] == "v1_2"
    validations = listener.validations()
    assert [v.path for v in validations] == ["/notify", "/life"]
    first = validations[0]
    assert first.content_type.startswith("text/plain") and first.body == b""
    assert first.query["tenant"] == "t1"  # the notificationUrl's own query is kept
    assert first.validation_token and " " in first.validation_token  # receivers must URL-decode it
    assert me.get(f"/subscriptions/{body['id']}").json()["id"] == body["id"]


@pytest.mark.parametrize(
    ("validation", "message"),
    [
        ("wrong", "Response must exactly match validationToken"),
        ("error", "must respond with 200 OK"),
        ("hang", "timed out"),
    ],
)
def test_a_failed_validation_refuses_the_subscription(
    make_sandbox: Callable[..., Sandbox], validation: Any, message: str
) -> None:
    sandbox = make_sandbox(validation_timeout=0.5)  # the "hang" listener never answers
    with Listener(validation=validation) as bad:
        answer = error(subscribe(sandbox.user(), bad.url), 400)
        assert len(bad.validations()) == 1
    assert answer["code"] == "ValidationError"
    assert message in answer["message"]
    assert sandbox.hub.list() == []


def test_an_unreachable_endpoint_or_lifecycle_url_refuses_the_subscription(
    sandbox: Sandbox, listener: Listener
) -> None:
    with Listener() as gone:
        url = gone.url
    me = sandbox.user()
    assert "must respond with 200 OK" in error(subscribe(me, url), 400)["message"]
    with Listener(validation="error") as bad_lifecycle:
        answer = error(subscribe(me, listener.url, lifecycleNotificationUrl=bad_lifecycle.url), 400)
    assert answer["code"] == "ValidationError"
    assert sandbox.hub.list() == []


@pytest.mark.parametrize(
    ("extra", "status", "code", "message"),
    [
        ({"minutes": 4231}, 400, "ExtensionError", "4230 minutes"),
        ({"minutes": -1}, 400, "ExtensionError", "in the future"),
        ({"change_type": "created,renamed"}, 400, "InvalidRequest", "changeType"),
        ({"resource": "me/mailFolders"}, 400, "InvalidRequest", "is not supported"),
        ({"resource": "me/mailFolders('nope')/messages"}, 404, "ExtensionError", "not found"),
        ({"resource": f"users/{OTHER['userPrincipalName']}/messages"}, 403, "ExtensionError", "denied"),
        ({"includeResourceData": True}, 400, "ValidationError", "encryptionCertificate"),
        (
            {"includeResourceData": True, "encryptionCertificate": "MIIB"},
            400,
            "ValidationError",
            "encryptionCertificateId",
        ),
        (
            {
                "includeResourceData": True,
                "encryptionCertificate": "bm90IGEgY2VydA==",
                "encryptionCertificateId": "c",
            },
            400,
            "ValidationError",
            "X.509",
        ),
        (
            {
                "includeResourceData": True,
                "minutes": 1441,
                "encryptionCertificate": "x",
                "encryptionCertificateId": "c",
            },
            400,
            "ExtensionError",
            "1440 minutes",
        ),
    ],
)
def test_invalid_subscriptions_are_refused_before_any_validation_request(
    sandbox: Sandbox, listener: Listener, extra: dict[str, Any], status: int, code: str, message: str
) -> None:
    answer = error(subscribe(sandbox.user(), listener.url, **extra), status)
    assert answer["code"] == code
    assert message in answer["message"]
    assert listener.validations() == []


def test_expiry_up_to_the_maximum_is_accepted(sandbox: Sandbox, listener: Listener) -> None:
    body = created(subscribe(sandbox.user(), listener.url, minutes=4229))
    expires = datetime.fromisoformat(body["expirationDateTime"])
    assert timedelta(minutes=4228) < expires - datetime.now(UTC) <= timedelta(minutes=4229)


def test_at_most_the_configured_number_of_subscriptions_per_mailbox(
    make_sandbox: Callable[..., Sandbox], listener: Listener
) -> None:
    sandbox = make_sandbox(max_subscriptions_per_mailbox=3)
    me, app = sandbox.user(), sandbox.app()
    for resource in ("me/messages", "me/events", "me/contacts"):
        created(subscribe(me, listener.url, resource))
    answer = error(subscribe(app, listener.url, f"users/{USER['id']}/messages"), 403)  # all apps count
    assert answer["code"] == "ExtensionError"
    assert "SubscriptionCountReached" in answer["message"] and "'3'" in answer["message"]
    created(subscribe(app, listener.url, f"users/{OTHER['id']}/messages"))  # another mailbox
    assert len(listener.validations()) == 4


# -- renew, reauthorize, delete, list ----------------------------------------------------------------
def test_patch_renews_and_revalidates_a_new_notification_url(sandbox: Sandbox, listener: Listener) -> None:
    me = sandbox.user()
    sub = created(subscribe(me, listener.url + "/a", minutes=30))
    renewed = me.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": in_minutes(4000)})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["expirationDateTime"] > sub["expirationDateTime"]
    assert renewed.json()["clientState"] == CLIENT_STATE

    too_far = me.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": in_minutes(5000)})
    assert error(too_far, 400)["code"] == "ExtensionError"
    with Listener(validation="wrong") as bad:
        refused = me.patch(f"/subscriptions/{sub['id']}", json={"notificationUrl": bad.url})
    assert error(refused, 400)["code"] == "ValidationError"
    moved = me.patch(f"/subscriptions/{sub['id']}", json={"notificationUrl": listener.url + "/b"})
    assert moved.status_code == 200 and moved.json()["notificationUrl"] == listener.url + "/b"
    assert [v.path for v in listener.validations()] == ["/a", "/b"]
    assert me.get(f"/subscriptions/{sub['id']}").json()["notificationUrl"] == listener.url + "/b"


def test_patch_refuses_what_cannot_change(sandbox: Sandbox, listener: Listener) -> None:
    me = sandbox.user()
    sub = created(subscribe(me, listener.url))
    life = me.patch(f"/subscriptions/{sub['id']}", json={"lifecycleNotificationUrl": listener.url})
    assert "cannot be updated" in error(life, 400)["message"]
    empty = me.patch(f"/subscriptions/{sub['id']}", json={"clientState": None, "changeType": "created"})
    assert error(empty, 400)["code"] == "InvalidRequest"


def test_reauthorize_and_delete(sandbox: Sandbox, listener: Listener) -> None:
    me = sandbox.user()
    sub = created(subscribe(me, listener.url))
    assert me.post(f"/subscriptions/{sub['id']}/reauthorize").status_code == 204
    assert me.post(f"/subscriptions/{sub['id']}/microsoft.graph.reauthorize").status_code == 204
    assert me.delete(f"/subscriptions/{sub['id']}").status_code == 204
    for answer in (
        me.get(f"/subscriptions/{sub['id']}"),
        me.delete(f"/subscriptions/{sub['id']}"),
        me.post(f"/subscriptions/{sub['id']}/reauthorize"),
        me.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": in_minutes(90)}),
    ):
        assert error(answer, 404)["code"] == "ResourceNotFound"
    me.patch("/me/messages/" + _first_inbox_id(sandbox), json={"isRead": True})
    assert sandbox.hub.pending_count() == 0


def test_each_caller_sees_its_own_subscriptions(sandbox: Sandbox, listener: Listener) -> None:
    me, other, app = sandbox.user(), sandbox.user(OTHER), sandbox.app()
    mine = created(subscribe(me, listener.url, "me/messages"))
    theirs = created(subscribe(other, listener.url, "/Me/Events"))
    apps = created(subscribe(app, listener.url, f"users/{OTHER['userPrincipalName']}/contacts"))
    assert apps["creatorId"] == seed.SERVICE_PRINCIPAL_ID

    def ids(client: httpx.Client) -> set[str]:
        answer = client.get("/subscriptions")
        assert answer.status_code == 200, answer.text
        assert answer.json()["@odata.context"].endswith("$metadata#subscriptions")
        return {s["id"] for s in answer.json()["value"]}

    assert ids(me) == {mine["id"]}
    assert ids(other) == {theirs["id"]}
    assert ids(app) == {mine["id"], theirs["id"], apps["id"]}
    assert error(other.get(f"/subscriptions/{mine['id']}"), 404)["code"] == "ResourceNotFound"
    assert error(other.delete(f"/subscriptions/{mine['id']}"), 404)["code"] == "ResourceNotFound"


# -- change notifications -----------------------------------------------------------------------------
def _first_inbox_id(sandbox: Sandbox) -> str:
    box = sandbox.state.mailbox(USER["id"])
    return str(box.messages_in(box.well_known["inbox"])[0]["id"])


def _etag(client: httpx.Client, message_id: str) -> str:
    return str(client.get(f"/me/messages/{message_id}", params={"$select": "id"}).json()["@odata.etag"])


def test_message_changes_are_notified_to_the_folder_subscriptions(
    sandbox: Sandbox, listener: Listener
) -> None:
    me = sandbox.user()
    inbox_sub = created(subscribe(me, listener.url + "/inbox"))
    archive_sub = created(
        subscribe(me, listener.url + "/archive", "me/mailFolders/archive/messages", "created")
    )
    new = me.post("/me/mailFolders/inbox/messages", json={"subject": "Hello"}).json()
    updated = me.patch(f"/me/messages/{new['id']}", json={"isRead": True}).json()
    moved = me.post(f"/me/messages/{new['id']}/move", json={"destinationId": "archive"}).json()
    draft = me.post("/me/messages", json={"subject": "A draft"}).json()  # Drafts: nobody listens
    assert draft["id"]

    assert sandbox.hub.pending_count() == 4
    assert sandbox.hub.deliver_pending() == 4
    assert sandbox.hub.pending_count() == 0
    inbox_items = listener.items("/inbox")
    assert [(i["changeType"], i["resourceData"]["id"]) for i in inbox_items] == [
        ("created", new["id"]),
        ("updated", new["id"]),
        ("deleted", new["id"]),
    ]
    assert inbox_items[1]["resourceData"]["@odata.etag"] == updated["@odata.etag"]
    for item in inbox_items:
        assert item["subscriptionId"] == inbox_sub["id"]
        assert item["clientState"] == CLIENT_STATE
        assert item["tenantId"] == seed.TENANT_ID
        assert item["resource"] == f"Users/{USER['id']}/Messages/{new['id']}"
        assert item["resourceData"]["@odata.type"] == "#Microsoft.Graph.Message"
        assert item["resourceData"]["@odata.id"] == item["resource"]
        assert item["subscriptionExpirationDateTime"] == inbox_sub["expirationDateTime"]
    (archived,) = listener.items("/archive")
    assert archived["subscriptionId"] == archive_sub["id"]
    assert (archived["changeType"], archived["resourceData"]["id"]) == ("created", moved["id"])
    assert archived["resourceData"]["@odata.etag"] == _etag(me, moved["id"])


def test_a_move_keeping_the_id_is_deleted_there_created_here_updated_mailbox_wide(
    sandbox: Sandbox, listener: Listener
) -> None:
    me = sandbox.user()
    created(subscribe(me, listener.url + "/inbox"))
    created(subscribe(me, listener.url + "/archive", "me/mailFolders('Archive')/messages"))
    created(subscribe(me, listener.url + "/all", "me/messages", "updated"))
    message_id = _first_inbox_id(sandbox)
    answer = me.post(
        f"/me/messages/{message_id}/move",
        json={"destinationId": "archive"},
        headers={"Prefer": 'IdType="ImmutableId"'},
    )
    assert answer.json()["id"] == message_id
    sandbox.hub.deliver_pending()
    assert [(i["changeType"], i["resourceData"]["id"]) for i in listener.items("/inbox")] == [
        ("deleted", message_id)
    ]
    assert [(i["changeType"], i["resourceData"]["id"]) for i in listener.items("/archive")] == [
        ("created", message_id)
    ]
    assert [(i["changeType"], i["resourceData"]["id"]) for i in listener.items("/all")] == [
        ("updated", message_id)
    ]


def test_app_only_and_delegated_subscriptions_see_the_same_mailbox(
    sandbox: Sandbox, listener: Listener
) -> None:
    me, app = sandbox.user(), sandbox.app()
    created(subscribe(me, listener.url + "/me", "me/messages", "deleted"))
    created(subscribe(app, listener.url + "/app", f"users/{USER['userPrincipalName']}/messages", "deleted"))
    created(subscribe(app, listener.url + "/other", f"users/{OTHER['id']}/messages"))
    assert error(subscribe(app, listener.url, "me/messages"), 400)["code"] == "BadRequest"
    message_id = _first_inbox_id(sandbox)
    assert me.post(f"/me/messages/{message_id}/permanentDelete").status_code == 204
    assert sandbox.hub.deliver_pending() == 2
    for path in ("/me", "/app"):
        (item,) = listener.items(path)
        assert item["changeType"] == "deleted"
        assert item["resource"] == f"Users/{USER['id']}/Messages/{message_id}"
    assert listener.items("/other") == []


def test_many_changes_are_posted_in_batches_of_100(sandbox: Sandbox, listener: Listener) -> None:
    created(subscribe(sandbox.user(), listener.url, "me/messages", "updated"))
    box = sandbox.state.mailbox(USER["id"])
    ids = [m["id"] for m in box.messages_in(None)]
    with sandbox.state.lock:
        for number in range(250):
            box.update_message(ids[number % len(ids)], {"isRead": number % 2 == 0})
    assert sandbox.hub.deliver_pending() == 250
    assert [len(body["value"]) for body in listener.posts()] == [100, 100, 50]
    keys = [item["resourceData"]["@odata.etag"] for item in listener.items()]
    assert len(set(keys)) == 250  # every change has its own change key, in order


def test_a_failed_batch_is_posted_again_until_the_listener_recovers(
    sandbox: Sandbox, listener: Listener
) -> None:
    me = sandbox.user()
    created(subscribe(me, listener.url, "me/messages", "updated"))
    me.patch(f"/me/messages/{_first_inbox_id(sandbox)}", json={"isRead": True})
    listener.status = 500
    assert sandbox.hub.deliver_pending() == 0
    assert sandbox.hub.pending_count() == 1
    listener.status = 202
    assert sandbox.hub.deliver_pending() == 1
    assert sandbox.hub.pending_count() == 0
    first, second = listener.posts()
    assert first == second  # the same batch, again


def test_the_backoff_follows_the_sandbox_clock(
    make_sandbox: Callable[..., Sandbox], listener: Listener
) -> None:
    clock = Clock()
    sandbox = make_sandbox(clock=clock, notification_retry_delay=30)
    me = sandbox.user()
    created(subscribe(me, listener.url, "me/messages", "updated"))
    me.patch(f"/me/messages/{_first_inbox_id(sandbox)}", json={"isRead": True})
    listener.status = 503
    assert sandbox.hub.deliver_pending() == 0
    listener.status = 202
    assert sandbox.hub.deliver_pending() == 0  # not due yet
    assert len(listener.posts()) == 1
    clock.offset += 31
    assert sandbox.hub.deliver_pending() == 1


def test_after_the_last_attempt_the_batch_is_dropped_and_missed_is_sent(
    make_sandbox: Callable[..., Sandbox], listener: Listener
) -> None:
    sandbox = make_sandbox(notification_max_attempts=3)
    me = sandbox.user()
    sub = created(
        subscribe(me, listener.url + "/n", "me/messages", lifecycleNotificationUrl=listener.url + "/life")
    )
    me.patch(f"/me/messages/{_first_inbox_id(sandbox)}", json={"isRead": True})
    listener.status = 500
    for _ in range(3):
        assert sandbox.hub.deliver_pending() == 0
    assert sandbox.hub.pending_count() == 0
    assert len(listener.posts("/n")) == 3
    (missed,) = listener.items("/life")
    assert missed["lifecycleEvent"] == "missed"
    assert missed["subscriptionId"] == sub["id"]
    assert missed["clientState"] == CLIENT_STATE
    assert missed["organizationId"] == seed.TENANT_ID
    assert me.get(f"/subscriptions/{sub['id']}").status_code == 200  # the subscription lives on


def test_lifecycle_events(sandbox: Sandbox, listener: Listener) -> None:
    me = sandbox.user()
    sub = created(subscribe(me, listener.url, "me/messages", lifecycleNotificationUrl=listener.url + "/life"))
    plain = created(subscribe(me, listener.url, "me/events"))
    assert sandbox.hub.send_lifecycle(sub["id"], "reauthorizationRequired") is True
    assert sandbox.hub.send_lifecycle(sub["id"], "missed") is True
    assert sandbox.hub.send_lifecycle(plain["id"], "missed") is False  # no lifecycle URL: nothing sent
    with pytest.raises(ValueError, match="unknown lifecycle event"):
        sandbox.hub.send_lifecycle(sub["id"], "renamed")
    assert sandbox.hub.send_lifecycle(sub["id"], "subscriptionRemoved") is True
    assert [i["lifecycleEvent"] for i in listener.items("/life")] == [
        "reauthorizationRequired",
        "missed",
        "subscriptionRemoved",
    ]
    for item in listener.items("/life"):
        assert item["subscriptionId"] == sub["id"]
        assert item["resource"] == "me/messages"
        assert item["subscriptionExpirationDateTime"] == sub["expirationDateTime"]
    assert me.get(f"/subscriptions/{sub['id']}").status_code == 404  # removed
    with pytest.raises(LookupError):
        sandbox.hub.send_lifecycle(sub["id"], "missed")


def test_expire_ends_a_subscription_and_its_notifications(sandbox: Sandbox, listener: Listener) -> None:
    me = sandbox.user()
    sub = created(subscribe(me, listener.url, "me/messages"))
    me.patch(f"/me/messages/{_first_inbox_id(sandbox)}", json={"isRead": True})
    assert sandbox.hub.pending_count() == 1
    assert sandbox.hub.expire(sub["id"]) is True
    assert sandbox.hub.pending_count() == 0
    assert me.get(f"/subscriptions/{sub['id']}").status_code == 404
    assert (
        me.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": in_minutes(60)}).status_code
        == 404
    )
    assert me.post(f"/subscriptions/{sub['id']}/reauthorize").status_code == 404
    me.patch(f"/me/messages/{_first_inbox_id(sandbox)}", json={"isRead": False})
    assert sandbox.hub.deliver_pending() == 0
    assert listener.posts() == []


def test_a_subscription_ends_when_the_sandbox_clock_passes_its_expiry(
    make_sandbox: Callable[..., Sandbox], listener: Listener
) -> None:
    clock = Clock()
    sandbox = make_sandbox(clock=clock)
    me = sandbox.user()
    sub = created(subscribe(me, listener.url, "me/messages", minutes=10))
    clock.offset += 9 * 60
    assert me.get(f"/subscriptions/{sub['id']}").status_code == 200
    clock.offset += 2 * 60
    assert me.get(f"/subscriptions/{sub['id']}").status_code == 404
    assert me.get("/subscriptions").json()["value"] == []
    me.patch(f"/me/messages/{_first_inbox_id(sandbox)}", json={"isRead": True})
    assert sandbox.hub.pending_count() == 0


def test_event_changes_in_a_calendar_subscription(sandbox: Sandbox, listener: Listener) -> None:
    me, app = sandbox.user(), sandbox.app()
    side = me.post("/me/calendars", json={"name": "Side projects"}).json()
    created(subscribe(me, listener.url + "/all", "me/events"))
    created(subscribe(app, listener.url + "/side", f"users/{USER['id']}/calendars/{side['id']}/events"))
    created(subscribe(me, listener.url + "/default", "me/calendar/events", "created"))
    when = {"start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"}}
    when["end"] = {"dateTime": "2026-12-01T11:00:00", "timeZone": "UTC"}
    in_default = me.post("/me/events", json={"subject": "Default", **when}).json()
    in_side = me.post(f"/me/calendars/{side['id']}/events", json={"subject": "Side", **when}).json()
    changed = me.patch(f"/me/events/{in_side['id']}", json={"subject": "Side, moved"}).json()
    assert me.delete(f"/me/events/{in_side['id']}").status_code == 204
    sandbox.hub.deliver_pending()

    def seen(path: str) -> list[tuple[str, str]]:
        return [(i["changeType"], i["resourceData"]["id"]) for i in listener.items(path)]

    assert seen("/all") == [
        ("created", in_default["id"]),
        ("created", in_side["id"]),
        ("updated", in_side["id"]),
        ("deleted", in_side["id"]),
    ]
    assert seen("/side") == seen("/all")[1:]
    assert seen("/default") == [("created", in_default["id"])]
    updated_item = listener.items("/side")[1]
    assert updated_item["resource"] == f"Users/{USER['id']}/Events/{in_side['id']}"
    assert updated_item["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
    assert updated_item["resourceData"]["@odata.etag"] == changed["@odata.etag"]


@pytest.mark.graph_nonconformant(
    "the Graph OpenAPI documents in ../shared/graph-openapi have no personal contacts module",
    match="contacts",
)
def test_contact_changes(sandbox: Sandbox, listener: Listener) -> None:
    me = sandbox.user()
    created(subscribe(me, listener.url, "me/contacts"))
    contact = me.post("/me/contacts", json={"givenName": "Ada", "surname": "Byron"}).json()
    me.patch(f"/me/contacts/{contact['id']}", json={"jobTitle": "Analyst"})
    me.delete(f"/me/contacts/{contact['id']}")
    assert sandbox.hub.deliver_pending() == 3
    items = listener.items()
    assert [i["changeType"] for i in items] == ["created", "updated", "deleted"]
    assert {i["resource"] for i in items} == {f"Users/{USER['id']}/Contacts/{contact['id']}"}
    assert items[0]["resourceData"]["@odata.type"] == "#Microsoft.Graph.Contact"


def test_mail_sent_to_a_subscribed_mailbox_is_notified(sandbox: Sandbox, listener: Listener) -> None:
    me, app = sandbox.user(), sandbox.app()
    created(subscribe(app, listener.url, f"users/{OTHER['id']}/mailFolders('inbox')/messages", "created"))
    mail = {"subject": "For you", "toRecipients": [{"emailAddress": {"address": OTHER["mail"]}}]}
    assert me.post("/me/sendMail", json={"message": mail}).status_code == 202
    assert sandbox.hub.deliver_pending() == 1
    (item,) = listener.items()
    delivered = app.get(f"/users/{OTHER['id']}/messages/{item['resourceData']['id']}").json()
    assert delivered["subject"] == "For you"


def test_the_background_thread_delivers_without_being_asked(
    make_sandbox: Callable[..., Sandbox], listener: Listener
) -> None:
    sandbox = make_sandbox(notification_interval=0.05)
    me = sandbox.user()
    created(subscribe(me, listener.url, "me/messages", "updated"))
    me.patch(f"/me/messages/{_first_inbox_id(sandbox)}", json={"isRead": True})
    assert listener.wait_for(lambda: len(listener.posts()) == 1, timeout=10)
    assert listener.items()[0]["changeType"] == "updated"
    assert sandbox.hub.deliver_pending() == 0  # waits for the thread's delivery to finish: nothing left
    assert sandbox.hub.pending_count() == 0


def test_reset_forgets_subscriptions(sandbox: Sandbox, listener: Listener) -> None:
    created(subscribe(sandbox.user(), listener.url, "me/messages"))
    sandbox.state.reset()
    assert sandbox.hub.list() == []


# -- admin endpoints ----------------------------------------------------------------------------------
def test_admin_endpoints(sandbox: Sandbox, listener: Listener) -> None:
    me = sandbox.user()
    sub = created(subscribe(me, listener.url, "me/messages", lifecycleNotificationUrl=listener.url + "/life"))
    me.patch(f"/me/messages/{_first_inbox_id(sandbox)}", json={"isRead": True})
    with httpx.Client(base_url=sandbox.server.url + "/_sandbox", timeout=10) as admin:
        listed = admin.get("/subscriptions").json()
        assert [s["id"] for s in listed["subscriptions"]] == [sub["id"]]
        assert listed["pending"] == 1
        assert admin.post("/subscriptions/deliver", json={}).json() == {"delivered": 1, "pending": 0}
        life = admin.post(f"/subscriptions/{sub['id']}/lifecycle", json={"event": "reauthorizationRequired"})
        assert life.json() == {"sent": True}
        assert admin.post(f"/subscriptions/{sub['id']}/lifecycle", json={"event": "nope"}).status_code == 400
        assert admin.post(f"/subscriptions/{sub['id']}/expire").json() == {"expired": True}
        assert admin.post(f"/subscriptions/{sub['id']}/expire").status_code == 404
        assert (
            admin.post(f"/subscriptions/{sub['id']}/lifecycle", json={"event": "missed"}).status_code == 404
        )
    assert [i["lifecycleEvent"] for i in listener.items("/life")] == ["reauthorizationRequired"]
