"""``oauth2_code``: a user signs in (authorization code with PKCE); acts as that user."""

from __future__ import annotations

from pydantic import Field

from connections.clouds import CloudName, Endpoints, cloud_endpoints, qualify_scopes
from connections.config import (
    CLOUD_DESCRIPTION,
    DEFAULT_MAILBOX_DESCRIPTION,
    DEFAULT_REDIRECT_URI,
    DEFAULT_SCOPES,
    ConfigModel,
    OptionalSecret,
    OptionalText,
    OptionalUrl,
    RedirectUri,
    Scopes,
    Tenant,
    client_id_field,
    client_secret_field,
    graph_base_url_field,
    login_base_url_field,
    secret_value,
)
from connections.connection import DelegatedConnection
from connections.identity import AppRegistration
from connections.identity_errors import ErrorContext

TYPE_KEY = "oauth2_code"


class OAuthCodeConfig(ConfigModel):
    """Microsoft account (OAuth 2.0): sign in as a user with the authorization code flow and PKCE."""

    client_id: str = client_id_field()
    client_secret: OptionalSecret = client_secret_field(required=False)
    tenant: Tenant = Field(
        default="common",
        title="Tenant",
        description=(
            "Who may sign in: common (work, school and personal accounts), organizations (work or "
            "school), consumers (personal Microsoft accounts), or one tenant's id or domain."
        ),
        examples=["common", "organizations", "consumers", "contoso.onmicrosoft.com"],
    )
    cloud: CloudName = Field(default="global", title="Cloud", description=CLOUD_DESCRIPTION)
    redirect_uri: RedirectUri = Field(
        default=DEFAULT_REDIRECT_URI,
        title="Redirect URI",
        description=(
            "Where the identity platform sends the user back; it must be registered on the app. A "
            "local sign-in listens on http://localhost (any port)."
        ),
        examples=["http://localhost", "https://workflows.example.com/oauth/callback"],
    )
    scopes: Scopes = Field(
        default=DEFAULT_SCOPES,
        title="Scopes",
        description=(
            "Delegated Graph permissions to ask for, separated by spaces; offline_access keeps the "
            "connection signed in. National clouds get their Graph host prefixed automatically."
        ),
        examples=[DEFAULT_SCOPES, "User.Read Mail.Read offline_access"],
    )
    default_mailbox: OptionalText = Field(
        default=None,
        title="Default mailbox",
        description=DEFAULT_MAILBOX_DESCRIPTION,
        examples=["support@contoso.com"],
    )
    graph_base_url: OptionalUrl = graph_base_url_field()
    login_base_url: OptionalUrl = login_base_url_field()

    def endpoints(self) -> Endpoints:
        return cloud_endpoints(self.cloud, self.tenant, self.graph_base_url, self.login_base_url)

    def registration(self, connection: str = "") -> AppRegistration:
        endpoints = self.endpoints()
        scope = qualify_scopes(self.scopes, endpoints.graph_resource)
        secret = secret_value(self.client_secret)
        return AppRegistration(
            client_id=self.client_id,
            client_secret=secret,
            token_url=endpoints.token_url,
            authorize_url=endpoints.authorize_url,
            scope=scope,
            redirect_uri=self.redirect_uri,
            context=ErrorContext(
                connection=connection,
                client_id=self.client_id,
                tenant=self.tenant,
                scopes=scope,
                redirect_uri=self.redirect_uri,
                login_base_url=endpoints.login_base_url,
                graph_resource=endpoints.graph_resource,
                secrets=(secret,) if secret else (),
            ),
        )


class OAuthCodeConnection(DelegatedConnection):
    TYPE_KEY = TYPE_KEY
