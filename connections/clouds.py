"""Microsoft clouds: their Graph and login hosts, endpoint URLs and Graph scope names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CloudName = Literal["global", "us_gov", "us_gov_dod", "china"]

GRAPH_VERSION = "v1.0"
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
"""OpenID Connect scopes: never prefixed with a resource."""


@dataclass(frozen=True)
class Cloud:
    graph: str
    """Graph service root (also the resource of Graph scopes), e.g. ``https://graph.microsoft.com``."""
    login: str
    """Identity platform authority host, e.g. ``https://login.microsoftonline.com``."""


CLOUDS: dict[str, Cloud] = {
    "global": Cloud("https://graph.microsoft.com", "https://login.microsoftonline.com"),
    "us_gov": Cloud("https://graph.microsoft.us", "https://login.microsoftonline.us"),
    "us_gov_dod": Cloud("https://dod-graph.microsoft.us", "https://login.microsoftonline.us"),
    "china": Cloud("https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
}


@dataclass(frozen=True)
class Endpoints:
    """Where one connection talks: Graph (with version), the Graph resource, and the identity URLs."""

    graph_base_url: str
    graph_resource: str
    login_base_url: str | None
    authorize_url: str | None
    token_url: str


def cloud_endpoints(
    cloud: str, tenant: str, graph_base_url: str | None = None, login_base_url: str | None = None
) -> Endpoints:
    """The endpoints of ``cloud`` for ``tenant``; the overrides replace the addresses (a sandbox,
    a proxy) while scopes keep naming the cloud's Graph resource."""
    known = CLOUDS[cloud]
    login = (login_base_url or known.login).rstrip("/")
    authority = f"{login}/{tenant}/oauth2/v2.0"
    return Endpoints(
        graph_base_url=(graph_base_url or f"{known.graph}/{GRAPH_VERSION}").rstrip("/"),
        graph_resource=known.graph,
        login_base_url=login,
        authorize_url=f"{authority}/authorize",
        token_url=f"{authority}/token",
    )


def qualify_scopes(scopes: str, graph_resource: str) -> str:
    """Space-separated scopes with bare Graph permission names prefixed by the Graph resource when
    it is not the global one (``Mail.Read`` -> ``https://graph.microsoft.us/Mail.Read``), as
    national clouds expect. OpenID scopes and already qualified scopes stay as they are."""
    items = list(dict.fromkeys(scopes.split()))
    if graph_resource == CLOUDS["global"].graph:
        return " ".join(items)
    return " ".join(
        s if s.lower() in OIDC_SCOPES or "/" in s or ":" in s else f"{graph_resource}/{s}" for s in items
    )


def default_scope(graph_resource: str) -> str:
    """The client-credentials scope: every application permission granted to the app."""
    return f"{graph_resource}/.default"
