"""The identity platform's OAuth vocabulary: error answers, scopes, users, clients, redirect URIs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Response, request

from sandbox import seed
from sandbox.errors import oauth_error
from sandbox.grants import GRAPH_APP_ID, GRAPH_RESOURCE

TENANTS = {"common", "organizations", seed.TENANT_ID, seed.TENANT_DOMAIN.lower()}
"""Tenant path segments the sandbox answers for (compared lower-cased)."""
_SCOPE_CANON = {scope.lower(): scope for scope in seed.DELEGATED_SCOPES}
_GRAPH_PREFIXES = (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/")


class IdentityFailure(Exception):
    """An identity platform error answer (status, OAuth error, AADSTS number, description)."""

    def __init__(self, status: int, error: str, aadsts: int, description: str, **extra: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.aadsts = aadsts
        self.description = description
        self.extra = extra

    def response(self) -> Response:
        return oauth_error(self.status, self.error, self.aadsts, self.description, **self.extra)


@dataclass(frozen=True)
class ScopeRequest:
    graph: tuple[str, ...]
    oidc: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.graph, *self.oidc)


def parse_delegated_scopes(raw: str | None) -> ScopeRequest:
    """Graph delegated scopes (short canonical names) and OpenID scopes of a ``scope`` parameter."""
    if not raw or not raw.strip():
        raise IdentityFailure(
            400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."
        )
    graph: list[str] = []
    oidc: list[str] = []
    wants_default = False
    for item in raw.split():
        lowered = item.lower()
        if lowered in seed.OIDC_SCOPES:
            oidc.append(lowered)
            continue
        name = item
        for prefix in _GRAPH_PREFIXES:
            if lowered.startswith(prefix):
                name = item[len(prefix) :]
        if name.lower() == ".default" and name != item:
            wants_default = True
        elif name.lower() in _SCOPE_CANON:
            graph.append(_SCOPE_CANON[name.lower()])
        else:
            raise IdentityFailure(
                400,
                "invalid_scope",
                70011,
                f"The provided value for the input parameter 'scope' is not valid. The scope "
                f"{item} is not valid.",
            )
    if wants_default and graph:
        raise IdentityFailure(
            400,
            "invalid_scope",
            70011,
            "The provided value for the input parameter 'scope' is not valid. The '.default' "
            "scope can't be combined with resource-specific scopes.",
        )
    if wants_default:
        graph = list(seed.DELEGATED_SCOPES)
    return ScopeRequest(tuple(dict.fromkeys(graph)), tuple(dict.fromkeys(oidc)))


def issuer() -> str:
    return f"{request.host_url}{seed.TENANT_ID}/v2.0"


def user_by_upn(upn: str) -> dict[str, Any] | None:
    return next((u for u in seed.DIRECTORY if u["userPrincipalName"].lower() == upn.lower()), None)


def user_by_id(user_id: str) -> dict[str, Any]:
    return next(u for u in seed.DIRECTORY if u["id"] == user_id)


def redirect_uri_allowed(uri: str) -> bool:
    """Loopback http URIs (any port and path) and any https URI are registered for the sandbox app."""
    parts = urlsplit(uri)
    if parts.scheme == "https":
        return bool(parts.netloc)
    return parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1")


def unknown_client(client_id: str) -> IdentityFailure:
    return IdentityFailure(
        400,
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{seed.TENANT_NAME}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant.",
    )
