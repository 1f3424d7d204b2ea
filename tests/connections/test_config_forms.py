"""Connection settings in the forms a Prismatic Outlook connection has: a Graph base URL without
/v1.0, one "tenant URL", the deprecated explicit-URL connection's defaults and an authorize URL with
a query, client credentials with scopes and without a default mailbox. Unit checks of the config
models, then sign-ins and actions on the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connections.authorization import authorize_headless, begin_authorization
from connections.oauth_code_legacy import DEFAULT_AUTHORIZE_URL, DEFAULT_TOKEN_URL
from connections.registry import create_connection, parse_config
from connector.errors import InputValidationError
from connector.runtime import Runtime
from connector.store import Store
from sandbox import seed
from sandbox.server import SandboxServer

APP = {"tenant": "contoso.onmicrosoft.com", "client_id": "c", "client_secret": "s"}


@pytest.mark.parametrize(
    ("type_key", "config"),
    [
        ("oauth2_code", {"client_id": "c"}),
        ("oauth2_code_legacy", {"client_id": "c"}),
        ("client_credentials", APP),
    ],
)
@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("https://graph.microsoft.com", "https://graph.microsoft.com/v1.0"),
        ("https://graph.microsoft.com/", "https://graph.microsoft.com/v1.0"),
        ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/v1.0"),
        ("https://graph.microsoft.com/beta", "https://graph.microsoft.com/beta"),
        ("https://proxy.example.com/graph/v1.0", "https://proxy.example.com/graph/v1.0"),
    ],
)
def test_a_graph_base_url_without_a_version_gets_v1(
    type_key: str, config: dict[str, Any], given: str, used: str
) -> None:
    parsed = parse_config(type_key, {**config, "graph_base_url": given})
    assert parsed.endpoints().graph_base_url == used


def test_the_deprecated_connection_has_the_documented_defaults() -> None:
    config = parse_config("oauth2_code_legacy", {"client_id": "c"})
    endpoints = config.endpoints()
    assert endpoints.authorize_url == DEFAULT_AUTHORIZE_URL
    assert (
        DEFAULT_AUTHORIZE_URL
        == "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?prompt=consent"
    )
    assert (
        endpoints.token_url
        == DEFAULT_TOKEN_URL
        == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    )
    assert endpoints.graph_base_url == "https://graph.microsoft.com/v1.0"


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_an_authorize_url_with_a_query_keeps_it_and_the_call_wins() -> None:
    config = parse_config(
        "oauth2_code_legacy",
        {"client_id": "c", "authorize_url": DEFAULT_AUTHORIZE_URL + "&domain_hint=contoso.com"},
    )
    query = _query(begin_authorization(config).authorize_url)
    assert query["prompt"] == ["consent"] and query["domain_hint"] == ["contoso.com"]
    assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
    assert urlsplit(begin_authorization(config).authorize_url).path.endswith("/oauth2/v2.0/authorize")
    again = _query(begin_authorization(config, prompt="select_account", login_hint="a@b.c").authorize_url)
    assert again["prompt"] == ["select_account"] and again["login_hint"] == ["a@b.c"]


@pytest.mark.parametrize("query", ["client_id=x", "redirect_uri=https%3A%2F%2Fevil.example", "state=1"])
def test_an_authorize_url_may_not_set_what_the_sign_in_sets(query: str) -> None:
    with pytest.raises(InputValidationError) as info:
        parse_config(
            "oauth2_code_legacy", {"client_id": "c", "authorize_url": f"{DEFAULT_AUTHORIZE_URL}&{query}"}
        )
    assert [e.path for e in info.value.errors] == ["authorize_url"]
    assert "sets" in info.value.errors[0].reason


@pytest.mark.parametrize(
    ("tenant_url", "login", "tenant"),
    [
        ("login.microsoftonline.com/common", "https://login.microsoftonline.com", "common"),
        (
            "https://login.microsoftonline.com/contoso.com/",
            "https://login.microsoftonline.com",
            "contoso.com",
        ),
        ("http://127.0.0.1:8765/organizations", "http://127.0.0.1:8765", "organizations"),
    ],
)
def test_a_tenant_url_sets_tenant_and_login_host(tenant_url: str, login: str, tenant: str) -> None:
    config = parse_config("oauth2_code", {"client_id": "c", "tenant_url": tenant_url})
    endpoints = config.endpoints()
    assert endpoints.authorize_url == f"{login}/{tenant}/oauth2/v2.0/authorize"
    assert endpoints.token_url == f"{login}/{tenant}/oauth2/v2.0/token"
    # saved and loaded again (all three fields stored) it is the same connection
    again = parse_config("oauth2_code", config.model_dump(mode="json"))
    assert again.endpoints() == endpoints


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"tenant_url": "https://login.microsoftonline.com"}, "tenant_url"),
        ({"tenant_url": "https://login.microsoftonline.com/a/b"}, "tenant_url"),
        ({"tenant_url": "https://login.microsoftonline.com/common?x=1"}, "tenant_url"),
        ({"tenant_url": "ftp://login.microsoftonline.com/common"}, "tenant_url"),
        ({"tenant_url": "login.microsoftonline.com/common", "tenant": "contoso.com"}, "tenant"),
        (
            {"tenant_url": "login.microsoftonline.com/common", "login_base_url": "https://x.example"},
            "login_base_url",
        ),
        ({"tenant_url": "https://login.microsoftonline.us/contoso.us"}, "cloud"),
    ],
)
def test_a_wrong_tenant_url_names_the_field(extra: dict[str, str], field: str) -> None:
    with pytest.raises(InputValidationError) as info:
        parse_config("oauth2_code", {"client_id": "c", **extra})
    assert [e.path for e in info.value.errors] == [field]


def test_a_tenant_url_of_a_national_cloud_goes_with_its_cloud() -> None:
    config = parse_config(
        "oauth2_code",
        {"client_id": "c", "tenant_url": "login.microsoftonline.us/contoso.us", "cloud": "us_gov"},
    )
    assert config.endpoints().token_url == "https://login.microsoftonline.us/contoso.us/oauth2/v2.0/token"
    assert config.endpoints().graph_base_url == "https://graph.microsoft.us/v1.0"


def test_client_credentials_scopes_default_to_dot_default_and_take_only_that_form() -> None:
    assert (
        parse_config("client_credentials", APP).registration().scope == "https://graph.microsoft.com/.default"
    )
    custom = parse_config("client_credentials", {**APP, "scopes": "https://graph.microsoft.com/.default"})
    assert custom.registration().scope == "https://graph.microsoft.com/.default"
    blank = parse_config("client_credentials", {**APP, "scopes": "  "})
    assert blank.registration().scope == "https://graph.microsoft.com/.default"
    with pytest.raises(InputValidationError) as info:
        parse_config("client_credentials", {**APP, "scopes": "Mail.Read"})
    assert [e.path for e in info.value.errors] == ["scopes"] and ".default" in info.value.errors[0].reason


# -- on the sandbox ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer() as running:
        yield running


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "state.db") as opened:
        yield opened


@pytest.fixture
def runtime() -> Iterator[Runtime]:
    with Runtime(strict_output=True) as rt:
        yield rt


def test_sandbox_sign_in_with_a_tenant_url_and_a_base_url_without_version(
    server: SandboxServer, store: Store, runtime: Runtime
) -> None:
    config = parse_config(
        "oauth2_code",
        {
            "client_id": seed.CLIENT_ID,
            "tenant_url": f"{server.url}/{seed.TENANT_ID}",
            "graph_base_url": server.url,
            "scopes": "User.Read Mail.ReadWrite offline_access",
        },
    )
    tokens = authorize_headless(config, seed.DEFAULT_USER)
    connection = create_connection(store, "tenant-url", "oauth2_code", config, tokens=tokens)
    me = runtime.run_action("get_current_user", {}, connection)
    assert me["userPrincipalName"].lower() == seed.DEFAULT_USER.lower()


def test_sandbox_sign_in_with_the_deprecated_connection_and_an_authorize_query(
    server: SandboxServer, store: Store, runtime: Runtime
) -> None:
    authority = f"{server.url}/{seed.TENANT_ID}/oauth2/v2.0"
    config = parse_config(
        "oauth2_code_legacy",
        {
            "client_id": seed.CLIENT_ID,
            "authorize_url": f"{authority}/authorize?prompt=consent",
            "token_url": f"{authority}/token",
            "graph_base_url": server.url,
        },
    )
    tokens = authorize_headless(config, seed.DEFAULT_USER)
    connection = create_connection(store, "legacy", "oauth2_code_legacy", config, tokens=tokens)
    folders = runtime.run_action("list_mail_folders", {"top": 50}, connection)
    assert "Inbox" in {f["displayName"] for f in folders["folders"]}


def test_sandbox_client_credentials_without_a_mailbox_need_user_id(
    server: SandboxServer, store: Store, runtime: Runtime
) -> None:
    config = parse_config(
        "client_credentials",
        {
            "tenant": seed.TENANT_ID,
            "client_id": seed.CLIENT_ID,
            "client_secret": seed.CLIENT_SECRET,
            "login_base_url": server.url,
            "graph_base_url": server.url,
            "scopes": "https://graph.microsoft.com/.default",
        },
    )
    connection = create_connection(store, "app-no-mailbox", "client_credentials", config)
    before = len(server.state.request_log)
    with pytest.raises(InputValidationError) as info:
        runtime.run_action("list_messages", {"top": 1}, connection)
    assert [e.path for e in info.value.errors] == ["user_id"]
    assert len(server.state.request_log) == before, "nothing was sent"
    out = runtime.run_action("list_messages", {"top": 1, "user_id": seed.DEFAULT_USER}, connection)
    assert out["count"] == 1
    token_requests = [r for r in server.state.request_log if r.form.get("grant_type") == "client_credentials"]
    assert token_requests[-1].form["scope"] == "https://graph.microsoft.com/.default"


def test_additional_authorization_parameters_go_with_every_sign_in() -> None:
    config = parse_config(
        "oauth2_code",
        {"client_id": "c", "additional_authorization_parameters": "prompt=consent&login_hint=a@b.c"},
    )
    query = _query(begin_authorization(config).authorize_url)
    assert query["prompt"] == ["consent"] and query["login_hint"] == ["a@b.c"]
    assert _query(begin_authorization(config, prompt="select_account").authorize_url)["prompt"] == [
        "select_account"
    ]
    with pytest.raises(InputValidationError) as info:
        parse_config(
            "oauth2_code", {"client_id": "c", "additional_authorization_parameters": "scope=Mail.Read"}
        )
    assert [e.path for e in info.value.errors] == ["additional_authorization_parameters"]
