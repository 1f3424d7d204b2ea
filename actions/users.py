"""Users: the signed-in user or another user's profile."""

from __future__ import annotations

from typing import Any

from actions._inputs import MailboxInput
from actions.models import User
from connector.context import ActionContext
from connector.schemas import returns


class GetCurrentUserInput(MailboxInput):
    """Empty for the signed-in user; `user_id` for another user (app-only: the connection's mailbox)."""


@returns(User)
def get_current_user(ctx: ActionContext, params: GetCurrentUserInput) -> dict[str, Any]:
    user: dict[str, Any] = ctx.graph.get_json(ctx.mailbox(params.user_id))
    return user
