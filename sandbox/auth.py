"""Graph's side of tokens: who is calling, and may they touch this mailbox or directory object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from flask import request

from sandbox import seed, tokens
from sandbox.errors import GraphError, access_denied
from sandbox.grants import GRAPH_APP_ID, GRAPH_RESOURCE
from sandbox.state import SandboxState

MailAccess = Literal["folders", "read", "write", "send"]

# Permissions that allow each kind of mailbox access: (own mailbox, shared mailbox, app-only).
_MAIL_PERMISSIONS: dict[str, tuple[set[str], set[str], set[str]]] = {
    "folders": (
        {"Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"},
        {"Mail.Read.Shared", "Mail.ReadWrite.Shared"},
        {"Mail.ReadBasic.All", "Mail.Read", "Mail.ReadWrite"},
    ),
    "read": (
        {"Mail.Read", "Mail.ReadWrite"},
        {"Mail.Read.Shared", "Mail.ReadWrite.Shared"},
        {"Mail.Read", "Mail.ReadWrite"},
    ),
    "write": ({"Mail.ReadWrite"}, {"Mail.ReadWrite.Shared"}, {"Mail.ReadWrite"}),
    "send": ({"Mail.Send"}, {"Mail.Send.Shared"}, {"Mail.Send"}),
}
_READ_SELF = {
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
}
_READ_OTHERS = {"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All"}


@dataclass(frozen=True)
class Principal:
    app_id: str
    app_only: bool
    user_id: str | None
    permissions: frozenset[str]

    def has_any(self, wanted: set[str]) -> bool:
        return not self.permissions.isdisjoint(wanted)


def _unauthorized(message: str) -> GraphError:
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        {
            "WWW-Authenticate": f'Bearer realm="", authorization_uri="{request.host_url}common/oauth2/v2.0/'
            f'authorize", client_id="{GRAPH_APP_ID}"',
        },
    )


def authenticate(state: SandboxState) -> Principal:
    """The caller of the current request, from its bearer token (401 as Graph answers otherwise)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header or not token.strip():
        raise _unauthorized("Access token is empty.")
    if scheme.lower() != "bearer":
        raise _unauthorized("Access token validation failure. The authorization scheme must be Bearer.")
    try:
        claims = tokens.verify(token.strip())
    except tokens.TokenInvalid:
        raise _unauthorized(
            "Access token validation failure. Invalid signature or malformed token."
        ) from None
    if claims.get("aud") not in (GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID):
        raise _unauthorized("Access token validation failure. Invalid audience.")
    now = state.config.clock()
    if float(claims.get("exp", 0)) <= now or state.identity.is_expired(str(claims.get("uti", ""))):
        raise _unauthorized("Lifetime validation failed, the token is expired.")
    if float(claims.get("nbf", 0)) > now + 300:
        raise _unauthorized("Lifetime validation failed, the token is not yet valid.")
    if claims.get("tid") != seed.TENANT_ID:
        raise _unauthorized("Access token validation failure. The token was issued for another tenant.")
    if claims.get("idtyp") == "app" or "scp" not in claims:
        return Principal(str(claims.get("appid", "")), True, None, frozenset(claims.get("roles") or ()))
    return Principal(
        str(claims.get("appid", "")),
        False,
        str(claims.get("oid")),
        frozenset(str(claims.get("scp", "")).split()),
    )


def resolve_user(
    state: SandboxState, principal: Principal, ref: str | None, *, mailbox: bool
) -> dict[str, Any]:
    """The user a path names: ``/me`` (``ref`` None) or ``/users/{id or UPN}``."""
    if ref is None:
        if principal.app_only:
            raise GraphError(
                400, "BadRequest", "/me request is only valid with delegated authentication flow."
            )
        user = state.find_user(str(principal.user_id))
        if user is None:
            raise access_denied()
        return user
    user = state.find_user(ref)
    if user is None:
        if mailbox:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{ref}' is invalid.")
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{ref}' does not exist or one of its queried reference-property objects are "
            "not present.",
        )
    return user


def require_mail(principal: Principal, owner: dict[str, Any], access: MailAccess) -> None:
    """403 ErrorAccessDenied unless the token may do ``access`` on ``owner``'s mailbox."""
    own, shared, app = _MAIL_PERMISSIONS[access]
    if principal.app_only:
        allowed = principal.has_any(app)
    elif owner["id"] == principal.user_id:
        allowed = principal.has_any(own)
    elif owner["id"] == seed.SHARED_MAILBOX_USER["id"]:
        allowed = principal.has_any(shared)
    else:
        allowed = False  # no other user has shared their mailbox with anyone
    if not allowed:
        raise access_denied()


def require_directory(principal: Principal, target: dict[str, Any] | None) -> None:
    """May the token read ``target`` (None: list users)? Graph's directory answers 403 otherwise."""
    if principal.app_only:
        allowed = principal.has_any({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All"})
    elif target is not None and target["id"] == principal.user_id:
        allowed = principal.has_any(_READ_SELF)
    else:
        allowed = principal.has_any(_READ_OTHERS)
    if not allowed:
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )
