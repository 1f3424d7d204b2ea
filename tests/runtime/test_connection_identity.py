"""Credentials follow the connection: a long-lived runtime never acts through a connection that was
deleted or saved again (for another user or type) since it was loaded, also when another process
changed it; loading it again acts as the new account. Requests are recorded at the HTTP boundary."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connections.registry import load_connection
from connections.sandbox import sandbox_connection
from connector.errors import ConfigurationError
from connector.runtime import Runtime
from connector.store import Store, TriggerInstance
from sandbox import seed
from sandbox.server import SandboxServer
from tests.support.recording import Recorder

OTHER_USER = str(
    next(u for u in seed.USERS if u["userPrincipalName"] != seed.DEFAULT_USER)["userPrincipalName"]
)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    with Store(db) as opened:
        yield opened


def _in_another_process(db: Path, code: str) -> None:
    """Run ``code`` (with ``store`` open on the same database) in a separate Python process."""
    opening = "from pathlib import Path\nfrom connector.store import Store\n"
    script = f"{opening}store = Store(Path({str(db)!r}))\n{code}"
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def _acts_as(runtime: Runtime, connection: object) -> str:
    user = runtime.run_action("get_current_user", {}, connection)  # type: ignore[arg-type]
    return str(user["userPrincipalName"]).lower()


def test_a_connection_saved_again_by_another_process_is_not_used_with_its_old_settings(
    server: SandboxServer, store: Store, db: Path
) -> None:
    recorder = Recorder()
    with Runtime(store=store, transport=recorder) as runtime:
        first = sandbox_connection(store, server.url, "delegated", name="customer")
        assert _acts_as(runtime, first) == seed.DEFAULT_USER.lower()
        _in_another_process(
            db,
            "from connections.sandbox import sandbox_connection\n"
            f"sandbox_connection(store, {server.url!r}, 'delegated', name='customer', user={OTHER_USER!r})",
        )
        recorder.sent.clear()
        with pytest.raises(ConfigurationError, match="saved again since it was loaded"):
            _acts_as(runtime, first)
        assert recorder.sent == []
        again = load_connection(store, "customer")
        assert _acts_as(runtime, again) == OTHER_USER.lower()
        assert runtime.client_for(again) is runtime.client_for(again)


def test_a_connection_replaced_by_another_type_in_the_same_process_gets_a_new_client(
    server: SandboxServer, store: Store
) -> None:
    with Runtime(store=store) as runtime:
        delegated = sandbox_connection(store, server.url, "delegated", name="c")
        old_client = runtime.client_for(delegated)
        app = sandbox_connection(store, server.url, "app", name="c", user=OTHER_USER)
        assert runtime.client_for(app) is not old_client
        assert runtime.run_action("list_mail_folders", {"top": 1}, app)["folders"]
        with pytest.raises(ConfigurationError):
            runtime.client_for(delegated)


def test_a_deleted_connection_is_not_used_by_a_runtime_that_loaded_it(
    server: SandboxServer, store: Store, db: Path
) -> None:
    recorder = Recorder()
    with Runtime(store=store, transport=recorder) as runtime:
        connection = sandbox_connection(store, server.url, "delegated", name="gone")
        assert _acts_as(runtime, connection)
        _in_another_process(db, "store.delete_connection('gone')")
        recorder.sent.clear()
        with pytest.raises(ConfigurationError, match="deleted or saved again"):
            _acts_as(runtime, connection)
        assert recorder.sent == []


def test_the_trigger_service_loads_a_connection_again_once_it_changed(
    server: SandboxServer, store: Store
) -> None:
    from triggers.delivery import JsonLinesDelivery
    from triggers.service import TriggerService

    with Runtime(store=store) as runtime:
        sandbox_connection(store, server.url, "delegated", name="svc")
        service = TriggerService(store, runtime, JsonLinesDelivery(sys.stdout))
        before = service.connection("svc")
        assert service.connection("svc") is before
        sandbox_connection(store, server.url, "delegated", name="svc", user=OTHER_USER)
        after = service.connection("svc")
        assert after is not before
        assert _acts_as(runtime, after) == OTHER_USER.lower()
        store.delete_connection("svc")
        with pytest.raises(ConfigurationError, match="no connection named"):
            service.connection("svc")


def test_disabling_for_a_connection_removes_every_instance_using_it(
    server: SandboxServer, store: Store
) -> None:
    from triggers.delivery import JsonLinesDelivery
    from triggers.service import TriggerService

    with Runtime(store=store) as runtime:
        sandbox_connection(store, server.url, "delegated", name="used")
        mine = [TriggerInstance.new("poll_changes", "used", {}, {}, time.time()) for _ in range(2)]
        other = TriggerInstance.new("poll_changes", "elsewhere", {}, {}, time.time())
        for instance in [*mine, other]:
            store.save_trigger_instance(instance)
        service = TriggerService(store, runtime, JsonLinesDelivery(sys.stdout))
        assert sorted(service.disable_for_connection("used")) == sorted(i.id for i in mine)
        assert [i.id for i in store.list_trigger_instances()] == [other.id]
