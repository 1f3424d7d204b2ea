"""Shared mailboxes through another connection's sign-in, a second account with prompt=select_account
and login_hint, and `connections list` (account, worst status): on the sandbox, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from click.testing import CliRunner, Result

from connections.authorization import authorize_headless
from connections.config import DEFAULT_SCOPES
from connections.oauth_code import OAuthCodeConfig
from connections.registry import connect_interactively, create_connection, load_connection
from connections.sandbox import sandbox_config, sandbox_connection
from connections.shared_mailbox import SharedMailboxConnection, add_shared_mailbox
from connector.cli import main
from connector.errors import ConfigurationError, GraphError, InputValidationError
from connector.policy import PRESETS
from connector.runtime import Runtime
from connector.store import Store
from sandbox import seed
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from tests.support.connections import StaticBearerAuth
from triggers import polling
from triggers.delivery import CallbackDelivery, TriggerEvent
from triggers.service import TriggerService

SHARED = seed.SHARED_MAILBOX
OTHER = str(seed.USERS[2]["userPrincipalName"])
SECOND = str(seed.USERS[1]["userPrincipalName"])


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(
        SandboxConfig(messages_per_user=20, notification_interval=0.0, http_notification_urls=True)
    ) as running:
        yield running


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTLOOK_CONNECTOR_HOME", str(tmp_path))
    monkeypatch.delenv("OUTLOOK_CONNECTOR_CONNECTION", raising=False)
    return tmp_path


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    with Store(home / "state.db") as opened:
        yield opened


@pytest.fixture
def runtime(store: Store) -> Iterator[Runtime]:
    with Runtime(store=store, strict_output=True) as rt:
        yield rt


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _plain_sign_in(store: Store, server: SandboxServer, name: str) -> None:
    """A delegated connection without the .Shared permissions."""
    config = OAuthCodeConfig.model_validate(
        {**sandbox_config(server.url, "delegated").model_dump(), "scopes": DEFAULT_SCOPES}
    )
    tokens = authorize_headless(config, seed.DEFAULT_USER, connection=name)
    create_connection(store, name, "oauth2_code", config, tokens=tokens)


@pytest.mark.parametrize("kind", ["delegated", "app"])
def test_a_shared_mailbox_acts_through_its_via_connection(
    store: Store, runtime: Runtime, server: SandboxServer, kind: str
) -> None:
    sandbox_connection(store, server.url, kind, name="work")  # type: ignore[arg-type]
    added = add_shared_mailbox(store, runtime.client_for, "support", via="work", mailbox=SHARED)
    assert isinstance(added, SharedMailboxConnection)
    loaded = load_connection(store, "support")
    assert loaded.default_mailbox == SHARED and loaded.type_key == (
        "oauth2_code" if kind == "delegated" else "client_credentials"
    )
    start = len(server.state.request_log)
    listed = runtime.run_action("list_messages", {"folder_id": "inbox", "top": 2}, loaded)
    assert listed["count"] == 2
    paths = {r.path for r in server.state.request_log[start:]}
    assert f"/v1.0/users/{SHARED}/mailFolders/inbox/messages" in paths


def test_a_missing_shared_permission_is_named_and_nothing_is_saved(
    store: Store, runtime: Runtime, server: SandboxServer
) -> None:
    _plain_sign_in(store, server, "plain")
    with pytest.raises(ConfigurationError) as caught:
        add_shared_mailbox(store, runtime.client_for, "support", via="plain", mailbox=SHARED)
    assert "Mail.Read.Shared" in caught.value.message and "--shared-scopes" in caught.value.message
    assert store.get_connection("support") is None


def test_a_mailbox_without_full_access_says_so(store: Store, runtime: Runtime, server: SandboxServer) -> None:
    sandbox_connection(store, server.url, "delegated", name="work")
    with pytest.raises(ConfigurationError, match=r"no Full Access to .* in Exchange") as caught:
        add_shared_mailbox(store, runtime.client_for, "other", via="work", mailbox=OTHER)
    assert "Add-MailboxPermission" in caught.value.message and store.get_connection("other") is None


def test_an_unknown_mailbox_and_bad_inputs(store: Store, runtime: Runtime, server: SandboxServer) -> None:
    sandbox_connection(store, server.url, "delegated", name="work")
    with pytest.raises(ConfigurationError, match="there is no mailbox"):
        add_shared_mailbox(
            store, runtime.client_for, "x", via="work", mailbox="nobody@meridiantraders.onmicrosoft.com"
        )
    with pytest.raises(InputValidationError, match="shared_mailbox"):
        add_shared_mailbox(store, runtime.client_for, "x", via="work", mailbox="not an address")
    add_shared_mailbox(store, runtime.client_for, "support", via="work", mailbox=SHARED)
    with pytest.raises(InputValidationError, match="is itself a shared mailbox"):
        add_shared_mailbox(store, runtime.client_for, "x", via="support", mailbox=SHARED)
    with pytest.raises(ConfigurationError, match="no connection named 'ghost'"):
        add_shared_mailbox(store, runtime.client_for, "x", via="ghost", mailbox=SHARED)


def test_an_app_only_refusal_names_the_application_permission(store: Store, server: SandboxServer) -> None:
    """At the HTTP boundary: Graph answers 403 to the app."""
    from connector.http import GraphClient

    sandbox_connection(store, server.url, "app", name="app")

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            403, json={"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}
        )

    def client_for(connection: Any) -> GraphClient:
        return GraphClient(
            connection.graph_base_url, auth=StaticBearerAuth(), transport=httpx.MockTransport(refuse)
        )

    with pytest.raises(ConfigurationError, match=r"Mail\.Read .*application permission") as caught:
        add_shared_mailbox(store, client_for, "support", via="app", mailbox=SHARED)
    assert "application access policy" in caught.value.message


def test_webhooks_on_a_delegated_shared_mailbox_are_refused_with_polling_offered(
    store: Store, runtime: Runtime, server: SandboxServer
) -> None:
    sandbox_connection(store, server.url, "delegated", name="work")
    add_shared_mailbox(store, runtime.client_for, "support", via="work", mailbox=SHARED)
    for name in ("support", "admin"):  # subscription and draft actions: off in the default policy
        store.set_policy(name, PRESETS["open"].to_dict())
    events: list[TriggerEvent] = []
    service = TriggerService(store, runtime, CallbackDelivery(events.append), public_url="http://127.0.0.1:9")
    start = len(server.state.request_log)
    with pytest.raises(ConfigurationError) as caught:
        service.enable("mail_message_webhook", "support", {"folder_id": "inbox"})
    assert "does not accept change-notification subscriptions" in caught.value.message
    assert SHARED in caught.value.message
    assert "triggers poll poll_changes -c support" in caught.value.message
    assert server.state.request_log[start:] == [] and store.list_trigger_instances() == []
    # the sandbox behaves as Graph: it refuses such a subscription too
    with pytest.raises(GraphError) as refused, Runtime() as bare:  # no store: no policy on admin actions
        bare.run_action(
            "create_mail_folder_subscription",
            {"notification_url": f"{server.url}/_sandbox/webhooks/shared"},
            load_connection(store, "support"),
        )
    assert refused.value.status == 403
    # polling works
    instance = polling.create_instance(store, runtime, "poll_changes", "support", {"folder_id": "inbox"})
    polling.poll(store, runtime, CallbackDelivery(events.append), instance.id)
    admin = sandbox_connection(store, server.url, "app", name="admin", user=SHARED)
    with Runtime() as bare:  # no store: no policy on drafts
        made = bare.run_action("create_draft", {"subject": "to the team", "folder_id": "inbox"}, admin)
    assert polling.poll(store, runtime, CallbackDelivery(events.append), instance.id).delivered == 1
    assert events[-1].resource_id == made["id"]


def test_a_delegated_webhook_on_another_named_mailbox_is_refused_when_the_account_is_known(
    store: Store, runtime: Runtime, server: SandboxServer
) -> None:
    from connections.registry import note_account

    sandbox_connection(store, server.url, "delegated", name="work")
    service = TriggerService(
        store, runtime, CallbackDelivery(lambda e: None), public_url="http://127.0.0.1:9"
    )
    note_account(store, "work", seed.DEFAULT_USER)
    with pytest.raises(ConfigurationError, match="Poll it instead"):
        service.enable("mail_message_webhook", "work", {"folder_id": "inbox", "user_id": OTHER})
    assert store.list_trigger_instances() == []


def test_an_app_only_shared_mailbox_takes_webhooks(
    store: Store, runtime: Runtime, server: SandboxServer
) -> None:
    from triggers.worker import Receiver

    sandbox_connection(store, server.url, "app", name="app")
    add_shared_mailbox(store, runtime.client_for, "support", via="app", mailbox=SHARED)
    with Receiver(store) as receiver:
        service = TriggerService(store, runtime, CallbackDelivery(lambda e: None), public_url=receiver.url)
        instance = service.enable("mail_message_webhook", "support", {"folder_id": "inbox"})
        try:
            sub_id = instance.state["watches"][0]["subscription_id"]
            [subscription] = [s for s in server.state.subscriptions.list() if s["id"] == sub_id]
            assert SHARED in subscription["resource"]
        finally:
            service.disable(instance.id)


def test_connect_asks_which_account_and_passes_the_login_hint(store: Store, server: SandboxServer) -> None:
    seen: list[str] = []

    def browser(url: str) -> None:
        seen.append(url)
        with httpx.Client(follow_redirects=True) as client:
            assert client.get(url).status_code == 200

    config = sandbox_config(server.url, "delegated")
    second = connect_interactively(
        store, "second", "oauth2_code", config, browser, timeout=30, login_hint=SECOND
    )
    query = parse_qs(urlsplit(seen[0]).query)
    assert query["prompt"] == ["select_account"] and query["login_hint"] == [SECOND]
    with Runtime(store=store) as runtime:
        assert runtime.run_action("get_current_user", {}, second)["userPrincipalName"] == SECOND


def test_a_prompt_in_the_connection_settings_is_kept(store: Store, server: SandboxServer) -> None:
    seen: list[str] = []

    def browser(url: str) -> None:
        seen.append(url)
        with httpx.Client(follow_redirects=True) as client:
            client.get(url)

    settings = sandbox_config(server.url, "delegated").model_dump(mode="json")
    config = {**settings, "additional_authorization_parameters": "prompt=consent"}
    connect_interactively(store, "consenting", "oauth2_code", config, browser, timeout=30)
    assert parse_qs(urlsplit(seen[0]).query)["prompt"] == ["consent"]


def test_cli_second_account_shared_mailbox_list_and_delete_cascade(
    home: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def browser(url: str) -> bool:
        seen.append(url)
        with httpx.Client(follow_redirects=True) as client:
            client.get(url)
        return True

    monkeypatch.setattr("webbrowser.open", browser)
    config = {
        k: v
        for k, v in sandbox_config(server.url, "delegated").model_dump(mode="json").items()
        if v is not None
    }
    config["scopes"] = DEFAULT_SCOPES
    (home / "conn.json").write_text(json.dumps(config), encoding="utf-8")
    first = cli(
        "connect", "work", "--type", "oauth2_code", "--config", f"@{home / 'conn.json'}", "--shared-scopes"
    )
    assert first.exit_code == 0, first.stderr
    assert f"acts as {seed.DEFAULT_USER}" in first.stderr
    scopes = parse_qs(urlsplit(seen[0]).query)["scope"][0].split()
    assert {"Mail.ReadWrite.Shared", "Mail.Send.Shared", "Calendars.ReadWrite.Shared"} <= set(scopes)
    second = cli(
        "connect",
        "second",
        "--type",
        "oauth2_code",
        "--config",
        f"@{home / 'conn.json'}",
        "--login-hint",
        SECOND,
    )
    assert second.exit_code == 0, second.stderr
    assert parse_qs(urlsplit(seen[1]).query)["login_hint"] == [SECOND]
    shared = cli("connect", "support", "--shared-mailbox", SHARED, "--via", "work")
    assert shared.exit_code == 0, shared.stderr
    refused = cli("connect", "nope", "--shared-mailbox", SHARED, "--via", "second")
    assert refused.exit_code != 0 and "Mail.Read.Shared" in refused.stderr  # second has no .Shared scopes
    polled = cli("triggers", "poll", "poll_changes", "-c", "support", "-i", '{"folder_id": "inbox"}')
    assert polled.exit_code == 0, polled.stderr

    rows = {r["name"]: r for r in json.loads(cli("connections", "list", "--json").stdout)}
    assert set(rows) == {"work", "second", "support"}
    assert (rows["work"]["account"], rows["second"]["account"], rows["support"]["account"]) == (
        seed.DEFAULT_USER,
        SECOND,
        SHARED,
    )
    assert rows["support"]["status"] == "healthy" and rows["support"]["trigger_instances"] == 1
    assert "via work" in rows["support"]["label"]
    with Store(home / "state.db") as store:  # one failing instance makes its connection's status an error
        [instance] = store.list_trigger_instances()
        store.record_trigger_error(instance.id, "Graph error 403 ErrorAccessDenied")
    rows = {r["name"]: r for r in json.loads(cli("connections", "list", "--json").stdout)}
    assert rows["support"]["status"] == "error" and "ErrorAccessDenied" in rows["support"]["status_detail"]
    assert rows["work"]["status"] != "error"

    deleted = cli("connections", "delete", "work")
    assert deleted.exit_code == 0, deleted.stderr
    assert "connection 'support' deleted" in deleted.stderr and "connection 'work' deleted" in deleted.stderr
    assert "trigger instance" in deleted.stderr
    names = [r["name"] for r in json.loads(cli("connections", "list", "--json").stdout)]
    assert names == ["second"]
    with Store(home / "state.db") as store:
        assert store.list_trigger_instances() == []


def test_cli_connect_to_the_sandbox_as_another_user(home: Path, server: SandboxServer) -> None:
    made = cli("connect", "second", "--sandbox", server.url, "--login-hint", SECOND)
    assert made.exit_code == 0, made.stderr
    assert f"acts as {SECOND}" in made.stderr
    [row] = json.loads(cli("connections", "list", "--json").stdout)
    assert (row["name"], row["account"]) == ("second", SECOND)
