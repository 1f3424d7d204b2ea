"""Two gunicorn workers sharing the store lose and repeat nothing.

gunicorn (2 gthread workers) serves ``connector.webhooks:create_app()`` with the store taken from
OUTLOOK_CONNECTOR_HOME / OUTLOOK_CONNECTOR_KEY, exactly as deployed. Many concurrent POSTs carry
2,000 good items, some sent twice on purpose (Graph redelivers) and some with a forged clientState.
Then two processes drain the queue at the same time, dedupe with ``mark_delivered`` and complete.
Every good item must be delivered exactly once, no forged one ever, and no queue row may be handed
to both processes.
"""

from __future__ import annotations

import base64
import multiprocessing
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.store import Store, TriggerInstance
from triggers.delivery import dedupe_key

pytest.importorskip("gunicorn", reason="gunicorn is not installed (pip install -e '.[dev]')")
if os.name != "posix":  # pragma: no cover
    pytest.skip("gunicorn runs on POSIX systems only", allow_module_level=True)

from bench._gunicorn import Gunicorn

INSTANCE = "GunicornTwoWorkers0123456789abcd"
SECRET = "two-workers-client-state-secret-0123456789abcdef"
GOOD = 2_000
BATCH = 10


def _item(resource_id: str, client_state: str) -> dict[str, Any]:
    return {
        "subscriptionId": "0f2b5a39-0000-4000-8000-000000000001",
        "subscriptionExpirationDateTime": "2026-11-25T10:00:00.0000000Z",
        "changeType": "created",
        "clientState": client_state,
        "resource": f"Users/u1/Messages/{resource_id}",
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Message",
            "@odata.id": f"Users/u1/Messages/{resource_id}",
            "@odata.etag": 'W/"CQAAABYAAAAA"',
            "id": resource_id,
        },
        "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
    }


def _bodies() -> tuple[list[dict[str, Any]], int]:
    """POST bodies: good items in batches of 10 (every 7th batch has 3 forged items mixed in),
    every 10th batch sent twice, and some all-forged batches. Returns (bodies, good items posted)."""
    bodies: list[dict[str, Any]] = []
    posted = 0
    for batch, start in enumerate(range(0, GOOD, BATCH)):
        items = [_item(f"good-{n}", SECRET) for n in range(start, start + BATCH)]
        if batch % 7 == 0:
            items[2:2] = [_item(f"forged-{batch}-{k}", "not-the-secret-" + "x" * 33) for k in range(3)]
        copies = 2 if batch % 10 == 0 else 1
        bodies.extend({"value": items} for _ in range(copies))
        posted += BATCH * copies
    bodies.extend({"value": [_item(f"forged-only-{n}", SECRET[:-1] + "?")]} for n in range(20))
    return bodies, posted


def _drain(path: str, worker: str, ready: Any, start: Any, out: Any) -> None:
    """Claim until the queue is empty; dedupe and complete each row. Sends (seq, resource, first)."""
    got: list[tuple[int, str, bool]] = []
    with Store(path) as store:
        store.pending_notification_count()
        ready.put(worker)
        start.wait(30)
        while batch := store.claim_notifications(worker, limit=25, lease_seconds=120):
            for row in batch:
                resource_id = row.item["resourceData"]["id"]
                key = dedupe_key(row.instance_id, resource_id, row.item["changeType"], "v1")
                got.append((row.seq, resource_id, store.mark_delivered(row.instance_id, key)))
                store.complete_notification(row.seq)
    out.put(got)


def test_two_gunicorn_workers_sharing_the_store_lose_and_repeat_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    env = {
        "OUTLOOK_CONNECTOR_HOME": str(home),
        "OUTLOOK_CONNECTOR_KEY": base64.b64encode(os.urandom(32)).decode(),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with Store() as store:
        store.save_trigger_instance(
            TriggerInstance(
                id=INSTANCE, trigger_key="webhook", connection_name="work", config={}, client_state=SECRET
            )
        )
    path = str(home / "state.db")

    bodies, posted = _bodies()
    with Gunicorn("connector.webhooks:create_app()", workers=2, threads=4, env=env) as server:
        assert len(set(server.worker_pids)) == 2
        url = f"{server.url}/hooks/{INSTANCE}/notifications"
        with httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=16)) as client:

            def post(body: dict[str, Any]) -> int:
                return client.post(url, json=body).status_code

            with ThreadPoolExecutor(16) as pool:
                statuses = Counter(pool.map(post, bodies))
        assert statuses == Counter({202: len(bodies)}), server.log()
        assert "dropped 3 of 13" in server.log() and SECRET not in server.log()

    with Store(path) as store:
        assert store.pending_notification_count(INSTANCE) == posted  # each accepted item, once per POST

    ctx = multiprocessing.get_context("spawn")
    ready, start, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    workers = [ctx.Process(target=_drain, args=(path, f"drain-{n}", ready, start, out)) for n in range(2)]
    for process in workers:
        process.start()
    assert sorted(ready.get(timeout=60) for _ in workers) == ["drain-0", "drain-1"]
    start.set()
    results = [out.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(30)
        assert process.exitcode == 0

    rows = [row for result in results for row in result]
    seqs = [seq for seq, _, _ in rows]
    assert len(seqs) == posted and len(set(seqs)) == posted  # no row handed to both drainers
    delivered = Counter(resource for _, resource, first in rows if first)
    assert set(delivered) == {f"good-{n}" for n in range(GOOD)}  # nothing lost, nothing forged
    assert set(delivered.values()) == {1}  # nothing repeated, duplicates included
    with Store(path) as store:
        assert store.pending_notification_count() == 0
