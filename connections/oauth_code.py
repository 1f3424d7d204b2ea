"""``oauth2_code``: a user signs in (authorization code with PKCE); acts as that user."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator

from connections.clouds import CLOUDS, CloudName, Endpoints, cloud_endpoints, qualify_scopes
from connections.config import (
    CLOUD_DESCRIPTION,
    DEFAULT_MAILBOX_DESCRIPTION,
    DEFAULT_REDIRECT_URI,
    DEFAULT_SCOPES,
    TENANT_PATTERN,
    ConfigModel,
    OptionalGraphUrl,
    OptionalSecret,
    OptionalText,
    OptionalUrl,
    RedirectUri,
    Scopes,
    Tenant,
    check_authorize_query,
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


def split_tenant_url(text: str) -> tuple[str, str]:
    """``login.microsoftonline.com/common`` (scheme optional, https assumed) -> (login base URL,
    tenant). ValueError naming what is wrong."""
    url = text.strip().rstrip("/")
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    segments = [p for p in parts.path.split("/") if p]
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username
        or len(segments) != 1
        or not re.match(TENANT_PATTERN, segments[0])
    ):
        raise ValueError(
            "expected the login host and one tenant, such as https://login.microsoftonline.com/common"
            " or login.microsoftonline.com/contoso.onmicrosoft.com"
        )
    return f"{parts.scheme}://{parts.netloc}", segments[0]


def _authorize_query(value: str | None) -> str | None:
    return None if value is None else check_authorize_query(value.lstrip("?"))


def _apply_tenant_url(data: Any) -> Any:
    """``tenant_url`` fills ``tenant`` and ``login_base_url``; they may be given too only if they agree."""
    if not isinstance(data, dict) or not isinstance(data.get("tenant_url"), str):
        return data
    if not data["tenant_url"].strip():
        return {k: v for k, v in data.items() if k != "tenant_url"}
    try:
        login, tenant = split_tenant_url(data["tenant_url"])
    except ValueError as exc:
        raise ValueError(f"tenant_url: {exc}") from None
    given_tenant, given_login = data.get("tenant"), data.get("login_base_url")
    if given_tenant and str(given_tenant).strip().lower() not in (tenant.lower(), "common"):
        raise ValueError(
            f"tenant: {given_tenant!r} differs from the tenant URL's {tenant!r}; give one of them"
        )
    if given_login and str(given_login).strip().rstrip("/").lower() != login.lower():
        raise ValueError("login_base_url: differs from the tenant URL's host; give one of them")
    host = (urlsplit(login).hostname or "").lower()
    cloud = str(data.get("cloud") or "global")
    homes = sorted(name for name, c in CLOUDS.items() if urlsplit(c.login).hostname == host)
    if homes and cloud not in homes:
        raise ValueError(f"cloud: the tenant URL is a login host of {' or '.join(homes)}; set cloud to match")
    return {**data, "tenant": tenant, "login_base_url": login}


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
    tenant_url: OptionalText = Field(
        default=None,
        title="Tenant URL",
        description=(
            "The login host and tenant in one, e.g. https://login.microsoftonline.com/common (Prismatic's"
            " Tenant URL; the scheme may be left out). Sets tenant and login_base_url."
        ),
        examples=["https://login.microsoftonline.com/common", "login.microsoftonline.com/contoso.com"],
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
    additional_authorization_parameters: Annotated[OptionalText, AfterValidator(_authorize_query)] = Field(
        default=None,
        title="Additional authorization parameters",
        description=(
            "A query string added to every sign-in's authorize request, e.g. prompt=consent to show the"
            " consent screen or login_hint=user@example.com to pre-fill the account."
        ),
        examples=["prompt=consent", "login_hint=user@example.com"],
    )
    default_mailbox: OptionalText = Field(
        default=None,
        title="Default mailbox",
        description=DEFAULT_MAILBOX_DESCRIPTION,
        examples=["support@contoso.com"],
    )
    graph_base_url: OptionalGraphUrl = graph_base_url_field()
    login_base_url: OptionalUrl = login_base_url_field()

    _tenant_url = model_validator(mode="before")(_apply_tenant_url)

    def endpoints(self) -> Endpoints:
        endpoints = cloud_endpoints(self.cloud, self.tenant, self.graph_base_url, self.login_base_url)
        if self.additional_authorization_parameters and endpoints.authorize_url:
            extra = f"{endpoints.authorize_url}?{self.additional_authorization_parameters}"
            return replace(endpoints, authorize_url=extra)
        return endpoints

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
