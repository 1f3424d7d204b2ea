"""Trigger instances' Graph reads are audited: one record per read pass (a notification batch, a
delta catch-up, a poll), caller ``trigger``, never per item, never a subject or an address."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from connections.sandbox import sandbox_connection
from connector.audit import AuditRecord, ReadPass, read_pass
from connector.errors import GraphError
from connector.http import GraphClient
from connector.runtime import Runtime
from connector.store import Store
from sandbox.server import SandboxServer
from tests.triggers.harness import Harness, harness
from triggers import polling
from triggers.delivery import CallbackDelivery, TriggerEvent

SUBJECT = "Board minutes: the Fabrikam offer (confidential)"
NOW = 1_800_000_000.0
INBOX = {"folder_id": "inbox", "change_types": ["created", "updated", "deleted"]}


def _trigger_records(store: Store) -> list[AuditRecord]:
    return [r for r in store.list_audit() if r.caller == "trigger"]


# -- the read pass at the HTTP boundary ---------------------------------------------------------------
def _graph(request: httpx.Request) -> httpx.Response:
    name = request.url.path.rsplit("/", 1)[-1]
    if name == "gone":
        return httpx.Response(
            404,
            headers={"request-id": "req-404"},
            json={"error": {"code": "ErrorItemNotFound", "message": f"no {SUBJECT}"}},
        )
    return httpx.Response(200, headers={"request-id": f"req-{name}"}, json={"id": name, "subject": SUBJECT})


@pytest.fixture
def client() -> Iterator[GraphClient]:
    made = GraphClient("https://graph.microsoft.com/v1.0", transport=httpx.MockTransport(_graph))
    yield made
    made.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db", clock=lambda: NOW) as opened:
        yield opened


def _pass(store: Store, principal: str = "instance-1") -> AbstractContextManager[ReadPass]:
    fields = {"action": "mail_message_webhook", "connection": "work", "mailbox": "me"}
    return read_pass(store, lambda: NOW, principal=principal, **fields)


def test_a_pass_of_many_reads_is_one_record_with_their_request_ids(client: GraphClient, store: Store) -> None:
    with _pass(store):
        for name in ("a", "b"):
            client.get_json(f"/me/messages/{name}")
        with _pass(store):  # the same instance's pass, nested: joins it
            client.get_json("/me/messages/c")
    [record] = store.list_audit()
    assert record.to_dict() == {
        "at": NOW,
        "caller": "trigger",
        "principal": "instance-1",
        "connection": "work",
        "mailbox": "me",
        "action": "mail_message_webhook",
        "category": "read",
        "decision": "allowed",
        "outcome": "ok",
        "approved_by": "",
        "approval_id": "",
        "error": "",
        "request_id": "req-a req-b req-c",
        "recipients": 0,
    }


def test_a_failed_pass_records_the_error_by_type_and_a_pass_that_read_nothing_none(
    client: GraphClient, store: Store
) -> None:
    with _pass(store, "instance-2"):
        pass  # nothing sent: nothing to audit
    assert store.list_audit() == []
    with pytest.raises(GraphError), _pass(store, "instance-3"):
        client.get_json("/me/messages/a")
        client.get_json("/me/messages/gone")
    [record] = store.list_audit()
    assert (record.principal, record.outcome, record.decision) == ("instance-3", "error", "allowed")
    assert record.error == "GraphError 404 ErrorItemNotFound"
    assert record.request_id == "req-a req-404"
    assert SUBJECT not in repr(record)


# -- webhook instances --------------------------------------------------------------------------------
@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as made:
        yield made


def test_a_notification_batch_is_one_record_and_its_delta_read_another(rig: Harness) -> None:
    instance = rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    [enabled] = _trigger_records(rig.store)  # the delta read that took the starting cursor
    assert enabled.action == "mail_message_webhook" and enabled.outcome == "ok"
    for n in range(3):
        rig.create_message(f"{SUBJECT} #{n}", toRecipients=[{"emailAddress": {"address": "ana@contoso.com"}}])
    assert rig.flush() == 3
    batch, catch_up = _trigger_records(rig.store)[1:]  # not one per notification
    for record in (batch, catch_up):
        assert (record.caller, record.principal, record.action) == (
            "trigger",
            instance.id,
            "mail_message_webhook",
        )
        assert (record.category, record.decision, record.outcome) == ("read", "allowed", "ok")
        assert record.connection == rig.connection.name
        assert record.mailbox == (rig.connection.default_mailbox or "me")
        assert record.recipients == 0 and record.error == ""
    assert len(batch.request_id.split()) == 3  # each message read once, one id each
    assert catch_up.request_id
    rows = rig.store.list_audit()
    assert SUBJECT not in repr(rows) and "ana@contoso.com" not in repr(rows)


def test_content_decrypted_from_rich_notifications_is_audited_though_graph_was_not_asked(
    rig: Harness,
) -> None:
    rich = {**INBOX, "include_resource_data": True}
    instance = rig.service.enable("mail_message_webhook", rig.connection.name, rich)
    before = len(_trigger_records(rig.store))
    rig.create_message(SUBJECT)
    rig.deliver()
    rig.service.process_pending()  # the batch, then the delta read after it
    records = _trigger_records(rig.store)[before:]
    batch = records[0]
    assert (batch.principal, batch.outcome, batch.request_id) == (instance.id, "ok", "")
    assert len(records) == 2 and records[1].request_id
    assert SUBJECT not in repr(records)


def test_a_catch_up_is_one_record(rig: Harness) -> None:
    instance = rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    rig.gate.down = True  # the notifications never arrive: the catch-up finds the changes
    for n in range(2):
        rig.create_message(f"{SUBJECT} #{n}")
    rig.deliver()
    before = len(_trigger_records(rig.store))
    assert rig.service.catch_up(instance.id) == 2
    [record] = _trigger_records(rig.store)[before:]
    assert (record.principal, record.outcome) == (instance.id, "ok") and record.request_id


# -- polling instances --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.mark.parametrize("kind", ["delegated", "app"])
def test_a_poll_of_several_pages_is_one_record_even_with_a_runtime_without_store(
    server: SandboxServer, store: Store, kind: str
) -> None:
    server.state.reset()
    connection = sandbox_connection(store, server.url, kind, name="poller")  # type: ignore[arg-type]
    events: list[TriggerEvent] = []
    with Runtime(strict_output=True) as runtime:  # audits through the store the poller is given
        instance = polling.create_instance(store, runtime, "poll_changes", connection.name, {})
        delivery = CallbackDelivery(events.append)
        polling.poll(store, runtime, delivery, instance.id, page_size=5)
        watch = runtime.trigger_plan("poll_changes", {}, connection).watches[0]
        folder = watch.delta_path.removesuffix("/delta")
        client = runtime.client_for(connection)
        for n in range(7):
            client.post_json(folder, {"subject": f"{SUBJECT} #{n}"})
        before = len(_trigger_records(store))
        assert polling.poll(store, runtime, delivery, instance.id, page_size=5).delivered == 7
    [record] = _trigger_records(store)[before:]
    assert (record.action, record.principal, record.connection) == ("poll_changes", instance.id, "poller")
    assert record.mailbox == (connection.default_mailbox or "me")
    assert record.outcome == "ok" and len(record.request_id.split()) >= 2  # two pages at least
    assert SUBJECT not in repr(store.list_audit())
