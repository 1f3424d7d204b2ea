"""Identity platform failures -> ``AuthError`` with a message that says what to do.

Microsoft's token errors look like ``{"error": "invalid_grant", "error_description": "AADSTS70008:
...\\r\\nTrace ID: ...", "error_codes": [70008], "trace_id": "...", "correlation_id": "..."}``;
the authorize endpoint redirects back with ``error`` and ``error_description``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from connector.errors import AuthError

_AADSTS = re.compile(r"AADSTS(\d+)")


@dataclass(frozen=True)
class ErrorContext:
    """What hints may mention about the app registration and connection (nothing secret), and the
    secret values that must never appear in a message."""

    connection: str = ""
    client_id: str = ""
    tenant: str = ""
    scopes: str = ""
    redirect_uri: str = ""
    login_base_url: str | None = None
    graph_resource: str = ""
    app_only: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def reconnect(self) -> str:
        if self.connection:
            return (
                f"Reconnect: sign in again interactively (`outlook-connector connect {self.connection} ...`"
                " or the workflow builder's reconnect button)."
            )
        return "Reconnect: sign in again interactively."

    def admin_consent_url(self) -> str | None:
        if not (self.login_base_url and self.client_id and self.graph_resource):
            return None
        tenant = self.tenant if self.tenant not in ("", "common", "consumers") else "organizations"
        query = {"client_id": self.client_id, "scope": f"{self.graph_resource}/.default"}
        if self.redirect_uri:
            query["redirect_uri"] = self.redirect_uri
        return f"{self.login_base_url}/{tenant}/v2.0/adminconsent?{urlencode(query)}"


def _consent(ctx: ErrorContext) -> str:
    url = ctx.admin_consent_url()
    where = f"open {url}" if url else "Entra admin center > App registrations > API permissions"
    app = f"the app {ctx.client_id}" if ctx.client_id else "the app"
    if ctx.app_only:
        return f"An administrator must grant admin consent to the application permissions of {app} ({where})."
    scopes = f" to the scopes {ctx.scopes}" if ctx.scopes else ""
    return (
        f"Consent is missing: an administrator must grant consent for {app} ({where}), or the user "
        f"must consent{scopes}. {ctx.reconnect()}"
    )


def _mfa(ctx: ErrorContext) -> str:
    return (
        f"Multi-factor authentication (or another sign-in requirement) must be completed. {ctx.reconnect()}"
    )


def _expired_grant(ctx: ErrorContext) -> str:
    return f"The sign-in (refresh token) expired, was revoked or was already used. {ctx.reconnect()}"


def _inactive(ctx: ErrorContext) -> str:
    return f"The refresh token expired after a long period without use. {ctx.reconnect()}"


def _client_secret(ctx: ErrorContext) -> str:
    return (
        "The client secret is wrong or expired: create a new client secret in the app registration "
        "(Entra admin center > App registrations > Certificates & secrets), and put its Value (not "
        "its Secret ID) in the connection's client_secret."
    )


def _missing_secret(ctx: ErrorContext) -> str:
    return (
        "The app registration is a confidential client: set the connection's client_secret, or allow "
        "public client flows in the app registration (Authentication > Allow public client flows)."
    )


def _app_not_found(ctx: ErrorContext) -> str:
    return (
        f"Check the client_id ({ctx.client_id}) and tenant ({ctx.tenant}): the app must be registered in "
        "that tenant (or be multi-tenant and consented to there), in the same cloud as the connection."
    )


def _tenant_not_found(ctx: ErrorContext) -> str:
    return (
        f"Check the tenant ({ctx.tenant}): use the directory (tenant) id or a verified domain, and the "
        "cloud the tenant lives in."
    )


def _redirect_uri(ctx: ErrorContext) -> str:
    uri = f" {ctx.redirect_uri}" if ctx.redirect_uri else ""
    return (
        f"Add the redirect URI{uri} to the app registration exactly (Authentication > Add a platform; "
        "http://localhost for a local sign-in, any port), or change the connection's redirect_uri."
    )


def _scope(ctx: ErrorContext) -> str:
    return (
        f"Check the connection's scopes ({ctx.scopes}): Graph permission names such as Mail.Read, "
        "plus offline_access; app-only connections use <graph host>/.default."
    )


def _client(ctx: ErrorContext) -> str:
    return "Check the connection's client_id and client_secret against the app registration."


def _resource(ctx: ErrorContext) -> str:
    return "Microsoft Graph was not found for this tenant: check the connection's cloud."


def _pkce(ctx: ErrorContext) -> str:
    return "The sign-in could not be completed (PKCE check failed or code reused); start the sign-in again."


def _user(ctx: ErrorContext) -> str:
    return f"The account cannot sign in (disabled, blocked by policy or unknown). {ctx.reconnect()}"


def _transient(ctx: ErrorContext) -> str:
    return "The identity platform is temporarily unavailable; try again in a moment."


HINTS: dict[int, Callable[[ErrorContext], str]] = {
    65001: _consent,
    65004: _consent,
    50076: _mfa,
    50079: _mfa,
    50074: _mfa,
    50158: _mfa,
    70008: _expired_grant,
    70043: _expired_grant,
    700082: _inactive,
    7000215: _client_secret,
    7000222: _client_secret,
    7000218: _missing_secret,
    700016: _app_not_found,
    90002: _tenant_not_found,
    50011: _redirect_uri,
    500113: _redirect_uri,
    70011: _scope,
    1002012: _scope,
    500011: _resource,
    54005: _pkce,
    50148: _pkce,
    501481: _pkce,
    50057: _user,
    53003: _user,
    50034: _user,
    90033: _transient,
}
"""AADSTS number -> hint."""

ERROR_HINTS: dict[str, Callable[[ErrorContext], str]] = {
    "invalid_client": _client,
    "unauthorized_client": _app_not_found,
    "invalid_scope": _scope,
    "consent_required": _consent,
    "interaction_required": _mfa,
    "login_required": lambda ctx: ctx.reconnect(),
    "invalid_grant": _expired_grant,
    "temporarily_unavailable": _transient,
    "access_denied": lambda ctx: f"The sign-in was cancelled or consent was declined. {ctx.reconnect()}",
}
"""OAuth ``error`` -> hint, when the AADSTS number has none."""


def aadsts_code(body: Mapping[str, Any]) -> int | None:
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        return codes[0]
    match = _AADSTS.search(str(body.get("error_description", "")))
    return int(match.group(1)) if match else None


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def identity_error(
    body: Mapping[str, Any] | None, ctx: ErrorContext, status: int = 400, what: str = "token request"
) -> AuthError:
    """The ``AuthError`` for an identity platform error answer (token JSON or authorize redirect)."""
    body = body or {}
    error = str(body.get("error") or ("server_error" if status >= 500 else "invalid_response"))
    code = aadsts_code(body)
    description = str(body.get("error_description") or "").strip().splitlines()
    detail = description[0].strip() if description else ""
    if not detail:
        detail = f"HTTP {status}" if not body else error
    labels = (("trace_id", "trace ID"), ("correlation_id", "correlation ID"))
    ids = [f"{label} {body[key]}" for key, label in labels if body.get(key)]
    message = f"The identity platform refused the {what} ({error}): {detail}"
    if ids:
        message += f" [{', '.join(ids)}]"
    hint_for = HINTS.get(code) if code is not None else None
    if hint_for is None:
        hint_for = _transient if status >= 500 or status == 429 else ERROR_HINTS.get(error)
    if hint_for is not None:
        hint = hint_for(ctx)
    else:
        hint = f"See https://login.microsoftonline.com/error?code={code}" if code else ""
    return AuthError(
        _scrub(message, ctx.secrets),
        code=error,
        aadsts=str(code) if code is not None else "",
        hint=_scrub(hint, ctx.secrets),
    )


def unreachable(url: str, exc: Exception) -> AuthError:
    """The token endpoint could not be reached (no answer)."""
    from urllib.parse import urlsplit

    host = urlsplit(url).netloc
    return AuthError(
        f"Could not reach the identity platform at {host} ({type(exc).__name__}).",
        code="unreachable",
        hint="Check the network, the proxy settings and the connection's cloud or login_base_url.",
    )
