"""The real processor records a delivery in one transaction with its queue row's completion:

- a worker whose lease runs out while the host is still accepting an event (another worker claims
  the row meanwhile) does not make the host get it twice: its record is written, the new claimant
  (waiting on the instance's delivery lock) finds the version delivered and only completes the row;
- ``OutboxDelivery`` seals events into the store, read in order with ``events_after``; each
  version once, nothing left in the queue; the CLI's ``triggers outbox`` prints and prunes them.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import ConfigurationError
from connector.store import Store
from tests.triggers.harness import Harness, harness
from triggers.delivery import CallbackDelivery, OutboxDelivery, TriggerEvent
from triggers.service import TriggerService

INBOX = {"folder_id": "inbox", "change_types": ["created", "updated", "deleted"]}
WAIT = 60.0


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path) as made:
        yield made


def _claimed_by(store: Store) -> list[str | None]:
    with store.read() as db:
        return [row[0] for row in db.execute("SELECT claimed_by FROM trigger_queue").fetchall()]


def _until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) until ``condition`` holds: a state another thread reaches, not a time."""
    pause = threading.Event()
    for _ in range(int(WAIT * 100)):
        if condition():
            return
        pause.wait(0.01)
    raise AssertionError("the condition never held")


def test_a_claim_lost_while_the_host_is_slow_delivers_once(rig: Harness) -> None:
    rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    accepted: list[tuple[str, TriggerEvent]] = []
    entered, release = threading.Event(), threading.Event()

    def slow_host(event: TriggerEvent) -> None:
        entered.set()
        assert release.wait(WAIT)  # the test lets it go once the row has a new claimant
        accepted.append(("a", event))

    def quick_host(event: TriggerEvent) -> None:
        accepted.append(("b", event))

    def service(worker: str, host: Callable[[TriggerEvent], None]) -> TriggerService:
        return TriggerService(rig.store, rig.runtime, CallbackDelivery(host), worker=worker, lease_seconds=30)

    a, b = service("a", slow_host), service("b", quick_host)
    message = rig.create_message("the host is slow")
    assert rig.deliver() == 1
    done: dict[str, int] = {}
    first = threading.Thread(target=lambda: done.update(a=a.process_pending()))
    first.start()
    assert entered.wait(WAIT)  # a holds the instance's delivery lock, inside the host's call
    rig.clock.advance(31)  # ... so long that its lease on the row runs out
    second = threading.Thread(target=lambda: done.update(b=b.process_pending()))
    second.start()
    _until(lambda: _claimed_by(rig.store) == ["b"])  # b claimed the row again
    release.set()
    first.join(WAIT)
    second.join(WAIT)

    assert [(worker, e.resource_id, e.change_type) for worker, e in accepted] == [
        ("a", message["id"], "created")
    ]
    assert done == {"a": 1, "b": 1}  # each handled the row; only b, its claimant, completed it
    assert rig.store.pending_notification_count() == 0


def test_a_failed_row_is_not_released_by_a_worker_that_lost_its_claim(rig: Harness) -> None:
    rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    entered, release = threading.Event(), threading.Event()

    def refusing_host(event: TriggerEvent) -> None:
        entered.set()
        assert release.wait(WAIT)
        raise RuntimeError("the host refused")

    a = TriggerService(rig.store, rig.runtime, CallbackDelivery(refusing_host), worker="a", lease_seconds=30)
    rig.create_message("refused late")
    rig.deliver()
    first = threading.Thread(target=a.process_pending)
    first.start()
    assert entered.wait(WAIT)
    rig.clock.advance(31)
    [row] = rig.store.claim_notifications("b", lease_seconds=300)  # b holds it now
    release.set()
    first.join(WAIT)
    assert _claimed_by(rig.store) == ["b"]  # a's retry did not release b's claim
    assert rig.store.finish_notification(row.seq, "b") == []


def test_the_outbox_holds_each_version_once_in_order(rig: Harness) -> None:
    outbox = TriggerService(rig.store, rig.runtime, OutboxDelivery(rig.store), public_url=rig.public_url)
    instance = outbox.enable("mail_message_webhook", rig.connection.name, INBOX)
    kept = rig.create_message("kept")
    gone = rig.create_message("gone")
    rig.deliver()
    outbox.process_all()
    rig.update_message(kept["id"], isRead=True)
    rig.delete_message(gone["id"])
    rig.deliver()
    rig.deliver()  # a second round: nothing new
    outbox.process_all()
    outbox.catch_up(instance.id)  # delta sees the same versions: deduped, no event

    events = outbox.events_after(0, 100)
    assert rig.host.events == []  # nothing went to a callback
    assert [(e.resource_id, e.change_type) for _, e in events] == [
        (kept["id"], "created"),
        (gone["id"], "created"),
        (kept["id"], "updated"),
        (gone["id"], "deleted"),
    ]
    positions = [position for position, _ in events]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert Counter(e.dedupe_key for _, e in events).most_common(1)[0][1] == 1
    assert events[0][1].instance_id == instance.id and events[0][1].resource is not None
    assert outbox.events_after(positions[1], 100) == events[2:]
    assert rig.store.pending_notification_count() == 0
    assert outbox.prune_events(positions[1]) == 2
    assert [position for position, _ in outbox.events_after()] == positions[2:]


