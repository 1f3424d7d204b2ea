"""``oauth2_code_legacy`` (deprecated): authorization code with hand-entered authorize and token URLs."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from connections.clouds import CLOUDS, GRAPH_VERSION, Endpoints
from connections.config import (
    DEFAULT_MAILBOX_DESCRIPTION,
    DEFAULT_REDIRECT_URI,
    DEFAULT_SCOPES,
    ConfigModel,
    OptionalSecret,
    OptionalText,
    RedirectUri,
    Scopes,
    Url,
    client_id_field,
    client_secret_field,
    secret_value,
)
from connections.connection import DelegatedConnection
from connections.identity import AppRegistration
from connections.identity_errors import ErrorContext

TYPE_KEY = "oauth2_code_legacy"
_GLOBAL = CLOUDS["global"]


class OAuthCodeLegacyConfig(ConfigModel):
    """Deprecated: the authorization-code connection with explicit authorize and token URLs. Kept for
    existing flows; new flows should use the "Microsoft account (OAuth 2.0)" connection (oauth2_code)."""

    authorize_url: Url = Field(
        title="Authorize URL",
        description="The identity platform's authorization endpoint.",
        examples=["https://login.microsoftonline.com/common/oauth2/v2.0/authorize"],
    )
    token_url: Url = Field(
        title="Token URL",
        description="The identity platform's token endpoint.",
        examples=["https://login.microsoftonline.com/common/oauth2/v2.0/token"],
    )
    client_id: str = client_id_field()
    client_secret: OptionalSecret = client_secret_field(required=False)
    scopes: Scopes = Field(
        default=DEFAULT_SCOPES,
        title="Scopes",
        description="Permissions to ask for, separated by spaces, exactly as the token URL expects them.",
        examples=[DEFAULT_SCOPES],
    )
    redirect_uri: RedirectUri = Field(
        default=DEFAULT_REDIRECT_URI,
        title="Redirect URI",
        description="Where the user is sent back after signing in; it must be registered on the app.",
        examples=["http://localhost"],
    )
    graph_base_url: Url = Field(
        default=f"{_GLOBAL.graph}/{GRAPH_VERSION}",
        title="Graph base URL",
        description="Microsoft Graph root, version included.",
        examples=[f"{_GLOBAL.graph}/{GRAPH_VERSION}"],
    )
    default_mailbox: OptionalText = Field(
        default=None, title="Default mailbox", description=DEFAULT_MAILBOX_DESCRIPTION
    )

    model_config = ConfigDict(json_schema_extra={"deprecated": True})  # merged with the base config

    def endpoints(self) -> Endpoints:
        return Endpoints(
            graph_base_url=self.graph_base_url,
            graph_resource=_GLOBAL.graph,
            login_base_url=None,
            authorize_url=self.authorize_url,
            token_url=self.token_url,
        )

    def registration(self, connection: str = "") -> AppRegistration:
        secret = secret_value(self.client_secret)
        return AppRegistration(
            client_id=self.client_id,
            client_secret=secret,
            token_url=self.token_url,
            authorize_url=self.authorize_url,
            scope=self.scopes,
            redirect_uri=self.redirect_uri,
            context=ErrorContext(
                connection=connection,
                client_id=self.client_id,
                scopes=self.scopes,
                redirect_uri=self.redirect_uri,
                secrets=(secret,) if secret else (),
            ),
        )


class OAuthCodeLegacyConnection(DelegatedConnection):
    TYPE_KEY = TYPE_KEY
