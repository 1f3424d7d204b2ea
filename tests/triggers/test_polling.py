"""poll_changes end to end on the sandbox: first poll from now, backfill with progress, exactly once
across a lost cursor write and a refusing host, pause/resume/cancel between pages, calendar windows,
bad input named before any request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connections.base import Connection
from connections.sandbox import sandbox_connection
from connector.errors import ConnectorError, InputValidationError
from connector.http import GraphClient
from connector.runtime import Runtime
from connector.store import Store
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from triggers import polling
from triggers.delivery import CallbackDelivery, TriggerEvent
from triggers.delta import estimate_total
from triggers.plan import Watch

PAGE = 25


class Sink:
    """Collects delivered events; ``refuse_at`` makes the n-th delivery (1-based) raise once."""

    def __init__(self, refuse_at: int | None = None) -> None:
        self.events: list[TriggerEvent] = []
        self.calls = 0
        self.refuse_at = refuse_at

    def __call__(self, event: TriggerEvent) -> None:
        self.calls += 1
        if self.refuse_at is not None and self.calls == self.refuse_at:
            self.refuse_at = None
            raise RuntimeError("host is down")
        self.events.append(event)

    @property
    def delivery(self) -> CallbackDelivery:
        return CallbackDelivery(self)

    def ids(self) -> list[str]:
        return [e.resource_id for e in self.events]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxConfig(http_notification_urls=True)) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(server: SandboxServer) -> None:
    server.state.reset()
    server.state.set_faults({})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db") as opened:
        yield opened


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with Runtime(strict_output=True) as rt:
        yield rt


@pytest.fixture(params=["delegated", "app"])
def connection(request: pytest.FixtureRequest, server: SandboxServer, store: Store) -> Connection:
    return sandbox_connection(store, server.url, request.param, name="poller")


def _new(store: Store, runtime: Runtime, connection: Connection, **config: Any) -> str:
    return polling.create_instance(store, runtime, "poll_changes", connection.name, config).id


def _watch(store: Store, runtime: Runtime, connection: Connection, instance_id: str) -> Watch:
    instance = store.get_trigger_instance(instance_id)
    assert instance is not None
    watch: Watch = runtime.trigger_plan(instance.trigger_key, dict(instance.config), connection).watches[0]
    return watch


def _client(runtime: Runtime, connection: Connection) -> GraphClient:
    return runtime.client_for(connection)


def _post_message(client: GraphClient, watch: Watch, subject: str) -> str:
    folder = watch.delta_path.removesuffix("/delta")
    return str(client.post_json(folder, {"subject": subject})["id"])


def test_first_poll_starts_from_now_and_each_change_goes_out_once(
    store: Store, runtime: Runtime, connection: Connection
) -> None:
    sink = Sink()
    instance_id = _new(store, runtime, connection, change_types=["created", "updated", "deleted"])
    first = polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert first.status == "caught_up" and first.delivered == 0 and sink.events == []

    client = _client(runtime, connection)
    watch = _watch(store, runtime, connection, instance_id)
    created = _post_message(client, watch, "polled")
    report = polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert report.delivered == 1 and sink.ids() == [created]
    assert sink.events[0].change_type == "created" and sink.events[0].source == "delta"
    assert sink.events[0].resource is not None and sink.events[0].resource["subject"] == "polled"

    assert polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE).delivered == 0
    mailbox = watch.delta_path.split("/mailFolders/")[0]
    client.patch_json(f"{mailbox}/messages/{created}", {"isRead": True})
    client.delete(f"{mailbox}/messages/{created}")
    polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert [e.change_type for e in sink.events] == ["created", "deleted"]  # the update was gone by the read
    instance = store.get_trigger_instance(instance_id)
    assert instance is not None and instance.last_success_at is not None and instance.last_error is None


def test_backfill_delivers_every_existing_item_of_the_range_once_with_progress(
    store: Store, runtime: Runtime, connection: Connection
) -> None:
    sink = Sink()
    instance_id = _new(store, runtime, connection)
    seen: list[polling.PollProgress] = []
    report = polling.poll(
        store, runtime, sink.delivery, instance_id, backfill="30d", progress=seen.append, page_size=PAGE
    )
    assert report.status == "caught_up"
    total = seen[0].total
    assert total is not None and total > PAGE  # several pages, and Graph's count known up front
    assert len(sink.events) == total == len(set(sink.ids()))
    assert all(e.change_type == "created" for e in sink.events)
    assert [p.items for p in seen] == sorted(p.items for p in seen) and seen[-1].items == total
    assert seen[-1].caught_up and not any(p.caught_up for p in seen[:-1]) and all(p.backfill for p in seen)
    assert report.backfill[0]["status"] == "done" and report.backfill[0]["delivered"] == total

    watch = _watch(store, runtime, connection, instance_id)
    client = _client(runtime, connection)
    newer = _post_message(client, watch, "after the backfill")
    assert polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE).delivered == 1
    assert sink.ids()[-1] == newer


def test_backfill_all_reads_more_than_30_days(store: Store, runtime: Runtime, connection: Connection) -> None:
    sink = Sink()
    instance_id = _new(store, runtime, connection)
    watch = _watch(store, runtime, connection, instance_id)
    everything = estimate_total(_client(runtime, connection), watch, None)
    month = estimate_total(_client(runtime, connection), watch, polling.backfill_since("30d", time.time()))
    assert everything is not None and month is not None and everything > month
    polling.poll(store, runtime, sink.delivery, instance_id, backfill="all", page_size=200)
    assert len(sink.events) == everything == len(set(sink.ids()))


def test_a_lost_cursor_write_rereads_the_page_and_the_dedupe_drops_repeats(
    store: Store, runtime: Runtime, connection: Connection
) -> None:
    """A crash after delivery but before the cursor was stored: the next poll starts from the older
    cursor again (restored here as the crash would have left it) and nothing goes out twice."""
    sink = Sink()
    instance_id = _new(store, runtime, connection)
    polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    before = store.get_trigger_instance(instance_id)
    assert before is not None
    watch = _watch(store, runtime, connection, instance_id)
    client = _client(runtime, connection)
    made = [_post_message(client, watch, f"m{i}") for i in range(3)]
    polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert sorted(sink.ids()) == sorted(made)
    store.update_trigger_state(instance_id, before.state)  # the cursor write never happened
    again = polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert again.items == 3 and again.delivered == 0 and sorted(sink.ids()) == sorted(made)


def test_a_refusing_host_keeps_the_cursor_and_the_next_poll_resumes_without_repeats(
    store: Store, runtime: Runtime, connection: Connection
) -> None:
    sink = Sink(refuse_at=PAGE + 3)  # on the second page
    instance_id = _new(store, runtime, connection)
    with pytest.raises(RuntimeError, match="host is down"):
        polling.poll(store, runtime, sink.delivery, instance_id, backfill="30d", page_size=PAGE)
    failed = store.get_trigger_instance(instance_id)
    assert failed is not None and failed.last_error and "host is down" in failed.last_error
    progress = failed.state["watches"][0]["backfill"]
    assert progress["status"] == "running" and progress["pages"] == 1 and progress["delivered"] == PAGE
    delivered_before = len(sink.events)
    assert delivered_before == PAGE + 2

    report = polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert report.status == "caught_up"
    total = progress["total"]
    assert len(sink.events) == total == len(set(sink.ids()))
    healed = store.get_trigger_instance(instance_id)
    assert healed is not None and healed.last_error is None


def test_pause_stops_between_pages_and_resume_continues_from_the_cursor(
    store: Store, runtime: Runtime, connection: Connection
) -> None:
    sink = Sink()
    instance_id = _new(store, runtime, connection)

    def pause_after_first_page(progress: polling.PollProgress) -> None:
        if progress.pages == 1:
            polling.pause(store, instance_id)

    report = polling.poll(
        store,
        runtime,
        sink.delivery,
        instance_id,
        backfill="30d",
        progress=pause_after_first_page,
        page_size=PAGE,
    )
    assert report.status == "paused" and report.pages == 1 and len(sink.events) == PAGE
    paused = polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert paused.status == "paused" and paused.pages == 0 and len(sink.events) == PAGE
    assert polling.resume(store, instance_id).status == "active"
    with pytest.raises(ConnectorError, match="not paused"):
        polling.resume(store, instance_id)

    done = polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert done.status == "caught_up" and done.backfill[0]["status"] == "done"
    assert len(sink.events) == done.backfill[0]["total"] == len(set(sink.ids()))


def test_cancel_ends_the_backfill_and_moves_the_cursor_to_now(
    store: Store, runtime: Runtime, connection: Connection
) -> None:
    sink = Sink()
    instance_id = _new(store, runtime, connection)

    def cancel_after_first_page(progress: polling.PollProgress) -> None:
        if progress.pages == 1:
            polling.cancel(store, runtime, instance_id)

    report = polling.poll(
        store,
        runtime,
        sink.delivery,
        instance_id,
        backfill="all",
        progress=cancel_after_first_page,
        page_size=PAGE,
    )
    assert report.status == "cancelled" and len(sink.events) == PAGE
    instance = store.get_trigger_instance(instance_id)
    assert instance is not None and instance.state["watches"][0]["backfill"]["status"] == "cancelled"
    assert polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE).delivered == 0
    with pytest.raises(ConnectorError, match="no backfill in progress"):
        polling.cancel(store, runtime, instance_id)

    newer = _post_message(
        _client(runtime, connection), _watch(store, runtime, connection, instance_id), "new"
    )
    assert polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE).delivered == 1
    assert sink.ids()[-1] == newer


def test_calendar_polling_sees_events_of_the_window(
    store: Store, runtime: Runtime, connection: Connection
) -> None:
    sink = Sink()
    instance_id = _new(
        store, runtime, connection, resource="events", days_back=0, days_ahead=30,
        change_types=["created", "updated", "deleted"],
    )  # fmt: skip
    polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    watch = _watch(store, runtime, connection, instance_id)
    assert watch.item_kind == "event" and set(watch.delta_params) == {"startDateTime", "endDateTime"}
    client = _client(runtime, connection)
    events = watch.delta_path.removesuffix("/calendarView/delta") + "/events"
    start = watch.delta_params["startDateTime"][:10]
    day = f"{start[:8]}{int(start[8:10]) + 2:02d}" if int(start[8:10]) < 26 else start
    made = client.post_json(
        events,
        {
            "subject": "polled meeting",
            "start": {"dateTime": f"{day}T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"{day}T11:00:00", "timeZone": "UTC"},
        },
    )
    polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert [(e.change_type, e.resource_id, e.item_kind) for e in sink.events] == [
        ("created", made["id"], "event")
    ]
    client.patch_json(f"{events}/{made['id']}", {"subject": "moved meeting"})
    polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    client.delete(f"{events}/{made['id']}")
    polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert [e.change_type for e in sink.events] == ["created", "updated", "deleted"]
    assert sink.events[1].resource is not None and sink.events[1].resource["subject"] == "moved meeting"


def test_a_calendar_window_that_moves_on_delivers_what_changed_in_the_new_window(
    store: Store, runtime: Runtime, connection: Connection
) -> None:
    """The window is anchored on the current day; a poll after it moved reads the new window at once
    and delivers only events changed since its last round (here the window moves by a config change,
    as it does by itself from one day to the next)."""
    from dataclasses import replace

    sink = Sink()
    instance_id = _new(store, runtime, connection, resource="events", days_back=0, days_ahead=3)
    polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    watch = _watch(store, runtime, connection, instance_id)
    start = datetime.fromisoformat(watch.delta_params["startDateTime"].replace("Z", "+00:00"))
    day = (start + timedelta(days=20)).strftime("%Y-%m-%d")
    far = _client(runtime, connection).post_json(
        watch.delta_path.removesuffix("/calendarView/delta") + "/events",
        {
            "subject": "beyond the first window",
            "start": {"dateTime": f"{day}T10:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"{day}T11:00:00", "timeZone": "UTC"},
        },
    )
    assert polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE).delivered == 0
    instance = store.get_trigger_instance(instance_id)
    assert instance is not None
    store.save_trigger_instance(replace(instance, config={**instance.config, "days_ahead": 60}))
    report = polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE)
    assert sink.ids() == [far["id"]] and report.status == "caught_up"
    assert polling.poll(store, runtime, sink.delivery, instance_id, page_size=PAGE).delivered == 0


def test_bad_input_is_named_before_any_request(
    store: Store, runtime: Runtime, connection: Connection
) -> None:
    with pytest.raises(InputValidationError, match="change_types"):
        _new(store, runtime, connection, change_types=["created", "created"])
    with pytest.raises(InputValidationError, match="resource"):
        _new(store, runtime, connection, resource="contacts")
    instance_id = _new(store, runtime, connection)
    with pytest.raises(InputValidationError, match="backfill"):
        polling.poll(store, runtime, Sink().delivery, instance_id, backfill="2w")
    instance = store.get_trigger_instance(instance_id)
    assert instance is not None and instance.state["watches"][0]["cursor"] is None  # nothing read
    polling.poll(store, runtime, Sink().delivery, instance_id, page_size=PAGE)
    with pytest.raises(InputValidationError, match=r"backfill.*first poll"):
        polling.poll(store, runtime, Sink().delivery, instance_id, backfill="30d")


def test_only_polling_triggers_poll(store: Store, runtime: Runtime, connection: Connection) -> None:
    with pytest.raises(ConnectorError, match="webhook trigger"):
        polling.create_instance(store, runtime, "mail_message_webhook", connection.name, {})
    with pytest.raises(ConnectorError, match="unknown trigger"):
        polling.create_instance(store, runtime, "nope", connection.name, {})
    with pytest.raises(ConnectorError, match="no trigger instance"):
        polling.poll(store, runtime, Sink().delivery, "missing")


# -- the CLI ------------------------------------------------------------------------------------------
def test_cli_poll_with_backfill_progress_pause_resume_cancel_and_connection_health(
    server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import re

    from click.testing import CliRunner, Result

    from connector.cli import main

    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)

    def cli(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    with Store() as home_store:
        sandbox_connection(home_store, server.url, "delegated", name="sb")
    listed = json.loads(cli("connections", "list", "--json").stdout)
    assert [(r["name"], r["status"]) for r in listed] == [("sb", "never synced")]

    polled = cli(
        "triggers", "poll", "poll_changes", "-c", "sb", "-i", '{"folder_id": "inbox"}', "--backfill", "30d"
    )
    assert polled.exit_code == 0, polled.stderr
    events = [json.loads(line) for line in polled.stdout.splitlines()]
    match = re.search(r"backfill \[[#-]+\] (\d+)/(\d+) items \(100%\)", polled.stderr)
    assert match is not None and match.group(1) == match.group(2) == str(len(events)), polled.stderr
    assert {e["change_type"] for e in events} == {"created"}
    assert len({e["resource_id"] for e in events}) == len(events)
    created = re.search(r"created polling instance (\S+) of poll_changes", polled.stderr)
    assert created is not None
    instance_id = created.group(1)
    assert "caught_up" in polled.stderr

    paused = cli("triggers", "pause", instance_id)
    assert paused.exit_code == 0 and json.loads(paused.stdout)["status"] == "paused"
    again = cli("triggers", "poll", instance_id)
    assert again.exit_code == 0 and again.stdout == "" and f"triggers resume {instance_id}" in again.stderr
    assert json.loads(cli("triggers", "resume", instance_id).stdout)["status"] == "active"
    assert cli("triggers", "poll", instance_id).stdout == ""  # nothing new: nothing delivered twice
    refused = cli("triggers", "cancel", instance_id)
    assert refused.exit_code == 1 and "no backfill in progress" in refused.stderr
    wrong = cli("triggers", "poll", instance_id, "--backfill", "all")
    assert wrong.exit_code == 2 and "backfill: applies to an instance's first poll" in wrong.stderr

    listed = json.loads(cli("connections", "list", "--json").stdout)
    assert [(r["name"], r["status"]) for r in listed] == [("sb", "healthy")]
    assert "healthy" in cli("connections", "list").stdout
