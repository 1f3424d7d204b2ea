"""``client_credentials``: an app registration acting as itself (application permissions), no user."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr

from connections.clouds import CloudName, Endpoints, cloud_endpoints, default_scope
from connections.config import (
    CLOUD_DESCRIPTION,
    MULTI_TENANT,
    ConfigModel,
    OptionalGraphUrl,
    OptionalText,
    OptionalUrl,
    Tenant,
    client_id_field,
    client_secret_field,
    graph_base_url_field,
    login_base_url_field,
)
from connections.connection import AppOnlyConnection
from connections.identity import AppRegistration
from connections.identity_errors import ErrorContext

TYPE_KEY = "client_credentials"


def _app_scopes(value: str | None) -> str | None:
    """Client credentials take only ``{resource}/.default`` scopes (the identity platform refuses
    named permissions in this flow): the app gets every application permission granted to it."""
    if value is None:
        return None
    items = list(dict.fromkeys(value.split()))
    wrong = [s for s in items if not s.endswith("/.default")]
    if wrong:
        raise ValueError(
            f"client credentials take only '<resource>/.default' scopes, such as"
            f" https://graph.microsoft.com/.default; not {', '.join(repr(w) for w in wrong[:3])}"
        )
    return " ".join(items)


def _specific_tenant(value: str) -> str:
    if value.lower() in MULTI_TENANT:
        raise ValueError(f"app-only access needs one specific tenant (its id or domain), not {value!r}")
    return value


class ClientCredentialsConfig(ConfigModel):
    """App-only (client credentials): the app acts without a signed-in user, with application
    permissions an administrator granted. Every mailbox action needs a mailbox (default_mailbox)."""

    tenant: Annotated[Tenant, AfterValidator(_specific_tenant)] = Field(
        title="Tenant",
        description="The tenant's directory (tenant) id or a verified domain; not common or organizations.",
        examples=["7d3c5a1e-4b2f-4e8a-9c61-2f0b8d4e6a13", "contoso.onmicrosoft.com"],
        json_schema_extra={"not": {"enum": ["common", "consumers", "organizations"]}},
    )
    client_id: str = client_id_field()
    client_secret: SecretStr = client_secret_field(required=True)
    default_mailbox: OptionalText = Field(
        default=None,
        title="Default mailbox (user id)",
        description=(
            "Mailbox (user id or user principal name) that actions use when they name none. Empty: every"
            " mailbox action must name its mailbox (user_id), since an app-only connection has no"
            " signed-in user (/me)."
        ),
        examples=["support@contoso.com"],
    )
    scopes: Annotated[OptionalText, AfterValidator(_app_scopes)] = Field(
        default=None,
        title="Scopes",
        description=(
            "The app-only scope, '<resource>/.default' (every application permission granted to the app)."
            " Empty: the cloud's Graph, e.g. https://graph.microsoft.com/.default."
        ),
        examples=["https://graph.microsoft.com/.default"],
    )
    cloud: CloudName = Field(default="global", title="Cloud", description=CLOUD_DESCRIPTION)
    graph_base_url: OptionalGraphUrl = graph_base_url_field()
    login_base_url: OptionalUrl = login_base_url_field()

    def endpoints(self) -> Endpoints:
        return cloud_endpoints(self.cloud, self.tenant, self.graph_base_url, self.login_base_url)

    def registration(self, connection: str = "") -> AppRegistration:
        endpoints = self.endpoints()
        scope = self.scopes or default_scope(endpoints.graph_resource)
        secret = self.client_secret.get_secret_value()
        return AppRegistration(
            client_id=self.client_id,
            client_secret=secret,
            token_url=endpoints.token_url,
            authorize_url=None,
            scope=scope,
            redirect_uri=None,
            context=ErrorContext(
                connection=connection,
                client_id=self.client_id,
                tenant=self.tenant,
                scopes=scope,
                login_base_url=endpoints.login_base_url,
                graph_resource=endpoints.graph_resource,
                app_only=True,
                secrets=(secret,),
            ),
        )


class ClientCredentialsConnection(AppOnlyConnection):
    TYPE_KEY = TYPE_KEY
