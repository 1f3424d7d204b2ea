"""Sync now, the daily catch-up, health that counts renewals and catch-ups, and backfills of webhook
instances (progress with rate and ETA, cancel within a page), on the sandbox with both connection
types. Notifications are "lost" by never letting the sandbox deliver them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from connector.errors import ConnectorError
from connector.runtime import Runtime
from connector.store import TriggerInstance
from tests.triggers.harness import Harness, harness
from triggers import polling
from triggers.delivery import CallbackDelivery, TriggerEvent
from triggers.health import health
from triggers.polling import PollProgress
from triggers.service import TriggerService

INBOX = {"folder_id": "inbox"}


@pytest.fixture(params=["delegated", "app"])
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with harness(tmp_path, request.param, messages_per_user=60) as made:
        yield made


def _instance(h: Harness, instance_id: str) -> TriggerInstance:
    found = h.store.get_trigger_instance(instance_id)
    assert found is not None
    return found


def _status(h: Harness, instance_id: str, at: float | None = None) -> str:
    instance = _instance(h, instance_id)
    now = h.clock() if at is None else at
    return health(instance.last_success_at, instance.last_error, instance.last_error_at, now).status


def _expire_soon(h: Harness, instance_id: str, seconds: float) -> None:
    """Bring the stored expiry of the instance's subscription to ``seconds`` from now."""
    instance = _instance(h, instance_id)
    watches = [{**w, "expires_at": time.time() + seconds} for w in instance.state["watches"]]
    assert h.store.update_trigger_state(instance_id, {**instance.state, "watches": watches})


def test_sync_delivers_what_notifications_lost_and_counts_only_new_changes(h: Harness) -> None:
    instance = h.service.enable("mail_message_webhook", h.connection.name, INBOX)
    made = [h.create_message(f"lost {n}")["id"] for n in range(3)]  # never delivered by the sandbox
    report = h.service.sync(instance.id)
    assert report.kind == "webhook" and report.delivered == 3
    assert [e.resource_id for e in h.host.events] == made and {e.source for e in h.host.events} == {"delta"}
    assert h.service.sync(instance.id).delivered == 0
    assert h.flush() == 0  # the late notifications are the same versions: deduped


def test_sync_renews_a_subscription_expiring_within_a_day_only(h: Harness) -> None:
    instance = h.service.enable("mail_message_webhook", h.connection.name, INBOX)
    [subscription] = h.subscription_ids()
    assert h.service.sync(instance.id).renewed == []  # ~70 h left
    _expire_soon(h, instance.id, 6 * 3600)
    report = h.service.sync(instance.id)
    assert report.renewed == [subscription] and report.recreated == []
    assert _instance(h, instance.id).state["watches"][0]["expires_at"] > time.time() + 60 * 3600
    h.hub.expire(subscription)  # Graph lost it
    _expire_soon(h, instance.id, 3600)
    again = h.service.sync(instance.id)
    assert again.renewed == [] and len(again.recreated) == 1 and h.subscription_ids() == again.recreated


def test_sync_leaves_the_renewal_to_a_worker_that_holds_it(h: Harness) -> None:
    from triggers.service import renewal_lease_name

    instance = h.service.enable("mail_message_webhook", h.connection.name, INBOX)
    _expire_soon(h, instance.id, 3600)
    lease = renewal_lease_name(instance.id)
    assert h.store.acquire_lease(lease, "another-worker", 600.0)
    made = h.create_message("lost")["id"]
    report = h.service.sync(instance.id)
    assert report.renewal_skipped and report.renewed == [] and report.delivered == 1
    assert h.host.events[-1].resource_id == made
    h.store.release_lease(lease, "another-worker")
    assert len(h.service.sync(instance.id).renewed) == 1


def test_sync_polls_a_polling_instance(h: Harness) -> None:
    instance = polling.create_instance(h.store, h.runtime, "poll_changes", h.connection.name, INBOX)
    first = h.service.sync(instance.id)
    assert (first.kind, first.status, first.delivered) == ("polling", "caught_up", 0)
    made = h.create_message("polled")["id"]
    assert h.service.sync(instance.id).delivered == 1 and h.host.events[-1].resource_id == made


