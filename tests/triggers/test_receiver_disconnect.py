"""A sender that disconnects mid-body gets a 400 and one warning line, not a logged traceback."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.exceptions import ClientDisconnected
from werkzeug.test import EnvironBuilder, run_wsgi_app

from connector.store import Store, TriggerInstance
from connector.webhooks import create_app

INSTANCE = "DisconnectInstance000000000000"


class CutOff(io.RawIOBase):
    """A request body that breaks after a few bytes, as a socket does when the sender leaves."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.sent = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self.sent:
            raise self.error
        self.sent = True
        buffer[:10] = b'{"value": '
        return 10


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path / "home"))
    with Store(tmp_path / "state.db") as opened:
        opened.save_trigger_instance(
            TriggerInstance(
                id=INSTANCE, trigger_key="webhook", connection_name="w", config={}, client_state="s"
            )
        )
        yield opened


@pytest.mark.parametrize(
    "error", [ConnectionResetError(104, "Connection reset by peer"), ClientDisconnected()], ids=repr
)
def test_a_disconnect_mid_body_is_one_warning_line(
    store: Store, caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    app = create_app(store)
    environ = EnvironBuilder(
        path=f"/hooks/{INSTANCE}/notifications",
        method="POST",
        headers={"Content-Type": "application/json", "Content-Length": "5000"},
    ).get_environ()
    environ["wsgi.input"] = io.BufferedReader(CutOff(error))
    environ["CONTENT_LENGTH"] = "5000"
    with caplog.at_level(logging.INFO):
        _, status, _ = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("400")
    assert [r for r in caplog.records if r.exc_info] == []
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "the sender left" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()
    assert store.pending_notification_count() == 0
