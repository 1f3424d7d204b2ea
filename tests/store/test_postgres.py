"""What only the PostgreSQL store does: the receiver writes straight to the shared queue (no local
inbox), the CLI's ``--store``, and a URL's password never shows."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import ConfigurationError
from connector.store import ConnectionRecord, Store, TriggerInstance
from connector.webhooks import create_app

SECRET = "pg-receiver-client-state-0123456789abcdefghijklmn"
INSTANCE = "PgReceiverInstance0123456789abcdef"


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    with Store(postgres_url) as opened:
        opened.save_trigger_instance(
            TriggerInstance(
                id=INSTANCE, trigger_key="webhook", connection_name="work", config={}, client_state=SECRET
            )
        )
        yield opened


def _body(numbers: range, client_state: str = SECRET) -> dict[str, Any]:
    return {
        "value": [
            {"changeType": "created", "clientState": client_state, "resource": f"Users/u/Messages/m{n}"}
            for n in numbers
        ]
    }


def test_the_receiver_commits_to_postgresql_before_the_202(store: Store) -> None:
    assert store.inbox_dir is None and store.path is None
    client = create_app(store).test_client()
    answer = client.post(f"/hooks/{INSTANCE}/notifications", json=_body(range(3)))
    assert answer.status_code == 202
    with Store(store.url) as elsewhere:  # another node sees them at once
        rows = elsewhere.claim_notifications("w", limit=10)
    assert [row.item["resource"] for row in rows] == [f"Users/u/Messages/m{n}" for n in range(3)]
    assert all("clientState" not in row.item for row in rows)


def test_concurrent_posts_are_each_committed_whole(store: Store) -> None:
    app = create_app(store)
    statuses: list[int] = []

    def post(start: int) -> None:
        client = app.test_client()
        for batch in range(start, start + 100, 10):
            statuses.append(
                client.post(
                    f"/hooks/{INSTANCE}/notifications", json=_body(range(batch, batch + 10))
                ).status_code
            )

    threads = [threading.Thread(target=post, args=(n * 100,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [202] * 80
    rows = store.claim_notifications("w", limit=1000)
    resources = [row.item["resource"] for row in rows]
    assert sorted(resources) == sorted(f"Users/u/Messages/m{n}" for n in range(800))
    by_seq = {row.item["resource"]: row.seq for row in rows}
    for batch in range(0, 800, 10):  # a POST's items are queued together, in order
        seqs = [by_seq[f"Users/u/Messages/m{n}"] for n in range(batch, batch + 10)]
        assert seqs == list(range(seqs[0], seqs[0] + 10))


def test_items_for_an_instance_disabled_after_its_access_was_read_are_refused(store: Store) -> None:
    client = create_app(store, access_ttl=3600).test_client()
    assert client.post(f"/hooks/{INSTANCE}/notifications", json=_body(range(1))).status_code == 202
    store.set_trigger_status(INSTANCE, "disabled")  # the receiver still has the access cached
    answer = client.post(f"/hooks/{INSTANCE}/notifications", json=_body(range(1, 2)))
    assert answer.status_code == 404
    assert store.pending_notification_count(INSTANCE) == 1


def test_the_cli_store_option_selects_postgresql(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_STORE", "")  # the option sets it for the process: undone after
    with Store(postgres_url) as store:
        store.save_connection(ConnectionRecord("pg-work", "app_only", {"tenant": "contoso.com"}, {}))
    result = CliRunner().invoke(main, ["--store", postgres_url, "connections", "list", "--json"])
    assert result.exit_code == 0, result.output
    assert [row["name"] for row in json.loads(result.stdout)] == ["pg-work"]


def test_a_url_password_is_never_shown(postgres_url: str) -> None:
    with_password = postgres_url.replace("postgres@", "postgres:hunter2-secret@")
    with Store(with_password) as store:  # trust authentication ignores the password
        assert "hunter2" not in repr(store) and "hunter2" not in store.describe()
    wrong_port = with_password.replace("127.0.0.1:", "127.0.0.1:1")
    with pytest.raises(ConfigurationError, match="cannot connect to the PostgreSQL store") as refused:
        Store(wrong_port)
    assert "hunter2" not in str(refused.value)


def test_an_idle_worker_is_woken_by_an_enqueue_on_another_node(store: Store) -> None:
    from connector.runtime import Runtime
    from triggers.delivery import CallbackDelivery
    from triggers.service import TriggerService
    from triggers.worker import Worker

    store.set_trigger_status(INSTANCE, "disabled")  # its rows are completed without Graph calls
    pause = threading.Event()
    with Store(store.url) as elsewhere, Runtime() as runtime:
        service = TriggerService(store, runtime, CallbackDelivery(lambda event: None))
        worker = Worker(service, poll_every=3600.0).start(renew=False)  # no poll would come in time
        try:
            assert elsewhere.wait_for_notifications(0.0) is False  # nothing queued yet
            elsewhere.enqueue_notifications(INSTANCE, "change", [{"n": 1}, {"n": 2}])
            for _ in range(1200):  # bounded: a missed wake-up fails below instead of hanging
                if elsewhere.pending_notification_count() == 0:
                    break
                pause.wait(0.05)
            assert elsewhere.pending_notification_count() == 0
        finally:
            worker.stop()
