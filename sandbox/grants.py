"""The identity platform's memory: authorization codes, refresh tokens, issued access tokens, and
failures forced by tests (consent, MFA...). Issues the signed tokens."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import seed, tokens

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


@dataclass(frozen=True)
class ForcedFailure:
    status: int
    error: str
    description: str
    extra: tuple[tuple[str, str], ...] = ()


FORCEABLE: dict[int, ForcedFailure] = {
    65001: ForcedFailure(
        400,
        "invalid_grant",
        f"The user or administrator has not consented to use the application with ID "
        f"'{seed.CLIENT_ID}' named '{seed.APP_DISPLAY_NAME}'. Send an interactive authorization "
        "request for this user and resource.",
        (("suberror", "consent_required"),),
    ),
    50076: ForcedFailure(
        400,
        "invalid_grant",
        "Due to a configuration change made by your administrator, or because you moved to a new "
        f"location, you must use multi-factor authentication to access '{GRAPH_APP_ID}'.",
        (
            ("suberror", "basic_action"),
            ("claims", '{"access_token":{"capolids":{"essential":true,"values":["sandbox-mfa"]}}}'),
        ),
    ),
    70008: ForcedFailure(
        400,
        "invalid_grant",
        "The provided authorization code or refresh token has expired due to inactivity. Send a "
        "new interactive authorization request for this user and resource.",
    ),
    700082: ForcedFailure(
        400,
        "invalid_grant",
        "The refresh token has expired due to inactivity. The token was issued long ago and was "
        "inactive for 90 days.",
    ),
    50057: ForcedFailure(400, "invalid_grant", "The user account is disabled."),
    53003: ForcedFailure(
        400,
        "invalid_grant",
        "Access has been blocked by Conditional Access policies.",
        (("suberror", "message_only"),),
    ),
    7000215: ForcedFailure(
        401,
        "invalid_client",
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app '{seed.CLIENT_ID}'.",
    ),
}
"""AADSTS failures a test can force on the next token request (``IdentityStore.force_failure``)."""


@dataclass
class AuthorizationCode:
    client_id: str
    redirect_uri: str
    user_id: str
    scopes: tuple[str, ...]
    code_challenge: str
    expires_at: float
    nonce: str | None = None
    redeemed: bool = False


@dataclass
class RefreshGrant:
    client_id: str
    user_id: str
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


@dataclass
class IdentityStore:
    clock: Callable[[], float]
    token_lifetime: int
    code_lifetime: int
    refresh_token_lifetime: int
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshGrant] = field(default_factory=dict)
    forced: dict[str, int] = field(default_factory=dict)
    """Subject (user id, or ``app:<client id>``) -> AADSTS code of its next token request."""
    issued: dict[str, str] = field(default_factory=dict)
    """Access token ``uti`` -> subject."""
    expired: set[str] = field(default_factory=set)
    """``uti`` of access tokens expired early."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- codes and refresh tokens ------------------------------------------------------------------------
    def new_code(self, **fields: Any) -> str:
        code = "0.A" + secrets.token_urlsafe(96)
        with self.lock:
            self.codes[code] = AuthorizationCode(expires_at=self.clock() + self.code_lifetime, **fields)
        return code

    def new_refresh_token(self, client_id: str, user_id: str, scopes: tuple[str, ...]) -> str:
        token = "1.A" + secrets.token_urlsafe(180)
        with self.lock:
            self.refresh_tokens[token] = RefreshGrant(
                client_id, user_id, scopes, self.clock() + self.refresh_token_lifetime
            )
        return token

    # -- forced failures and early expiry --------------------------------------------------------------
    def force_failure(self, subject: str, aadsts: int) -> None:
        if aadsts not in FORCEABLE:
            raise ValueError(f"cannot force AADSTS{aadsts}; choose one of {sorted(FORCEABLE)}")
        with self.lock:
            self.forced[subject] = aadsts

    def take_forced_failure(self, subject: str) -> int | None:
        with self.lock:
            return self.forced.pop(subject, None)

    def expire(self, subject: str | None = None, refresh_tokens: bool = False) -> int:
        """Expire the access tokens (and optionally refresh tokens) of ``subject``, or of everyone.
        Returns how many access tokens were expired."""
        with self.lock:
            doomed = {uti for uti, owner in self.issued.items() if subject is None or owner == subject}
            self.expired |= doomed
            if refresh_tokens:
                for grant in self.refresh_tokens.values():
                    if subject is None or grant.user_id == subject or f"app:{grant.client_id}" == subject:
                        grant.expires_at = 0
            return len(doomed)

    def is_expired(self, uti: str) -> bool:
        with self.lock:
            return uti in self.expired

    # -- token issuing ---------------------------------------------------------------------------------
    def _base_claims(self, issuer: str, audience: str, subject: str) -> dict[str, Any]:
        now = int(self.clock())
        uti = secrets.token_urlsafe(16)
        with self.lock:
            self.issued[uti] = subject
        return {
            "aud": audience,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + self.token_lifetime,
            "tid": seed.TENANT_ID,
            "uti": uti,
            "ver": "2.0",
        }

    def delegated_access_token(
        self, issuer: str, client_id: str, user: dict[str, Any], scopes: tuple[str, ...]
    ) -> str:
        claims = self._base_claims(issuer, GRAPH_RESOURCE, user["id"])
        claims.update(
            {
                "appid": client_id,
                "azp": client_id,
                "app_displayname": seed.APP_DISPLAY_NAME,
                "idtyp": "user",
                "oid": user["id"],
                "sub": user["id"],
                "name": user["displayName"],
                "given_name": user["givenName"],
                "family_name": user["surname"],
                "upn": user["userPrincipalName"],
                "unique_name": user["userPrincipalName"],
                "scp": " ".join(scopes),
            }
        )
        return tokens.sign(claims)

    def app_access_token(self, issuer: str, client_id: str, roles: tuple[str, ...]) -> str:
        claims = self._base_claims(issuer, GRAPH_RESOURCE, f"app:{client_id}")
        claims.update(
            {
                "appid": client_id,
                "azp": client_id,
                "app_displayname": seed.APP_DISPLAY_NAME,
                "idtyp": "app",
                "oid": seed.SERVICE_PRINCIPAL_ID,
                "sub": seed.SERVICE_PRINCIPAL_ID,
                "roles": list(roles),
            }
        )
        return tokens.sign(claims)

    def id_token(
        self, issuer: str, client_id: str, user: dict[str, Any], scopes: tuple[str, ...], nonce: str | None
    ) -> str:
        claims = self._base_claims(issuer, client_id, f"id:{user['id']}")
        claims.update(
            {
                "oid": user["id"],
                "sub": user["id"],
                "name": user["displayName"],
                "preferred_username": user["userPrincipalName"],
            }
        )
        if "email" in scopes:
            claims["email"] = user["mail"]
        if nonce:
            claims["nonce"] = nonce
        return tokens.sign(claims)
