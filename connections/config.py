"""Pieces the connection config models share: fields, validators, and the secret/non-secret split.

Secret fields are typed ``SecretStr`` and marked ``json_schema_extra={"secret": True}`` so a
workflow builder renders them as password inputs; the store keeps them encrypted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
)

if TYPE_CHECKING:
    from connections.clouds import Endpoints
    from connections.identity import AppRegistration

DEFAULT_SCOPES = (
    "User.Read Mail.ReadWrite Mail.Send Calendars.ReadWrite Contacts.ReadWrite MailboxSettings.ReadWrite "
    "offline_access"
)
DEFAULT_REDIRECT_URI = "http://localhost"
SECRET: dict[str, Any] = {"secret": True}

MULTI_TENANT = frozenset({"common", "organizations", "consumers"})


class ConfigModel(BaseModel):
    """Base of the connection config models: strict (unknown fields refused), immutable. Subclasses
    say where the connection talks (``endpoints``) and as which app (``registration``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True)

    def endpoints(self) -> Endpoints:
        raise NotImplementedError

    def registration(self, connection: str = "") -> AppRegistration:
        """The app registration; ``connection`` (its name) is only used in error hints."""
        raise NotImplementedError

    def mailbox(self) -> str | None:
        """The default mailbox (None: the signed-in user)."""
        value = getattr(self, "default_mailbox", None)
        return str(value) if value else None


def secret_fields(model: type[BaseModel]) -> frozenset[str]:
    """Names of the fields marked secret."""
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("secret") is True
    )


def split_secrets(config: BaseModel) -> tuple[dict[str, Any], dict[str, str]]:
    """(non-secret settings as JSON, secret settings in clear text) of a config model instance."""
    secret_names = secret_fields(type(config))
    plain = config.model_dump(mode="json", exclude=set(secret_names))
    secrets: dict[str, str] = {}
    for name in secret_names:
        value = getattr(config, name)
        if value is not None:
            secrets[name] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return plain, secrets


def secret_value(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None and value.get_secret_value() else None


TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.-]*$"
URL_PATTERN = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
REDIRECT_URI_PATTERN = r"^https?://[^\s/?#]+(/[^\s#]*)?$"


def _blank_to_none(value: Any) -> Any:
    """Forms send an empty string for a field left blank: treat it as not given."""
    return None if isinstance(value, str) and not value.strip() else value


def _without_trailing_slash(value: str) -> str:
    return value.rstrip("/")


def with_graph_version(value: str) -> str:
    """A Graph root given without its version (``https://graph.microsoft.com``, Prismatic's default
    Base URL) gets ``/v1.0``; a URL with a path (``.../v1.0``, ``.../beta``, a proxy's) is kept."""
    from connections.clouds import GRAPH_VERSION

    return value if urlsplit(value).path.strip("/") else f"{value.rstrip('/')}/{GRAPH_VERSION}"


def check_scopes(value: str) -> str:
    items = value.split()
    if not items:
        raise ValueError("name at least one scope")
    return " ".join(dict.fromkeys(items))


Tenant = Annotated[str, StringConstraints(pattern=TENANT_PATTERN)]
"""common, organizations, consumers, a tenant id or a domain."""
Url = Annotated[str, StringConstraints(pattern=URL_PATTERN), AfterValidator(_without_trailing_slash)]
"""An http(s) URL without query or fragment, kept without its trailing slash."""
OptionalUrl = Annotated[Url | None, BeforeValidator(_blank_to_none)]
GraphUrl = Annotated[Url, AfterValidator(with_graph_version)]
"""A Graph root; without a version path it gets /v1.0."""
OptionalGraphUrl = Annotated[GraphUrl | None, BeforeValidator(_blank_to_none)]
RedirectUri = Annotated[str, StringConstraints(pattern=REDIRECT_URI_PATTERN)]
Scopes = Annotated[str, StringConstraints(pattern=r"\S"), AfterValidator(check_scopes)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_blank_to_none)]


# Field definitions shared by the models (functions: each model gets its own FieldInfo).
def client_id_field() -> Any:
    return Field(
        title="Application (client) ID",
        description="The Application (client) ID of the app registration (Entra admin center).",
        min_length=1,
        examples=["5f1c8e2a-9b7d-4c3e-a6f0-1d2e3b4c5a69"],
    )


def graph_base_url_field() -> Any:
    return Field(
        default=None,
        title="Graph base URL (advanced)",
        description=(
            "Overrides where Microsoft Graph is reached (e.g. a local sandbox or a proxy); a URL without a "
            "version path gets /v1.0 (https://graph.microsoft.com works). Empty: the cloud's Graph "
            "endpoint, e.g. https://graph.microsoft.com/v1.0."
        ),
        examples=["http://127.0.0.1:8765/v1.0"],
    )


def login_base_url_field() -> Any:
    return Field(
        default=None,
        title="Login base URL (advanced)",
        description=(
            "Overrides the identity platform host (the part before /{tenant}/oauth2/v2.0/...), e.g. a "
            "local sandbox. Empty: the cloud's login host, e.g. https://login.microsoftonline.com."
        ),
        examples=["http://127.0.0.1:8765"],
    )


DEFAULT_MAILBOX_DESCRIPTION = (
    "Mailbox (user id or user principal name) that actions use when they name none; empty means the "
    "signed-in user (/me)."
)
CLOUD_DESCRIPTION = (
    "Microsoft cloud of the tenant: global (graph.microsoft.com), us_gov (GCC High, graph.microsoft.us), "
    "us_gov_dod (DoD, dod-graph.microsoft.us) or china (operated by 21Vianet, "
    "microsoftgraph.chinacloudapi.cn). The app must be registered in the same cloud."
)


def client_secret_field(required: bool) -> Any:
    description = "The client secret's Value (Certificates & secrets), not its Secret ID."
    if not required:
        description += " Leave empty for a public client (Allow public client flows)."
    return Field(
        default=... if required else None,
        title="Client secret",
        description=description,
        json_schema_extra=SECRET,
    )


FLOW_PARAMETERS = frozenset(
    {
        "client_id",
        "response_type",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
        "response_mode",
    }
)
"""Authorize-request parameters the sign-in sets itself: configured extras may not carry them."""


def check_authorize_query(query: str) -> str:
    """Extra authorize parameters (``prompt=consent&login_hint=...``): a query string without the
    flow's own parameters."""
    from urllib.parse import parse_qsl

    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ValueError(
            "expected a query string such as prompt=consent&login_hint=user@example.com"
        ) from None
    taken = sorted({k for k, _ in pairs} & FLOW_PARAMETERS)
    if taken:
        raise ValueError(f"the sign-in sets {', '.join(taken)} itself; remove it")
    return query