def test_sync_refuses_a_paused_webhook_instance(h: Harness) -> None:
    instance = h.service.enable("mail_message_webhook", h.connection.name, INBOX)
    polling.pause(h.store, instance.id)
    with pytest.raises(ConnectorError, match="paused: resume it"):
        h.service.sync(instance.id)


def test_the_periodic_catch_up_delivers_a_lost_notification_on_a_quiet_mailbox(h: Harness) -> None:
    instance = h.service.enable("mail_message_webhook", h.connection.name, INBOX)
    lost = h.create_message("lost while the receiver was down")["id"]
    assert h.service.catch_up_due(timedelta(hours=24)) == {}  # enabled just now: not due
    assert h.host.events == []
    assert h.service.catch_up_due(timedelta(0)) == {instance.id: 1}
    assert [e.resource_id for e in h.host.events] == [lost]
    caught = _instance(h, instance.id).state["caught_up_at"]
    assert h.service.catch_up_due(timedelta(seconds=3600)) == {}  # caught up since
    assert caught > instance.created_at


def test_the_periodic_catch_up_leaves_an_instance_another_worker_holds(h: Harness) -> None:
    from triggers.service import renewal_lease_name

    instance = h.service.enable("mail_message_webhook", h.connection.name, INBOX)
    h.create_message("lost")
    lease = renewal_lease_name(instance.id)
    assert h.store.acquire_lease(lease, "another-worker", 600.0)
    assert h.service.catch_up_due(timedelta(0)) == {} and h.host.events == []
    h.store.release_lease(lease, "another-worker")
    assert h.service.catch_up_due(timedelta(0)) == {instance.id: 1}


def test_health_counts_enable_renewal_and_catch_up_as_syncs(h: Harness) -> None:
    """The store's clock moves (when successes are noted); health is judged a day later."""
    instance = h.service.enable("mail_message_webhook", h.connection.name, INBOX)
    start = h.clock()
    assert _status(h, instance.id) == "healthy"  # its subscription and cursor exist
    assert _status(h, instance.id, at=start + 26 * 3600) == "stale"  # if nothing else happened
    h.clock.advance(2 * 3600)
    _expire_soon(h, instance.id, 3600)
    assert h.service.renew_due().renewed  # the renewal is a sync...
    assert _status(h, instance.id, at=start + 26 * 3600) == "healthy"
    assert _status(h, instance.id, at=start + 28 * 3600) == "stale"
    h.clock.advance(2 * 3600)
    h.service.catch_up(instance.id)  # ...and so is a catch-up, with nothing new
    assert h.host.events == [] and _status(h, instance.id, at=start + 28 * 3600) == "healthy"


