"""THE exactly-once test: 1,000 changes to the watched inbox through receiver outages, a ``missed``
event, an expired subscription and a host that refuses some deliveries; the host gets each change
exactly once.

What "each change" means. Graph (and the sandbox) report changes to an item, not every edit: a delta
catch-up returns an item once at its latest version, and a webhook item is enriched with the item
as it is when processed, so several updates made before processing arrive as one version. Let

- E be the inbox ids at enable time, N the ids that entered the inbox during the test (created there
  or moved in: a move gives a new id), D the ids that left it (deleted or moved away), S the ids
  there at the end, and versions(id) every changeKey the item had during the test.

Then the host must have received:

1. every id created in the inbox and still there: exactly one ``created`` event; an id moved in
   and still there: at most one ``created``, and it may come as ``updated`` instead when only a
   delta catch-up saw it (delta cannot tell a move from an update: the item keeps its
   ``createdDateTime``; see triggers/delta.py);
2. every item in S that was created or updated during the test: its final version (the last event
   of the id carries the final changeKey);
3. every id in D that existed at enable time or whose creation or update was delivered: exactly one
   ``deleted`` event; an id in N and D of which nothing was delivered (created and gone between two
   deliveries, so delta never saw it) at most one;
4. no duplicates: no (id, changeKey) twice, no id created twice or deleted twice, and every
   delivered version is one the item really had;
5. nothing about items the test did not touch.

The counts are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.triggers.harness import Harness, harness

TRIGGER = "mail_message_webhook"
TOTAL_CHANGES = 1000
INPUT = {"folder_id": "inbox", "change_types": ["created", "updated", "deleted"]}


class Model:
    """What the test did to the inbox, kept beside the sandbox."""

    def __init__(self, rig: Harness, rng: random.Random) -> None:
        self.rig = rig
        self.rng = rng
        self.existing = rig.folder_messages("inbox")
        self.live: dict[str, str] = dict(self.existing)  # inbox id -> changeKey now
        self.entered: set[str] = set()
        self.moved_in: set[str] = set()
        self.left: set[str] = set()
        self.touched: set[str] = set()
        self.versions: dict[str, set[str]] = defaultdict(set)
        self.outside: list[str] = []  # messages in the archive folder, to move in
        self.changes = Counter[str]()

    def _created(self, message: dict[str, Any]) -> None:
        self.live[message["id"]] = message["changeKey"]
        self.entered.add(message["id"])
        self.touched.add(message["id"])
        self.versions[message["id"]].add(message["changeKey"])

    def _gone(self, message_id: str) -> None:
        del self.live[message_id]
        self.left.add(message_id)
        self.touched.add(message_id)

    def one_change(self, number: int) -> None:
        roll = self.rng.random()
        if roll < 0.35 or len(self.live) < 5:
            self._created(self.rig.create_message(f"change {number}"))
            self.changes["create"] += 1
        elif roll < 0.70:
            target = self.rng.choice(sorted(self.live))
            updated = self.rig.update_message(
                target, isRead=self.rng.random() < 0.5, categories=[f"change {number}"]
            )
            self.live[target] = updated["changeKey"]
            self.touched.add(target)
            self.versions[target].add(updated["changeKey"])
            self.changes["update"] += 1
        elif roll < 0.82:
            target = self.rng.choice(sorted(self.live))
            self.rig.delete_message(target)
            self._gone(target)
            self.changes["delete"] += 1
        elif roll < 0.92 or not self.outside:
            target = self.rng.choice(sorted(self.live))
            moved = self.rig.move_message(target, "archive")
            self._gone(target)
            self.outside.append(moved["id"])
            self.changes["move out"] += 1
        else:
            source = self.outside.pop(self.rng.randrange(len(self.outside)))
            moved = self.rig.move_message(source, "inbox")
            self._created(moved)
            self.moved_in.add(moved["id"])
            self.changes["move in"] += 1

    def run(self, count: int, start: int, flush_every: int | None = None) -> int:
        for number in range(start, start + count):
            self.one_change(number)
            if flush_every and (number - start + 1) % flush_every == 0:
                settle(self.rig)
        return start + count


def settle(rig: Harness) -> None:
    """Deliver and process until nothing is left, moving the store clock past retry backoffs."""
    for _ in range(50):
        rig.flush()
        if rig.store.pending_notification_count() == 0 and rig.hub.pending_count() == 0:
            return
        rig.clock.advance(600)
    raise AssertionError("notifications still pending after 50 rounds")


def test_each_change_reaches_the_host_exactly_once(tmp_path: Path) -> None:
    with harness(tmp_path, messages_per_user=30) as rig:
        rng = random.Random(20261123)
        model = Model(rig, rng)
        instance = rig.service.enable(TRIGGER, rig.connection.name, INPUT)
        n = 0

        # 1. all up, processed as it goes
        n = model.run(250, n, flush_every=25)

        # 2. the receiver is down: the sandbox retries, then drops the batches (its own `missed`
        #    cannot reach the receiver either); once up again, one `missed` event is sent
        rig.gate.down = True
        n = model.run(250, n)
        for _ in range(200):
            rig.deliver()
            if rig.hub.pending_count() == 0:
                break
        assert rig.hub.pending_count() == 0 and rig.gate.refused > 0
        rig.gate.down = False
        [sub_id] = rig.subscription_ids()
        assert rig.hub.send_lifecycle(sub_id, "missed")
        settle(rig)

        # 3. the host refuses every 7th event once: retried with backoff, never doubled
        refused: set[str] = set()
        offered = Counter[str]()

        def refuse(event: Any) -> bool:
            offered["events"] += 1
            if event.dedupe_key in refused or offered["events"] % 7:
                return False
            refused.add(event.dedupe_key)
            return True

        rig.host.refuse = refuse
        n = model.run(200, n, flush_every=20)
        rig.host.refuse = lambda event: False
        settle(rig)
        assert rig.host.refusals > 0

        # 4. the subscription expires; changes nobody notifies; renew finds 404, recreates, catches up
        [sub_id] = rig.subscription_ids()
        rig.hub.expire(sub_id)
        n = model.run(150, n)
        assert rig.flush() == 0
        report = rig.service.renew_due(margin=timedelta(days=3))
        assert len(report.recreated) == 1 and report.caught_up > 0

        # 5. only the notification path fails: the sandbox drops batches and sends `missed` itself
        rig.gate.down, rig.gate.paths = True, ("/notifications",)
        n = model.run(150, n)
        for _ in range(200):
            rig.deliver()
            if rig.hub.pending_count() == 0:
                break
        rig.gate.down = False
        settle(rig)
        assert n == TOTAL_CHANGES

        # the end state agrees with the sandbox
        final = rig.folder_messages("inbox")
        assert final == model.live
        check(rig, model, final, instance.id)


def check(rig: Harness, model: Model, final: dict[str, str], instance_id: str) -> None:
    events = rig.host.events
    assert all(e.instance_id == instance_id for e in events)
    by_id: dict[str, list[Any]] = defaultdict(list)
    for event in events:
        by_id[event.resource_id].append(event)
    kinds = Counter(e.change_type for e in events)
    sources = Counter(e.source for e in events)

    # 5. nothing about untouched items
    assert set(by_id) <= model.touched
    # 4. no duplicates; every delivered version real
    versions = [
        (e.resource_id, (e.resource or {})["changeKey"]) for e in events if e.change_type != "deleted"
    ]
    assert len(versions) == len(set(versions))
    for resource_id, change_key in versions:
        assert change_key in model.versions[resource_id] or change_key == model.existing.get(resource_id)
    created = Counter(e.resource_id for e in events if e.change_type == "created")
    deleted = Counter(e.resource_id for e in events if e.change_type == "deleted")
    assert max(created.values(), default=1) == 1 and max(deleted.values(), default=1) == 1
    assert set(created) <= model.entered
    # 1. every created survivor once as created
    survivors_created = model.entered & set(final)
    made_here = survivors_created - model.moved_in
    wrong = {i: [(e.change_type, e.source) for e in by_id[i]] for i in made_here if created[i] != 1}
    assert not wrong, wrong
    moved_survivors = survivors_created & model.moved_in
    moved_as_created = sum(created[i] for i in moved_survivors)
    # 2. final version of every touched survivor
    touched_survivors = model.touched & set(final)
    for resource_id in touched_survivors:
        last = by_id[resource_id][-1]
        assert last.change_type != "deleted" and last.resource["changeKey"] == final[resource_id]
    # 3. deletions
    must_delete = {
        i for i in model.left if i in model.existing or any(e.change_type != "deleted" for e in by_id[i])
    }
    transient = model.left - must_delete
    missing = {i: [(e.change_type, e.source) for e in by_id[i]] for i in must_delete if deleted[i] != 1}
    assert not missing, missing
    assert all(deleted[i] <= 1 for i in transient)
    assert set(deleted) <= model.left

    print(
        f"\nexactly-once: {TOTAL_CHANGES} changes ({dict(model.changes)});"
        f" {len(events)} events delivered ({dict(kinds)}; by source {dict(sources)});"
        f" {len(made_here)} survivors created in the inbox each delivered once as created;"
        f" {len(moved_survivors)} moved-in survivors ({moved_as_created} as created, the rest as"
        f" updated by delta catch-up);"
        f" {len(touched_survivors)} touched survivors at their final version;"
        f" {len(must_delete)} deletions each delivered once,"
        f" {len(transient)} transient ids (created and gone unseen: {sum(deleted[i] for i in transient)}"
        f" deletions delivered); host refusals retried: {rig.host.refusals};"
        f" duplicate versions: {len(versions) - len(set(versions))}"
    )
