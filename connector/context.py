"""What a handler receives besides its parameters."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from connector._paths import id_problem
from connector.errors import FieldError, InputValidationError, InvalidIdError

if TYPE_CHECKING:
    from connections.base import Connection
    from connector.http import GraphClient
    from connector.store import Store


def quote_segment(value: str) -> str:
    """URL-encode one id as one path segment (Graph ids may contain ``/``, ``+`` and ``=``).

    Raises ``InvalidIdError`` for an id that would not address exactly one segment (empty, only
    whitespace, ``.`` or ``..``, which the URL layer drops) or is longer than any Graph id.
    """
    problem = id_problem(value)
    if problem is not None:
        raise InvalidIdError(value, problem)
    return quote(value, safe="")


@dataclass
class ActionContext:
    """The HTTP client bound to the connection, the connection itself, a logger and the state store."""

    graph: GraphClient
    connection: Connection
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("outlook_connector.action"))
    store: Store | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def mailbox(self, user_id: str | None = None) -> str:
        """The mailbox base path: ``/me`` or ``/users/{user_id}``.

        ``user_id`` wins; else the connection's default mailbox; else ``/me``, which app-only
        connections do not have.
        """
        target = user_id or self.connection.default_mailbox
        if target:
            return "/users/" + quote_segment(target)
        if self.connection.app_only:
            raise InputValidationError(
                [
                    FieldError(
                        "user_id",
                        "is required with an app-only (client credentials) connection, which has no /me;"
                        " name a mailbox (UPN or id) or set the connection's default mailbox",
                    )
                ]
            )
        return "/me"