class _Frozen:
    """A clock that moves only when told (rates and ETAs that do not depend on the machine)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _backfill_service(h: Harness, clock: _Frozen | None = None) -> TriggerService:
    return TriggerService(
        h.store,
        h.runtime,
        CallbackDelivery(h.host),
        public_url=h.public_url,
        clock=clock or _Frozen(),
        page_size=10,
    )


def test_a_webhook_trigger_backfills_a_range_with_progress_rate_and_eta(h: Harness) -> None:
    clock = _Frozen()
    service = _backfill_service(h, clock)
    instance = service.enable("mail_message_webhook", h.connection.name, INBOX, backfill="all")
    backfill = _instance(h, instance.id).state["watches"][0]["backfill"]
    total = backfill["total"]
    assert backfill["status"] == "running" and total == len(h.folder_messages("inbox")) > 10
    seen: list[PollProgress] = []

    def progress(step: PollProgress) -> None:
        seen.append(step)
        clock.now += 2.0  # each page "takes" 2 s

    report = service.sync(instance.id, progress=progress)
    assert report.delivered == total == len({e.resource_id for e in h.host.events})
    assert {e.change_type for e in h.host.events} == {"created"}
    assert [p.items for p in seen] == sorted(p.items for p in seen) and seen[-1].items == total
    assert seen[-1].caught_up and seen[-1].eta_seconds == 0.0
    middle = seen[1]  # two pages read, 2 s after the first
    assert middle.items == 20 and middle.rate == pytest.approx(10.0) and middle.total == total
    assert middle.eta_seconds == pytest.approx((total - middle.items) / middle.rate)
    done = _instance(h, instance.id).state["watches"][0]["backfill"]
    assert done["status"] == "done" and done["delivered"] == total and done["pages"] == len(seen)
    later = h.create_message("after the backfill")["id"]
    assert service.sync(instance.id).delivered == 1 and h.host.events[-1].resource_id == later


def test_cancel_stops_a_webhook_backfill_after_the_page_it_is_on(h: Harness) -> None:
    service = _backfill_service(h)
    instance = service.enable("mail_message_webhook", h.connection.name, INBOX, backfill="all")

    def cancel_after_first_page(step: PollProgress) -> None:
        if step.pages == 1:
            polling.cancel(h.store, h.runtime, instance.id)

    service.sync(instance.id, progress=cancel_after_first_page)
    assert len(h.host.events) == 10  # the first page only
    watch = _instance(h, instance.id).state["watches"][0]
    assert watch["backfill"]["status"] == "cancelled" and watch["cursor"]
    assert service.sync(instance.id).delivered == 0  # from now on
    newer = h.create_message("after the cancel")["id"]
    assert service.sync(instance.id).delivered == 1 and h.host.events[-1].resource_id == newer


class _Watching(httpx.HTTPTransport):
    """The network, noting the instance's stored backfill status as each request leaves."""

    def __init__(self, h: Harness, instance_id: str) -> None:
        super().__init__()
        self.h, self.instance_id, self.seen = h, instance_id, []  # type: ignore[var-annotated]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        watch = _instance(self.h, self.instance_id).state["watches"][0]
        self.seen.append((request.url.path, watch["backfill"]["status"], watch["cursor"]))
        return super().handle_request(request)


def test_cancel_is_stored_before_its_own_delta_pass(h: Harness) -> None:
    """A cancel takes a cursor "from now" (a pass over the folder), but a running backfill must see
    the cancel at its next page, not after that pass."""
    instance = polling.create_instance(h.store, h.runtime, "poll_changes", h.connection.name, INBOX)

    def pause_after_first_page(step: PollProgress) -> None:
        if step.pages == 1:
            polling.pause(h.store, instance.id)

    sink = CallbackDelivery(lambda event: None)
    polling.poll(
        h.store, h.runtime, sink, instance.id, backfill="all", page_size=10, progress=pause_after_first_page
    )
    polling.resume(h.store, instance.id)
    watching = _Watching(h, instance.id)
    with Runtime(store=h.store, transport=watching) as runtime:
        polling.cancel(h.store, runtime, instance.id)
    assert watching.seen and all(
        status == "cancelled" and cursor is None for _, status, cursor in watching.seen
    )
    assert _instance(h, instance.id).state["watches"][0]["cursor"]


def test_the_worker_runs_the_periodic_catch_up_with_its_renewal_pass(h: Harness) -> None:
    import threading

    from triggers.worker import Worker

    h.service.enable("mail_message_webhook", h.connection.name, INBOX)
    lost = h.create_message("lost while the receiver was down")["id"]
    arrived = threading.Event()

    def accept(event: TriggerEvent) -> bool:
        if event.resource_id == lost:
            arrived.set()
        return False  # never refuse

    h.host.refuse = accept
    worker = Worker(h.service, renew_every=3600.0, catch_up_every=timedelta(0))
    worker.start(process=False)  # as `serve` and `triggers worker` run it
    try:
        assert arrived.wait(30), "the worker did not catch up"
    finally:
        worker.stop()
    assert [e.source for e in h.host.events] == ["delta"]