def test_the_outbox_must_be_the_processing_store(rig: Harness, tmp_path: Path) -> None:
    from triggers.processor import deliver_changes

    with Store(tmp_path / "other.db") as other:
        with pytest.raises(ConfigurationError, match="OutboxDelivery must seal into the store"):
            TriggerService(rig.store, rig.runtime, OutboxDelivery(other), public_url=rig.public_url)
        instance = rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
        with pytest.raises(ConfigurationError):  # polling and catch-ups check it too
            deliver_changes(rig.store, OutboxDelivery(other), instance, [], "delta")
    # the same database opened again is the same outbox
    with Store(rig.store.path) as again:
        TriggerService(rig.store, rig.runtime, OutboxDelivery(again))


def test_the_cli_prints_the_outbox_and_prunes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_STORE", raising=False)
    monkeypatch.delenv("OUTLOOK_CONNECTOR_KEY", raising=False)
    from connector.store import TriggerInstance

    with Store() as store:
        instance = TriggerInstance.new("webhook", "work", {}, {}, store.clock())
        store.save_trigger_instance(instance)
        for n in range(3):
            store.commit_delivery(instance.id, [f"k{n}"], event={"dedupe_key": f"k{n}"})
    runner = CliRunner()
    printed = runner.invoke(main, ["triggers", "outbox", "--limit", "2", "--prune"])
    assert printed.exit_code == 0, printed.output
    lines = [json.loads(line) for line in printed.stdout.splitlines()]
    assert [line["event"]["dedupe_key"] for line in lines] == ["k0", "k1"]
    rest = runner.invoke(main, ["triggers", "outbox", "--after", str(lines[-1]["position"])])
    assert [json.loads(line)["event"]["dedupe_key"] for line in rest.stdout.splitlines()] == ["k2"]
    with Store() as store:
        assert [e.dedupe_key for e in store.read_trigger_events()] == ["k2"]  # k0, k1 pruned
    refused = runner.invoke(main, ["triggers", "outbox", "--after", "-1"])
    assert refused.exit_code != 0 and "--after" in refused.output


def test_a_notification_without_a_usable_item_id_is_dropped_not_retried_forever(rig: Harness) -> None:
    instance = rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    subscription_id = instance.state["watches"][0]["subscription_id"]
    bad = [
        {"subscriptionId": subscription_id, "changeType": "deleted", "resourceData": {"id": "m\x001"}},
        {"subscriptionId": subscription_id, "changeType": "deleted", "resource": ""},
        {"subscriptionId": subscription_id, "changeType": "deleted", "resourceData": {"id": "m" * 1001}},
    ]
    rig.store.enqueue_notifications(instance.id, "change", bad)
    assert rig.service.process_pending() == 3
    assert rig.host.events == [] and rig.store.pending_notification_count() == 0


def test_a_hold_left_by_a_worker_that_died_does_not_stall_the_item(rig: Harness) -> None:
    """A row whose earlier failure held its item's later notifications was completed (in its
    delivery record) by a worker killed before it forgot the hold: the next notification of the
    item finds the held row gone and goes out."""
    from triggers.notifications import _HELD

    instance = rig.service.enable("mail_message_webhook", rig.connection.name, INBOX)
    message = rig.create_message("held once")
    rig.deliver()
    rig.store.absorb_inbox()  # the receiver's inbox into the queue, as a claim does first
    with rig.store.read() as db:
        [(earlier,)] = db.execute("SELECT seq FROM trigger_queue").fetchall()
    assert rig.service.process_pending() == 1  # the row the hold names is completed...
    rig.store.kv_add(_HELD, f"{instance.id}\n{message['id']}", earlier)  # ... but its hold is left
    rig.update_message(message["id"], isRead=True)
    rig.deliver()
    assert rig.service.process_pending() == 1
    assert [(e.resource_id, e.change_type) for e in rig.host.events] == [
        (message["id"], "created"),
        (message["id"], "updated"),
    ]
    assert rig.store.kv_get(_HELD, f"{instance.id}\n{message['id']}") is None


def test_the_worker_command_delivers_into_the_outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``outlook-connector triggers worker --deliver-to store`` as a process: events go to the
    store's outbox (nothing on stdout), where a host reads them."""
    from connections.sandbox import sandbox_connection
    from connector.runtime import Runtime
    from sandbox.config import SandboxConfig
    from sandbox.server import SandboxServer
    from tests.triggers.test_triggers_cli import Process, _create_message
    from triggers.worker import Receiver

    home = tmp_path / "home"
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(home))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_STORE", raising=False)
    config = SandboxConfig(messages_per_user=5, notification_interval=0.0, http_notification_urls=True)
    with SandboxServer(config) as server, Store(home / "state.db") as store, Receiver(store) as receiver:
        sandbox_connection(store, server.url, "app", name="graph")
        runtime = Runtime(store=store)
        enabler = TriggerService(store, runtime, CallbackDelivery(print), public_url=receiver.url)
        instance = enabler.enable("mail_message_webhook", "graph", INBOX)
        worker = Process(["triggers", "worker", "--deliver-to", "store", "--catch-up-hours", "0"], home)
        try:
            worker.stderr_line("trigger worker running")
            message = _create_message(server.graph_url, server.url, "into the outbox")
            assert server.state.subscriptions.deliver_pending() == 1
            _until(lambda: bool(store.read_trigger_events()))
            [(_, event)] = enabler.events_after()
            assert (event.instance_id, event.resource_id, event.change_type) == (
                instance.id,
                message["id"],
                "created",
            )
            assert worker.interrupt() == 0
            assert worker.stdout.empty()  # nothing printed: the outbox has it
        finally:
            worker.kill()
            runtime.close()
