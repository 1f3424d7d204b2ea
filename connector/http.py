"""The one HTTP client every action uses to talk to Microsoft Graph.

``GraphClient`` adds to ``httpx.Client``: base URL and same-host enforcement (the token never goes
to another host), ``client-request-id``, retries with ``Retry-After`` that never repeat a request
Graph may have applied, the per app+mailbox concurrency limit, paging and ``GraphError`` mapping.
"""

from __future__ import annotations

import functools
import importlib.metadata
import itertools
import logging
import os
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any, Literal, NamedTuple

import httpx

from connector import _graph_errors, _limits, _paths
from connector._paging import ItemIterator, PageIterator
from connector._retry import (
    IDEMPOTENT_METHODS,
    NOT_SENT_ERRORS,
    TRANSIENT_ERRORS,
    UNPROCESSED_STATUSES,
    RetryPolicy,
    parse_retry_after,
)
from connector.audit import note_request_id
from connector.errors import GraphError

__all__ = ["GraphClient", "ItemIterator", "PageIterator", "RetryPolicy", "prefer_header"]

try:
    _VERSION = importlib.metadata.version("outlook-connector")
except importlib.metadata.PackageNotFoundError:  # running from a source checkout
    _VERSION = "0.1.0"
DEFAULT_USER_AGENT = f"outlook-connector/{_VERSION}"

Params = Mapping[str, str | int | float | bool | None]
Headers = Mapping[str, str]

_log = logging.getLogger("outlook_connector.http")
# httpx logs each request's full URL at INFO; query strings may carry tokens (upload URLs).
logging.getLogger("httpx").addFilter(_graph_errors.QueryRedactingFilter())


class GraphClient:
    """A Graph client bound to one base URL (``https://graph.microsoft.com/v1.0``) and one auth.

    Thread-safe; one ``httpx.Client`` (connection pool) per instance. ``mailbox_limit_key``
    identifies the app (+ tenant) for the concurrency limit, which every client in the process
    with the same key shares; with ``shared_slots`` (a store-backed pool) each attempt also holds
    a slot of that pool, so the limit holds across processes and machines.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        mailbox_limit_key: str = "",
        max_concurrency: int = 4,
        shared_slots: _limits.SharedSlots | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout = 30.0,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
        logger: logging.Logger | None = None,
    ) -> None:
        base = httpx.URL(base_url)
        if base.scheme not in ("http", "https") or not base.host or base.userinfo or base.query:
            raise ValueError("base_url must be an http(s) URL without credentials or query")
        self._origin = _origin(base)
        self._prefix = f"{base.scheme}://{base.netloc.decode('ascii')}/"  # scheme://host[:port]/
        self._base_path = base.path.rstrip("/")  # "/v1.0"
        self._base = self._prefix[:-1] + self._base_path
        # client-request-id: a random GUID per client whose last 48 bits count requests (uuid4 costs ~3 us).
        self._id_prefix = str(uuid.uuid4())[:24]
        self._id_counter = itertools.count(int.from_bytes(os.urandom(4)))
        self._limit_key = mailbox_limit_key
        self._max_concurrency = max_concurrency
        self._slots: dict[str, _limits.Slots] = {}
        self._shared = shared_slots
        self._hold_seconds = _hold_seconds(timeout)
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._log = logger or _log
        self._client = httpx.Client(
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            follow_redirects=False,
        )
        self._send_without_auth = functools.partial(self._client.send, auth=None)

    # -- requests ------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        headers: Headers | None = None,
        idempotent: bool | None = None,
        mailbox: str | None = None,
        auth: bool = True,
        unprocessed: Collection[int] = UNPROCESSED_STATUSES,
        slots: int = 1,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request (with retries) and return the 2xx response; raise ``GraphError`` otherwise.

        ``path_or_url`` is relative to the base URL (``/me/messages``) or an absolute URL on the
        base URL's scheme, host and port. With ``auth=False`` no credentials are sent and any
        http(s) host is allowed (pre-authenticated upload URLs). ``idempotent`` defaults to True
        for GET/HEAD/OPTIONS/PUT/DELETE/PATCH and False for POST. ``mailbox`` names the
        concurrency bucket (default: from the path, ``"me"`` or the ``/users/{id}`` id; ``""``: none).
        ``unprocessed``: the statuses taken as proof that Graph did not run a non-idempotent request
        (so it may be sent again); a caller that must never repeat one narrows it (``{429}``).
        ``slots``: how many of the mailbox's concurrent slots the request holds (a ``$batch`` whose
        sub-requests Graph runs up to 4 at a time against the mailbox). ``retry`` and ``timeout``
        (seconds) replace the client's for this request; the rules on non-idempotent requests hold.
        """
        method = method.upper()
        url = self._resolve(path_or_url, auth)
        if mailbox is None:
            mailbox = self._mailbox_of(path_or_url)
        hdrs = {"client-request-id": f"{self._id_prefix}{next(self._id_counter):012x}"}
        if headers:
            for name, value in headers.items():
                problem = _paths.header_problem(name, value)
                if problem is not None:
                    raise GraphError(f"not sent: {problem}", code="InvalidRequest")
            hdrs.update(headers)
        try:
            request = self._client.build_request(
                method,
                url,
                params=params,
                json=json,
                content=content,
                headers=hdrs,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except (httpx.InvalidURL, ValueError) as exc:  # a control character, a URL too long...
            raise GraphError(f"not sent: invalid request URL ({exc})", code="InvalidUrl") from None
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        held = max(1, min(slots, self._max_concurrency))
        pool = self._slots_for(mailbox)
        shared = None
        if pool is not None and self._shared is not None:
            hold = self._hold_seconds if timeout is None else _hold_seconds(timeout)
            shared = _SharedTake(self._shared, f"{self._limit_key}:{mailbox.lower()}", hold)
        return self._send(request, idempotent, pool, auth, frozenset(unprocessed), held, retry, shared)

    def get_json(
        self,
        path_or_url: str,
        *,
        params: Params | None = None,
        headers: Headers | None = None,
        mailbox: str | None = None,
    ) -> dict[str, Any]:
        """GET and decode the JSON object answered."""
        return _json_object(self.request("GET", path_or_url, params=params, headers=headers, mailbox=mailbox))

    def post_json(
        self,
        path_or_url: str,
        json: Any = None,
        *,
        params: Params | None = None,
        headers: Headers | None = None,
        idempotent: bool | None = None,
        mailbox: str | None = None,
    ) -> dict[str, Any]:
        """POST a JSON body; the decoded answer, ``{}`` when Graph answers without a body (202/204)."""
        response = self.request(
            "POST",
            path_or_url,
            params=params,
            json=json,
            headers=headers,
            idempotent=idempotent,
            mailbox=mailbox,
        )
        return _json_object(response)

    def patch_json(
        self,
        path_or_url: str,
        json: Any = None,
        *,
        params: Params | None = None,
        headers: Headers | None = None,
        mailbox: str | None = None,
    ) -> dict[str, Any]:
        """PATCH a JSON body; the decoded answer, ``{}`` when Graph answers 204."""
        response = self.request(
            "PATCH", path_or_url, params=params, json=json, headers=headers, mailbox=mailbox
        )
        return _json_object(response)

    def delete(
        self,
        path_or_url: str,
        *,
        params: Params | None = None,
        headers: Headers | None = None,
        mailbox: str | None = None,
    ) -> None:
        self.request("DELETE", path_or_url, params=params, headers=headers, mailbox=mailbox)

    # -- paging --------------------------------------------------------------------------------
    def iter_pages(
        self,
        path: str,
        *,
        params: Params | None = None,
        headers: Headers | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        mailbox: str | None = None,
    ) -> PageIterator:
        """Pages (``value`` lists) of a collection, fetched lazily by following ``@odata.nextLink``.

        ``params`` apply to the first request only (the nextLink carries the query). The returned
        iterator keeps ``next_link`` (where to resume) and ``delta_link`` (the delta cursor).
        """
        if mailbox is None:
            mailbox = self._mailbox_of(path)

        def fetch(url: str, query: Mapping[str, Any] | None) -> dict[str, Any]:
            return self.get_json(url, params=query, headers=headers, mailbox=mailbox)

        return PageIterator(fetch, path, params, max_items=max_items, max_pages=max_pages)

    def iter_items(
        self,
        path: str,
        *,
        params: Params | None = None,
        headers: Headers | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        mailbox: str | None = None,
    ) -> ItemIterator:
        """Items of every page, stopping exactly at ``max_items``; cursors as on ``iter_pages``."""
        pages = self.iter_pages(
            path, params=params, headers=headers, max_items=max_items, max_pages=max_pages, mailbox=mailbox
        )
        return ItemIterator(pages)

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------
    def _resolve(self, path_or_url: str, auth: bool) -> str | httpx.URL:
        """The URL to send to; refuses absolute URLs on another origin when credentials would go,
        and paths whose segments the URL layer would drop or merge (``..``, ``.``, empty)."""
        if len(path_or_url) > _paths.MAX_LINK_LENGTH:
            raise GraphError(
                f"not sent: the URL is longer than {_paths.MAX_LINK_LENGTH} characters", code="InvalidUrl"
            )
        if path_or_url.startswith("/"):
            self._check_route(path_or_url)
            return self._base + path_or_url
        if path_or_url.startswith(self._prefix):
            self._check_route(path_or_url[len(self._prefix) - 1 :])
            return path_or_url
        if "://" not in path_or_url:
            self._check_route(path_or_url)
            return self._base + "/" + path_or_url
        try:
            url = httpx.URL(path_or_url)
        except httpx.InvalidURL as exc:
            raise GraphError(f"invalid URL: {exc}", code="InvalidUrl") from None
        if url.scheme not in ("http", "https") or url.userinfo:
            raise GraphError("only http(s) URLs without credentials can be requested", code="InvalidUrl")
        if auth and _origin(url) != self._origin:
            raise GraphError(
                f"refusing to send credentials to {url.scheme}://{url.host}: only {self._prefix[:-1]}"
                " is trusted (absolute URLs and nextLinks must stay on the Graph host)",
                code="UntrustedHost",
            )
        return url

    @staticmethod
    def _check_route(path: str) -> None:
        problem = _paths.route_problem(path.split("?", 1)[0].split("#", 1)[0])
        if problem is not None:
            raise GraphError(f"not sent: the URL path {problem}", code="InvalidUrl")

    def _relative_path(self, path_or_url: str) -> str:
        """The path below the version, without query: ``/me/messages``."""
        if path_or_url.startswith("/"):
            path = path_or_url
        else:
            url = httpx.URL(path_or_url if "://" in path_or_url else "/" + path_or_url)
            path = url.path
            if self._base_path and path.startswith(self._base_path + "/"):
                path = path[len(self._base_path) :]
        return path.split("?", 1)[0]

    def _mailbox_of(self, path_or_url: str) -> str:
        if path_or_url.startswith("/"):
            return _limits.mailbox_of(path_or_url)
        if path_or_url.startswith(self._prefix):
            rest = path_or_url[len(self._prefix) - 1 :]
            if self._base_path and rest.startswith(self._base_path):
                rest = rest[len(self._base_path) :]
            return _limits.mailbox_of(rest)
        return ""

    def _slots_for(self, mailbox: str) -> _limits.Slots | None:
        """The concurrency slots of this app + mailbox (None: not limited)."""
        if not mailbox or self._max_concurrency <= 0:
            return None
        pool = self._slots.get(mailbox)
        if pool is None:
            key = f"{self._limit_key}:{mailbox.lower()}"
            pool = self._slots[mailbox] = _limits.slots(key, self._max_concurrency)
        return pool

    def _send(
        self,
        request: httpx.Request,
        idempotent: bool,
        slots: _limits.Slots | None,
        auth: bool,
        unprocessed: frozenset[int] = UNPROCESSED_STATUSES,
        held: int = 1,
        retry: RetryPolicy | None = None,
        shared: _SharedTake | None = None,
    ) -> httpx.Response:
        """Send with retries; each attempt holds ``held`` of the mailbox's ``slots`` and, with
        ``shared``, as many of the shared pool's after them."""
        policy = retry or self._retry
        send = self._client.send if auth else self._send_without_auth
        failure: httpx.Response | Exception
        attempt = 0
        waited = 0.0
        while True:
            attempt += 1
            response: httpx.Response | None = None
            try:
                if slots is None:
                    response = send(request)
                elif shared is not None:
                    response = _send_shared(send, request, slots, held, shared)
                elif held == 1:
                    slots.get()  # wait for a free slot (held for this attempt only, not while sleeping)
                    try:
                        response = send(request)
                    finally:
                        slots.put(None)
                else:
                    _limits.take(slots, held)
                    try:
                        response = send(request)
                    finally:
                        _limits.give_back(slots, held)
            except TRANSIENT_ERRORS as exc:
                if not idempotent and not isinstance(exc, NOT_SENT_ERRORS):
                    raise _graph_errors.outcome_unknown(
                        request.method, self._relative_path(str(request.url)), type(exc).__name__
                    ) from exc
                failure = exc
                wait = policy.backoff(attempt)
                retry_after = None
            except httpx.TransportError as exc:  # not transient: bad URL, local protocol error, proxy
                path = self._relative_path(str(request.url))
                if not idempotent and not isinstance(exc, NOT_SENT_ERRORS):
                    raise _graph_errors.outcome_unknown(request.method, path, type(exc).__name__) from exc
                raise _graph_errors.transport_error(request.method, path, exc) from exc
            else:
                status = response.status_code
                if status < 300:
                    note_request_id(response.headers.get("request-id"))
                    return response
                if status not in policy.retry_statuses:
                    raise self._error(request, response, attempt)
                if not idempotent and status not in unprocessed:
                    raise _graph_errors.outcome_unknown(
                        request.method, self._relative_path(str(request.url)), "", response=response
                    )
                failure = response
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                wait = policy.backoff(attempt) if retry_after is None else retry_after
            if attempt >= policy.max_attempts or waited + wait > policy.max_total_wait:
                if isinstance(failure, httpx.Response):
                    raise self._error(request, failure, attempt, retry_after)
                path = self._relative_path(str(request.url))
                raise _graph_errors.transport_error(
                    request.method, path, failure, retries=attempt - 1
                ) from failure
            self._log.warning(
                "Graph %s %s failed (%s); attempt %d of %d, retrying in %.2fs",
                request.method,
                request.url.path,
                failure.status_code if isinstance(failure, httpx.Response) else type(failure).__name__,
                attempt,
                policy.max_attempts,
                wait,
            )
            self._sleep(wait)
            waited += wait

    def _error(
        self, request: httpx.Request, response: httpx.Response, attempt: int, retry_after: float | None = None
    ) -> GraphError:
        if retry_after is None and response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
        return _graph_errors.error_from_response(
            response,
            request.method,
            self._relative_path(str(request.url)),
            retries=attempt - 1,
            retry_after=retry_after,
        )


class _SharedTake(NamedTuple):
    """What an attempt takes from the shared pool: the pool, the app + mailbox key, the lease."""

    pool: _limits.SharedSlots
    key: str
    hold: float


def _send_shared(
    send: Callable[[httpx.Request], httpx.Response],
    request: httpx.Request,
    slots: _limits.Slots,
    held: int,
    shared: _SharedTake,
) -> httpx.Response:
    """One attempt holding the process's slots first (so its threads do not all poll the store),
    then the shared pool's."""
    if held == 1:
        slots.get()
    else:
        _limits.take(slots, held)
    try:
        token = shared.pool.acquire(shared.key, held, shared.hold)
        try:
            return send(request)
        finally:
            shared.pool.release(token)
    finally:
        _limits.give_back(slots, held)


def _hold_seconds(timeout: float | httpx.Timeout | None) -> float:
    """How long a shared slot may stay held (its lease): well past the request's timeout, so it
    only runs out for a holder that died. An unbounded timeout counts as 5 minutes."""
    if isinstance(timeout, httpx.Timeout):
        figures = [t for t in (timeout.connect, timeout.read, timeout.write, timeout.pool) if t is not None]
        longest = max(figures, default=300.0)
    else:
        longest = 300.0 if timeout is None else float(timeout)
    return 60.0 + 2 * longest


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError:
        raise GraphError(
            "Graph answered with a body that is not JSON", status=response.status_code, code="InvalidResponse"
        ) from None
    if not isinstance(data, dict):
        raise GraphError(
            "Graph answered with JSON that is not an object",
            status=response.status_code,
            code="InvalidResponse",
        )
    return data


def prefer_header(
    *,
    body_content_type: Literal["text", "html"] | None = None,
    timezone: str | None = None,
    immutable_ids: bool = False,
    max_page_size: int | None = None,
) -> dict[str, str]:
    """One ``Prefer`` header joining the preferences asked, ``{}`` when none is.

    E.g. ``outlook.body-content-type="text", outlook.timezone="...", IdType="ImmutableId"``.
    ``max_page_size`` adds ``odata.maxpagesize=N`` (delta queries).
    """
    parts: list[str] = []
    if body_content_type is not None:
        if body_content_type not in ("text", "html"):
            raise ValueError("body_content_type must be 'text' or 'html'")
        parts.append(f'outlook.body-content-type="{body_content_type}"')
    if timezone is not None:
        if not timezone or any(ch == '"' or ch == "\\" or ord(ch) < 32 for ch in timezone):
            raise ValueError(
                "timezone must be a non-empty time zone name without quotes or control characters"
            )
        parts.append(f'outlook.timezone="{timezone}"')
    if immutable_ids:
        parts.append('IdType="ImmutableId"')
    if max_page_size is not None:
        if max_page_size < 1:
            raise ValueError("max_page_size must be at least 1")
        parts.append(f"odata.maxpagesize={int(max_page_size)}")
    return {"Prefer": ", ".join(parts)} if parts else {}
