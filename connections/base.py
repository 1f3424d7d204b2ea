"""What the runtime needs from any connection type."""

from __future__ import annotations

from typing import Protocol

import httpx


class Connection(Protocol):
    """A configured, usable connection to one tenant's Microsoft Graph.

    ``graph_base_url`` includes the version segment, e.g. ``https://graph.microsoft.com/v1.0``.
    ``default_mailbox`` is the user id/UPN used when an action names none; app-only connections
    must have one because they have no ``/me``.
    ``throttle_key`` identifies the app (client id + tenant) for the per app+mailbox limit.
    ``auth()`` returns an ``httpx.Auth`` that adds the bearer token, refreshes it shortly before
    expiry and once on a 401, and stores rotated tokens.
    """

    name: str
    type_key: str
    graph_base_url: str
    default_mailbox: str | None
    app_only: bool
    throttle_key: str

    def auth(self) -> httpx.Auth: ...
