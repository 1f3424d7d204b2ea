"""``BearerAuth``: the ``httpx.Auth`` every stored connection hands to the Graph client."""

from __future__ import annotations

from collections.abc import Generator

import httpx

from connections.token_cache import TokenCache


class BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer <token>``. The token is renewed shortly before it expires, and
    once more if Graph answers 401 (the request is then sent again; a second 401 is returned as is)."""

    requires_request_body = True  # the body must be replayable for the one retry after a 401

    def __init__(self, tokens: TokenCache) -> None:
        self._tokens = tokens

    def __repr__(self) -> str:
        return f"BearerAuth({self._tokens.name!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._tokens.access_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        renewed = self._tokens.access_token(refused=token)
        request.headers["Authorization"] = f"Bearer {renewed}"
        yield request
