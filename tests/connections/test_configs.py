"""The config models (their JSON Schemas are the connection forms), clouds and the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connections.base import Connection
from connections.client_credentials import ClientCredentialsConfig
from connections.clouds import cloud_endpoints, qualify_scopes
from connections.config import DEFAULT_SCOPES, secret_fields
from connections.oauth_code import OAuthCodeConfig
from connections.oauth_code_legacy import OAuthCodeLegacyConfig
from connections.registry import (
    CONNECTION_TYPES,
    connection_summary,
    create_connection,
    load_connection,
    parse_config,
)
from connector.errors import ConfigurationError, InputValidationError
from connector.store import Store
from tests.connections.conftest import CLIENT_ID, CLIENT_SECRET, TENANT, FakeClock, FakeIdentity, signed_in

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MODELS = [OAuthCodeConfig, OAuthCodeLegacyConfig, ClientCredentialsConfig]


@pytest.mark.parametrize("model", MODELS)
def test_schema_describes_every_field_and_marks_secrets(model: Any) -> None:
    schema = model.model_json_schema()
    for name, prop in schema["properties"].items():
        assert prop.get("title") and prop.get("description"), name
    secret = schema["properties"]["client_secret"]
    assert secret["secret"] is True
    assert secret_fields(model) == {"client_secret"}
    password = secret if "format" in secret else secret["anyOf"][0]
    assert password["format"] == "password" and password["writeOnly"] is True


def test_schema_defaults_and_choices() -> None:
    props = OAuthCodeConfig.model_json_schema()["properties"]
    assert props["tenant"]["default"] == "common"
    assert props["scopes"]["default"] == DEFAULT_SCOPES
    assert props["cloud"]["enum"] == ["global", "us_gov", "us_gov_dod", "china"]
    assert "consumers" in props["tenant"]["examples"]
    assert OAuthCodeConfig.model_json_schema()["required"] == ["client_id"]
    assert set(ClientCredentialsConfig.model_json_schema()["required"]) == {
        "tenant",
        "client_id",
        "client_secret",
    }
    legacy = OAuthCodeLegacyConfig.model_json_schema()
    assert legacy["deprecated"] is True and "Deprecated" in legacy["description"]


@pytest.mark.parametrize("tenant", ["common", "organizations", "consumers", "Common"])
def test_client_credentials_needs_a_specific_tenant(tenant: str) -> None:
    with pytest.raises(InputValidationError, match=r"tenant: .*specific tenant"):
        parse_config(
            "client_credentials",
            {"tenant": tenant, "client_id": "c", "client_secret": "s", "default_mailbox": "m"},
        )


def test_client_credentials_needs_a_secret_but_no_mailbox() -> None:
    with pytest.raises(InputValidationError) as info:
        parse_config("client_credentials", {"tenant": TENANT, "client_id": "c"})
    assert {e.path for e in info.value.errors} == {"client_secret"}


def test_invalid_settings_name_fields_but_never_values() -> None:
    with pytest.raises(InputValidationError) as info:
        parse_config(
            "oauth2_code",
            {
                "client_id": "c",
                "client_secret": "hunter2-secret",
                "tenant": "no spaces!",
                "redirect_uri": "ftp://x",
                "x": 1,
            },
        )
    paths = {e.path for e in info.value.errors}
    assert paths == {"tenant", "redirect_uri", "x"}
    assert "hunter2" not in str(info.value)


def test_config_repr_hides_the_secret() -> None:
    config = OAuthCodeConfig(client_id="c", client_secret=CLIENT_SECRET)  # type: ignore[arg-type]
    assert CLIENT_SECRET not in repr(config) and CLIENT_SECRET not in str(config.model_dump())


@pytest.mark.parametrize(
    ("cloud", "graph", "login"),
    [
        ("global", "https://graph.microsoft.com", "https://login.microsoftonline.com"),
        ("us_gov", "https://graph.microsoft.us", "https://login.microsoftonline.us"),
        ("us_gov_dod", "https://dod-graph.microsoft.us", "https://login.microsoftonline.us"),
        ("china", "https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
    ],
)
def test_cloud_endpoints(cloud: str, graph: str, login: str) -> None:
    endpoints = cloud_endpoints(cloud, "contoso.com")
    assert endpoints.graph_base_url == f"{graph}/v1.0"
    assert endpoints.token_url == f"{login}/contoso.com/oauth2/v2.0/token"
    assert endpoints.authorize_url == f"{login}/contoso.com/oauth2/v2.0/authorize"
    app = ClientCredentialsConfig.model_validate(
        {
            "tenant": "contoso.com",
            "client_id": "c",
            "client_secret": "s",
            "default_mailbox": "m",
            "cloud": cloud,
        }
    ).registration()
    assert app.scope == f"{graph}/.default"


def test_national_cloud_scopes_are_qualified() -> None:
    scopes = qualify_scopes(
        "openid User.Read offline_access Mail.Send https://x.example/Y.Z", "https://graph.microsoft.us"
    )
    assert scopes == (
        "openid https://graph.microsoft.us/User.Read offline_access https://graph.microsoft.us/Mail.Send "
        "https://x.example/Y.Z"
    )
    assert (
        qualify_scopes("User.Read  User.Read Mail.Read", "https://graph.microsoft.com")
        == "User.Read Mail.Read"
    )
    app = OAuthCodeConfig(client_id="c", cloud="china").registration()
    assert "https://microsoftgraph.chinacloudapi.cn/Mail.Send" in app.scope.split()
    assert "offline_access" in app.scope.split()


def test_overrides_move_the_addresses_but_keep_the_resource() -> None:
    config = OAuthCodeConfig(
        client_id="c", graph_base_url="http://127.0.0.1:9/v1.0/", login_base_url="http://127.0.0.1:9/"
    )
    endpoints = config.endpoints()
    assert endpoints.graph_base_url == "http://127.0.0.1:9/v1.0"
    assert endpoints.token_url == "http://127.0.0.1:9/common/oauth2/v2.0/token"
    assert endpoints.graph_resource == "https://graph.microsoft.com"


# -- registry --------------------------------------------------------------------------------------------
def test_registry_matches_the_manifest() -> None:
    manifest = yaml.safe_load((PROJECT_ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    entries = {entry["key"]: entry for entry in manifest["connections"]}
    assert set(entries) == set(CONNECTION_TYPES)
    for key, kind in CONNECTION_TYPES.items():
        module, _, attr = entries[key]["handler"].partition(":")
        assert f"{kind.config_model.__module__}:{kind.config_model.__qualname__}" == f"{module}:{attr}"
        assert kind.label == entries[key]["label"]
        assert kind.deprecated == bool(entries[key].get("deprecated"))
        assert kind.connection_class.APP_ONLY is bool(entries[key].get("app_only"))


def test_create_splits_secrets_and_load_restores_them(
    store: Store, identity: FakeIdentity, clock: FakeClock
) -> None:
    created = create_connection(
        store,
        "work",
        "oauth2_code",
        {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "tenant": TENANT,
            "default_mailbox": "me@x.com",
        },
    )
    record = store.get_connection("work")
    assert record is not None
    assert "client_secret" not in record.config and record.config["tenant"] == TENANT
    assert record.secrets == {"client_secret": CLIENT_SECRET}
    loaded = load_connection(store, "work")
    assert loaded.config == created.config
    assert loaded.token_client.app.client_secret == CLIENT_SECRET
    conn: Connection = loaded  # implements the protocol
    assert (conn.name, conn.type_key, conn.graph_base_url, conn.default_mailbox, conn.app_only) == (
        "work",
        "oauth2_code",
        "https://graph.microsoft.com/v1.0",
        "me@x.com",
        False,
    )
    assert conn.throttle_key == f"{CLIENT_ID}@{TENANT}"


def test_public_client_sends_no_secret(store: Store, identity: FakeIdentity, clock: FakeClock) -> None:
    create_connection(
        store, "pub", "oauth2_code", {"client_id": CLIENT_ID}, tokens=identity.grant(expires_in=0)
    )
    conn = load_connection(store, "pub", transport=identity.transport, clock=clock)
    conn.tokens.access_token()
    assert "client_secret" not in identity.requests[0]
    assert identity.requests[0]["client_id"] == CLIENT_ID
    assert identity.requests[0]["scope"] == DEFAULT_SCOPES


def test_unknown_names_and_types(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="no connection named 'ghost'; create one with"):
        load_connection(store, "ghost")
    with pytest.raises(ConfigurationError, match="unknown connection type 'carrier_pigeon'"):
        create_connection(store, "x", "carrier_pigeon", {})


def test_summary(store: Store, identity: FakeIdentity, clock: FakeClock) -> None:
    signed_in(store, identity, clock)
    create_connection(store, "fresh", "oauth2_code", {"client_id": CLIENT_ID})
    store.record_health("work", ok=True)
    rows = {r.name: connection_summary(r) for r in store.list_connections()}
    assert rows["work"]["signed_in"] is True
    assert rows["work"]["detail"].startswith("last success 2027-01-15T")
    assert rows["fresh"]["detail"] == "not signed in"
    assert not any("health" in row for row in rows.values())  # the status is triggers.health's, once
    store.record_health("work", ok=False, error="AADSTS70008: expired")
    row = connection_summary(store.list_connections()[1])
    assert row["detail"] == "AADSTS70008: expired"
    assert CLIENT_SECRET not in str(rows) and "access-1" not in str(rows)


def test_blank_form_fields_count_as_not_given() -> None:
    config = OAuthCodeConfig.model_validate(
        {
            "client_id": "c",
            "client_secret": "",
            "default_mailbox": " ",
            "graph_base_url": "",
            "login_base_url": None,
        }
    )
    assert (config.client_secret, config.default_mailbox, config.graph_base_url) == (None, None, None)
    assert config.registration().client_secret is None


@pytest.mark.parametrize(
    ("model", "config", "valid"),
    [
        (OAuthCodeConfig, {"client_id": "c"}, True),
        (OAuthCodeConfig, {"client_id": "c", "tenant": "bad tenant"}, False),
        (OAuthCodeConfig, {"client_id": "c", "graph_base_url": "ftp://x"}, False),
        (OAuthCodeConfig, {"client_id": "c", "cloud": "mars"}, False),
        (
            ClientCredentialsConfig,
            {"tenant": "common", "client_id": "c", "client_secret": "s", "default_mailbox": "m"},
            False,
        ),
        (
            ClientCredentialsConfig,
            {"tenant": TENANT, "client_id": "c", "client_secret": "s", "default_mailbox": "m"},
            True,
        ),
        (
            OAuthCodeLegacyConfig,
            {"client_id": "c", "authorize_url": "https://l/a", "token_url": "https://l/t", "surprise": 1},
            False,
        ),
    ],
)
def test_json_schema_and_model_agree(model: Any, config: dict[str, Any], valid: bool) -> None:
    import jsonschema_rs
    from pydantic import ValidationError

    assert jsonschema_rs.validator_for(model.model_json_schema()).is_valid(config) is valid
    try:
        model.model_validate(config)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted is valid
