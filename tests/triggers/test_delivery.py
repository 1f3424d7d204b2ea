"""Delivery sinks and dedupe keys: what the host receives, one line per event, refusals propagate."""

from __future__ import annotations

import io
import json
import threading

import pytest

from triggers.delivery import CallbackDelivery, Delivery, JsonLinesDelivery, TriggerEvent, dedupe_key


def _event(n: int = 0, **overrides: object) -> TriggerEvent:
    fields: dict[str, object] = {
        "instance_id": "inst",
        "trigger_key": "mail_message_webhook",
        "dedupe_key": f"key-{n}",
        "change_type": "created",
        "resource_id": f"AAMk-{n}",
        "resource": {"id": f"AAMk-{n}", "subject": f"Ünïcode {n}\nsecond line"},
        "source": "webhook",
        "occurred_at": 1_800_000_000.5,
        "received_at": 1_800_000_000.25,
        "item_kind": "message",
        "subscription_id": "sub-1",
    }
    fields.update(overrides)
    return TriggerEvent(**fields)  # type: ignore[arg-type]


def test_dedupe_key_is_one_version_of_one_item() -> None:
    created = dedupe_key("inst", "AAMk1", "created", "CQAAABYAAA1")
    assert created == dedupe_key("inst", "AAMk1", "updated", "CQAAABYAAA1")  # same version
    assert created != dedupe_key("inst", "AAMk1", "updated", "CQAAABYAAA2")
    assert created != dedupe_key("other", "AAMk1", "created", "CQAAABYAAA1")
    assert created != dedupe_key("inst", "AAMk2", "created", "CQAAABYAAA1")
    # a deletion ignores the change key; without a change key the change type stands in
    assert dedupe_key("inst", "AAMk1", "deleted", "x") == dedupe_key("inst", "AAMk1", "deleted", None)
    assert dedupe_key("inst", "AAMk1", "deleted", None) != dedupe_key("inst", "AAMk1", "updated", None)
    assert dedupe_key("inst", "AAMk1", "created", None) != dedupe_key("inst", "AAMk1", "updated", None)


def test_dedupe_key_is_short_and_stable_for_long_ids() -> None:
    long_id = "AAMkAGI2TG93AAA=" * 20
    key = dedupe_key("inst", long_id, "updated", "CQAAABYAAAD")
    assert len(key) <= 200
    assert key == dedupe_key("inst", long_id, "updated", "CQAAABYAAAD")
    assert key.startswith("sha256:") and len(key) == 7 + 64
    assert key != dedupe_key("inst", long_id, "updated", "CQAAABYAAAE")


def test_event_to_json_round_trips_through_json() -> None:
    event = _event(3)
    data = json.loads(json.dumps(event.to_json()))
    assert data == {
        "instance_id": "inst",
        "trigger_key": "mail_message_webhook",
        "dedupe_key": "key-3",
        "change_type": "created",
        "resource_id": "AAMk-3",
        "resource": {"id": "AAMk-3", "subject": "Ünïcode 3\nsecond line"},
        "source": "webhook",
        "occurred_at": 1_800_000_000.5,
        "received_at": 1_800_000_000.25,
        "item_kind": "message",
        "subscription_id": "sub-1",
    }
    assert TriggerEvent(**data) == event


def test_callback_delivery_hands_over_the_event_and_propagates_refusal() -> None:
    got: list[TriggerEvent] = []
    sink: Delivery = CallbackDelivery(got.append)
    sink.deliver(_event(1))
    assert got == [_event(1)]

    def refuse(event: TriggerEvent) -> None:
        raise RuntimeError(f"host is down for {event.resource_id}")

    with pytest.raises(RuntimeError, match="host is down for AAMk-2"):
        CallbackDelivery(refuse).deliver(_event(2))


def test_json_lines_one_flushed_line_per_event() -> None:
    class Recording(io.StringIO):
        flushed: list[str]

        def __init__(self) -> None:
            super().__init__()
            self.flushed = []

        def flush(self) -> None:
            self.flushed.append(self.getvalue())

    stream = Recording()
    sink = JsonLinesDelivery(stream)
    sink.deliver(_event(1))
    assert stream.flushed and stream.flushed[-1] == stream.getvalue()  # on the stream when deliver returns
    sink.deliver(_event(2, resource=None, change_type="deleted"))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2  # the newline inside the subject is escaped
    assert json.loads(lines[0]) == _event(1).to_json()
    assert json.loads(lines[1])["resource"] is None


def test_json_lines_concurrent_deliveries_never_interleave() -> None:
    class SlowStream(io.StringIO):
        """Writes in small pieces with a thread switch between them, like a pipe under load."""

        def write(self, s: str) -> int:
            for i in range(0, len(s), 7):
                super().write(s[i : i + 7])
                threading.Event().wait(0)  # yield to other threads mid-line
            return len(s)

    stream = SlowStream()
    sink = JsonLinesDelivery(stream)
    threads = [
        threading.Thread(target=lambda t=t: [sink.deliver(_event(t * 100 + i)) for i in range(50)])
        for t in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 400
    keys = sorted(json.loads(line)["dedupe_key"] for line in lines)
    assert keys == sorted(f"key-{t * 100 + i}" for t in range(8) for i in range(50))


def test_json_lines_write_error_refuses_the_event() -> None:
    class Broken(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError("reader went away")

    with pytest.raises(BrokenPipeError):
        JsonLinesDelivery(Broken()).deliver(_event(1))
