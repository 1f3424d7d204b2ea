"""A token set: the access token, the refresh token (delegated only) and when the access token expires."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.errors import AuthError

DEFAULT_LIFETIME = 3600.0
"""Assumed access token lifetime (seconds) when the identity platform sends no ``expires_in``."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str = field(repr=False)
    expires_at: float
    """Epoch seconds."""
    refresh_token: str | None = field(default=None, repr=False)
    scope: str = ""
    token_type: str = "Bearer"

    @classmethod
    def from_response(
        cls, body: Mapping[str, Any], now: float, previous_refresh_token: str | None = None
    ) -> TokenSet:
        """From a token endpoint answer; a refresh answer without a new refresh token keeps the old one."""
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise AuthError(
                "The identity platform answered without an access token.", code="invalid_response"
            )
        try:
            lifetime = float(body.get("expires_in", DEFAULT_LIFETIME))
        except (TypeError, ValueError):
            lifetime = DEFAULT_LIFETIME
        refresh_token = body.get("refresh_token")
        return cls(
            access_token=access_token,
            expires_at=now + lifetime,
            refresh_token=refresh_token if isinstance(refresh_token, str) else previous_refresh_token,
            scope=str(body.get("scope", "")),
            token_type=str(body.get("token_type", "Bearer")),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenSet:
        """From ``to_dict()`` (what the store keeps)."""
        return cls(
            access_token=str(data["access_token"]),
            expires_at=float(data["expires_at"]),
            refresh_token=data.get("refresh_token"),
            scope=str(data.get("scope", "")),
            token_type=str(data.get("token_type", "Bearer")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "refresh_token": self.refresh_token,
            "scope": self.scope,
            "token_type": self.token_type,
        }

    def expires_within(self, seconds: float, now: float) -> bool:
        return self.expires_at - now <= seconds
