"""The notification receiver: validation handshakes, refusals, clientState checks, and items
written to the store before the 202 answer (a failed write answers 5xx so Graph sends again)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, run_wsgi_app

from connector.store import Store, TriggerInstance
from connector.webhooks import create_app

SECRET = "Cs-7hR2-secret-client-state-do-not-leak-xyz0123456789"
WRONG = "forged-client-state-value-also-not-to-be-logged-0000"
INSTANCE = "AbCdEfGhIjKlMnOpQrStUvWxYz012345"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OUTLOOK_CONNECTOR_KEY", raising=False)
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path / "home"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db", busy_timeout=0.2) as opened:
        opened.save_trigger_instance(
            TriggerInstance(
                id=INSTANCE, trigger_key="webhook", connection_name="work", config={}, client_state=SECRET
            )
        )
        yield opened


@pytest.fixture
def app(store: Store) -> Flask:
    return create_app(store, max_body_bytes=20_000)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _item(n: int, client_state: str | None = SECRET, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "subscriptionId": "5a1e0c5d-0000-4d4e-9a8c-000000000001",
        "subscriptionExpirationDateTime": "2026-11-25T10:00:00.0000000Z",
        "changeType": "created",
        "resource": f"Users/u1/Messages/AAMk{n}",
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Message",
            "@odata.id": f"Users/u1/Messages/AAMk{n}",
            "@odata.etag": f'W/"CQAAABYAAA{n}"',
            "id": f"AAMk{n}",
        },
        "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
        **extra,
    }
    if client_state is not None:
        item["clientState"] = client_state
    return item


def _queued(store: Store) -> list[tuple[str, dict[str, Any]]]:
    return [(q.kind, q.item) for q in store.claim_notifications("test", limit=1000)]


# -- validation handshake ------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ["notifications", "lifecycle"])
def test_validation_handshake_echoes_the_decoded_token(client: FlaskClient, store: Store, route: str) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 1+2/3=4&x"
    response = client.post(
        f"/hooks/{INSTANCE}/{route}?validationToken={quote(token, safe='')}",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == token
    assert store.pending_notification_count() == 0


def test_validation_for_an_unknown_or_disabled_instance_is_404(client: FlaskClient, store: Store) -> None:
    assert (
        client.post("/hooks/NoSuchInstance0000000000000000/notifications?validationToken=t").status_code
        == 404
    )
    store.set_trigger_status(INSTANCE, "disabled")
    assert client.post(f"/hooks/{INSTANCE}/notifications?validationToken=t").status_code == 404
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(1)]}).status_code == 404
    assert store.pending_notification_count() == 0


# -- refusals --------------------------------------------------------------------------------------------
def test_unknown_instance_is_404(client: FlaskClient, store: Store) -> None:
    for instance in ("NoSuchInstance0000000000000000", "bad.chars!", "x" * 201):
        response = client.post(f"/hooks/{instance}/notifications", json={"value": [_item(1)]})
        assert response.status_code == 404, instance
    assert store.pending_notification_count() == 0


def test_body_over_the_limit_is_413_by_content_length_and_by_streamed_read(
    app: Flask, client: FlaskClient, store: Store
) -> None:
    big = b'{"value": [' + b" " * 30_000 + b"]}"
    assert client.post(f"/hooks/{INSTANCE}/notifications", data=big).status_code == 413

    class Endless(io.RawIOBase):  # a chunked body with no Content-Length that never ends
        read_bytes = 0

        def readinto(self, buffer: Any) -> int:
            n = len(buffer)
            buffer[:n] = b" " * n
            self.read_bytes += n
            return n

        def readable(self) -> bool:
            return True

    endless = Endless()
    environ = EnvironBuilder(
        path=f"/hooks/{INSTANCE}/notifications",
        method="POST",
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
    ).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BufferedReader(endless)
    environ["wsgi.input_terminated"] = True  # as gunicorn says for a chunked body
    _, status, _ = run_wsgi_app(app.wsgi_app, environ, buffered=True)
    response = SimpleNamespace(status_code=int(status.split()[0]))
    assert response.status_code == 413
    assert endless.read_bytes < 200_000  # stopped reading soon after the limit
    assert store.pending_notification_count() == 0


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b"[]", b'{"value": {}}', b'{"items": []}', b'{"value": [1, 2]}', b"null"],
)
def test_malformed_or_unexpected_json_is_400(client: FlaskClient, store: Store, body: bytes) -> None:
    response = client.post(
        f"/hooks/{INSTANCE}/notifications", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert store.pending_notification_count() == 0


# -- clientState -----------------------------------------------------------------------------------------
def test_wrong_client_state_is_dropped_and_logged_without_the_secret(
    client: FlaskClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"value": [_item(1), _item(2, WRONG), _item(3, None), _item(4, SECRET[:-1]), _item(5)]}
    response = client.post(f"/hooks/{INSTANCE}/notifications", json=body)
    assert response.status_code == 202
    queued = _queued(store)
    assert [item["resourceData"]["id"] for _, item in queued] == ["AAMk1", "AAMk5"]
    assert all("clientState" not in item for _, item in queued)  # the secret is not kept in the queue
    assert "dropped 3 of 5" in caplog.text
    assert SECRET not in caplog.text and WRONG not in caplog.text and SECRET[:20] not in caplog.text


def test_a_batch_with_only_forged_items_queues_nothing(client: FlaskClient, store: Store) -> None:
    response = client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(1, WRONG)]})
    assert response.status_code == 202  # nothing to retry for Graph, nothing learned by a forger
    assert store.pending_notification_count() == 0


# -- enqueue before answering ---------------------------------------------------------------------------
def test_items_are_in_the_store_when_202_is_sent(store: Store) -> None:
    seen: list[tuple[str, int]] = []
    app = create_app(store, on_enqueued=lambda inst: seen.append((inst, store.pending_notification_count())))
    response = app.test_client().post(
        f"/hooks/{INSTANCE}/notifications", json={"value": [_item(1), _item(2)]}
    )
    assert response.status_code == 202
    assert seen == [(INSTANCE, 2)]  # durable before the callback, before the answer
    written = b"".join(path.read_bytes() for path in store.inbox_dir.iterdir())
    assert b"AAMk1" in written and SECRET.encode() not in written  # the secret is never written
    assert [item for _, item in _queued(store)] == [
        {k: v for k, v in _item(n).items() if k != "clientState"} for n in (1, 2)
    ]


def test_a_failing_callback_does_not_lose_the_answer(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    def broken(instance_id: str) -> None:
        raise RuntimeError("wake-up failed")

    app = create_app(store, on_enqueued=broken)
    response = app.test_client().post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(1)]})
    assert response.status_code == 202
    assert store.pending_notification_count() == 1
    assert "on_enqueued callback failed" in caplog.text


def test_a_failed_write_answers_503_and_writes_nothing(
    client: FlaskClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store.inbox_dir.write_text("not a folder")  # the inbox cannot be written
    body = {"value": [_item(1), _item(2), _item(3)]}
    response = client.post(f"/hooks/{INSTANCE}/notifications", json=body)
    assert response.status_code == 503
    assert "could not store 3 notification(s)" in caplog.text and SECRET not in caplog.text
    store.inbox_dir.unlink()
    assert store.pending_notification_count() == 0  # nothing half written
    assert client.post(f"/hooks/{INSTANCE}/notifications", json=body).status_code == 202  # Graph's retry
    assert [item["resourceData"]["id"] for _, item in _queued(store)] == ["AAMk1", "AAMk2", "AAMk3"]


def test_lifecycle_items_and_rich_validation_tokens(client: FlaskClient, store: Store) -> None:
    lifecycle = {
        "subscriptionId": "5a1e0c5d-0000-4d4e-9a8c-000000000001",
        "subscriptionExpirationDateTime": "2026-11-25T10:00:00.0000000Z",
        "lifecycleEvent": "reauthorizationRequired",
        "resource": "users/u1/messages",
        "clientState": SECRET,
        "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
    }
    assert client.post(f"/hooks/{INSTANCE}/lifecycle", json={"value": [lifecycle]}).status_code == 202
    rich = _item(7, encryptedContent={"data": "ZGF0YQ==", "dataKey": "a2V5", "dataSignature": "c2ln"})
    body = {"value": [rich], "validationTokens": ["eyJhbGciOiJSUzI1NiJ9.e30.sig"]}
    assert client.post(f"/hooks/{INSTANCE}/notifications", json=body).status_code == 202
    queued = _queued(store)
    assert [kind for kind, _ in queued] == ["lifecycle", "change"]
    assert queued[0][1]["lifecycleEvent"] == "reauthorizationRequired"
    assert queued[1][1]["validationTokens"] == ["eyJhbGciOiJSUzI1NiJ9.e30.sig"]
    assert queued[1][1]["encryptedContent"]["data"] == "ZGF0YQ=="


def test_items_are_queued_in_the_order_graph_sent_them(client: FlaskClient, store: Store) -> None:
    body = {"value": [_item(n) for n in (7, 3, 9, 1, 5, 2, 8, 4, 6, 0)]}
    assert client.post(f"/hooks/{INSTANCE}/notifications", json=body).status_code == 202
    assert [item["resourceData"]["id"] for _, item in _queued(store)] == [
        f"AAMk{n}" for n in (7, 3, 9, 1, 5, 2, 8, 4, 6, 0)
    ]


# -- the per-process clientState cache never lets in what the stored instance refuses -------------------
def test_a_disabled_or_deleted_instance_is_404_once_its_access_is_read_again(store: Store) -> None:
    client = create_app(store, access_ttl=0).test_client()  # read on every request
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(1)]}).status_code == 202
    store.set_trigger_status(INSTANCE, "disabled")  # e.g. by another process
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(2)]}).status_code == 404
    assert (
        client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(3, WRONG)]}).status_code == 404
    )
    store.set_trigger_status(INSTANCE, "active")
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(4)]}).status_code == 202
    store.delete_trigger_instance(INSTANCE)
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(5)]}).status_code == 404
    assert store.pending_notification_count() == 0  # deleting the instance dropped 1 and 4


def test_items_accepted_from_the_cache_after_a_disable_or_delete_are_never_queued(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    client = create_app(store, access_ttl=3600).test_client()
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(1)]}).status_code == 202
    assert [item["resourceData"]["id"] for _, item in _queued(store)] == ["AAMk1"]
    store.set_trigger_status(INSTANCE, "disabled")
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(2)]}).status_code == 202
    assert _queued(store) == []  # the move into the queue re-checked the instance
    assert f"trigger {INSTANCE}: dropped 1 notification(s)" in caplog.text
    store.set_trigger_status(INSTANCE, "active")
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(3)]}).status_code == 202
    store.delete_trigger_instance(INSTANCE)
    assert store.pending_notification_count() == 0  # 3 was received before the delete: dropped too


def test_a_new_client_state_takes_effect_at_once(store: Store) -> None:
    client = create_app(store, access_ttl=3600).test_client()
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(1)]}).status_code == 202
    assert [item["resourceData"]["id"] for _, item in _queued(store)] == ["AAMk1"]
    instance = store.get_trigger_instance(INSTANCE)
    assert instance is not None
    store.save_trigger_instance(replace(instance, client_state=WRONG))  # re-keyed after the request
    response = client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(2), _item(3, WRONG)]})
    assert response.status_code == 202
    assert [item["resourceData"]["id"] for _, item in _queued(store)] == ["AAMk3"]  # 2 had the old one
    # accepted with the new clientState, but re-keyed again before it was moved into the queue
    assert (
        client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(4, WRONG)]}).status_code == 202
    )
    store.save_trigger_instance(replace(instance, client_state=SECRET))
    assert _queued(store) == []


def test_a_paused_instance_still_queues(client: FlaskClient, store: Store) -> None:
    store.set_trigger_status(INSTANCE, "paused")
    assert client.post(f"/hooks/{INSTANCE}/notifications?validationToken=abc").get_data() == b"abc"
    assert client.post(f"/hooks/{INSTANCE}/notifications", json={"value": [_item(1)]}).status_code == 202
    assert store.pending_notification_count(INSTANCE) == 1


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_data() == b"ok\n"


def test_default_store_comes_from_the_environment(tmp_path: Path) -> None:
    app = create_app()  # $OUTLOOK_CONNECTOR_HOME/state.db, like gunicorn 'connector.webhooks:create_app()'
    assert app.test_client().get("/healthz").status_code == 200
    assert (tmp_path / "home" / "state.db").exists()
