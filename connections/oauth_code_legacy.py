"""``oauth2_code_legacy`` (deprecated): authorization code with hand-entered authorize and token URLs."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, Field

from connections.clouds import CLOUDS, GRAPH_VERSION, Endpoints
from connections.config import (
    DEFAULT_MAILBOX_DESCRIPTION,
    DEFAULT_REDIRECT_URI,
    DEFAULT_SCOPES,
    ConfigModel,
    GraphUrl,
    OptionalSecret,
    OptionalText,
    RedirectUri,
    Scopes,
    Url,
    check_authorize_query,
    client_id_field,
    client_secret_field,
    secret_value,
    with_graph_version,
)
from connections.connection import DelegatedConnection
from connections.identity import AppRegistration
from connections.identity_errors import ErrorContext

TYPE_KEY = "oauth2_code_legacy"
_GLOBAL = CLOUDS["global"]
_AUTHORITY = f"{_GLOBAL.login}/common/oauth2/v2.0"
DEFAULT_AUTHORIZE_URL = f"{_AUTHORITY}/authorize?prompt=consent"
DEFAULT_TOKEN_URL = f"{_AUTHORITY}/token"


def _authorize_url(value: str) -> str:
    """An http(s) URL whose query (``?prompt=consent``, ``&login_hint=...``) is kept and sent with
    every sign-in; parameters the flow sets itself are refused."""
    parts = urlsplit(value)
    if (
        parts.scheme not in ("https", "http")
        or not parts.netloc
        or parts.fragment
        or any(c.isspace() for c in value)
    ):
        raise ValueError("expected an http(s) URL, such as " + DEFAULT_AUTHORIZE_URL)
    if parts.query:
        check_authorize_query(parts.query)
    return value


AuthorizeUrl = Annotated[str, AfterValidator(_authorize_url)]


class OAuthCodeLegacyConfig(ConfigModel):
    """Deprecated: the authorization-code connection with explicit authorize and token URLs. Kept for
    existing flows; new flows should use the "Microsoft account (OAuth 2.0)" connection (oauth2_code)."""

    authorize_url: AuthorizeUrl = Field(
        default=DEFAULT_AUTHORIZE_URL,
        title="Authorize URL",
        description="The identity platform's authorization endpoint; a query (?prompt=consent) is sent"
        " with every sign-in.",
        examples=[DEFAULT_AUTHORIZE_URL, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"],
    )
    token_url: Url = Field(
        default=DEFAULT_TOKEN_URL,
        title="Token URL",
        description="The identity platform's token endpoint.",
        examples=[DEFAULT_TOKEN_URL],
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
    graph_base_url: GraphUrl = Field(
        default=_GLOBAL.graph,
        title="Graph base URL",
        description="Microsoft Graph root; without a version path /v1.0 is added.",
        examples=[_GLOBAL.graph, f"{_GLOBAL.graph}/{GRAPH_VERSION}"],
    )
    default_mailbox: OptionalText = Field(
        default=None, title="Default mailbox", description=DEFAULT_MAILBOX_DESCRIPTION
    )

    model_config = ConfigDict(json_schema_extra={"deprecated": True})  # merged with the base config

    def endpoints(self) -> Endpoints:
        return Endpoints(
            graph_base_url=with_graph_version(self.graph_base_url),
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
