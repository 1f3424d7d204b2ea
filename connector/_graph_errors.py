"""Turn Graph's error answers (and failures to get one) into ``GraphError`` with a useful hint."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx

from connector.errors import GraphError

OUTCOME_UNKNOWN = "RequestOutcomeUnknown"

# Credentials that must never reach an error text or a log line. Patterns, not compiled
# objects: ``re`` compiles (and caches) them on the first error, so a run that ends well never
# pays for the compile (a few ms of every cold start).
_SECRETS_RE = (
    r"(?i)\bbearer\s+[^\s\"',;]+"  # an Authorization value
    r"|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.?[A-Za-z0-9_-]*"  # a JWT
    r"|(?<=[?&])([^=&\s]*(?:token|sig|code|secret|key|password)[^=&\s]*)=[^&\s\"']+"  # query secrets
)
_URL_QUERY_RE = r"(https?://[^\s?#\"']+)\?[^\s#\"']*"


def redact(text: str) -> str:
    """Remove bearer tokens, JWTs and URL query strings from ``text``."""
    text = re.sub(_URL_QUERY_RE, r"\1?[query removed]", text)
    return re.sub(_SECRETS_RE, "[redacted]", text)


class QueryRedactingFilter(logging.Filter):
    """Strips query strings from URLs in records (httpx logs every request URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, httpx.URL) and a.query for a in args):
            record.args = tuple(_without_query(a) if isinstance(a, httpx.URL) else a for a in args)
        return True


def _without_query(url: httpx.URL) -> str:
    return str(url.copy_with(query=None)) + ("?[query removed]" if url.query else "")


def _scope(method: str, path: str) -> str:
    """The permission a request to ``path`` typically needs (for access-denied hints)."""
    p = path.lower()
    write = method not in ("GET", "HEAD")
    if method == "POST" and re.search(r"/(sendmail|send|reply|replyall|forward)$", p):
        return "Mail.Send"
    for marker, name in (
        ("/mailboxsettings", "MailboxSettings"),
        ("/event", "Calendars"),
        ("/calendar", "Calendars"),
        ("/contact", "Contacts"),
        ("/message", "Mail"),
        ("/mailfolder", "Mail"),
        ("/outlook/mastercategories", "MailboxSettings"),
        ("/inferenceclassification", "Mail"),
    ):
        if marker in p:
            return f"{name}.ReadWrite" if write else f"{name}.Read"
    if p.startswith("/subscriptions"):
        return "the read permission of the subscribed resource (e.g. Mail.Read)"
    if p.startswith("/users"):
        return "User.Read.All"
    if p.startswith("/me"):
        return "User.Read"
    return "the Graph permission listed for this action"


def _hint(code: str, status: int, method: str, path: str, message: str, retries: int) -> str:
    c = code.lower()
    retried = f" Retried {retries} time{'s' if retries != 1 else ''}." if retries else ""
    if c in ("erroritemnotfound", "itemnotfound", "resourcenotfound", "errorfoldernotfound") or (
        status == 404 and c in ("", "notfound")
    ):
        return (
            "The message/folder/event id does not exist in this mailbox, or the item was moved or deleted"
            " (ids change when an item moves unless ImmutableId is used). Check the id and the mailbox."
        )
    if c in ("errorinvaliduser", "request_resourcenotfound", "errornonexistentmailbox"):
        return "The user or mailbox was not found: check the user id / UPN (user_id) or the default mailbox."
    if c in ("erroraccessdenied", "authorization_requestdenied", "accessdenied", "forbidden") or (
        status == 403 and not c.startswith("errorsendas")
    ):
        return (
            f"Access denied: the connection lacks the permission or consent for this request; it typically"
            f" needs {_scope(method, path)} (the .Shared variant for another user's mailbox with a delegated"
            " connection; for app-only, an application permission with admin consent, and any application"
            " access policy must include this mailbox). Grant it and reconnect."
        )
    if c in ("invalidauthenticationtoken", "unauthenticated", "invalid_token") or status == 401:
        return "The access token is expired or invalid and could not be refreshed: reconnect the connection."
    if c in ("mailboxnotenabledforrestapi", "mailboxnotsupportedforrestapi"):
        return (
            "This mailbox cannot be used through Microsoft Graph: it is on-premises, inactive, soft-deleted"
            " or has no Exchange Online license."
        )
    if c == "inefficientfilter":
        return (
            "With both a filter and an order, Exchange needs the ordered properties first in the filter,"
            " in the same order: e.g. order_by `receivedDateTime desc` with filter"
            " `receivedDateTime ge 1900-01-01T00:00:00Z and isRead eq false`."
        )
    if c in ("errorinvalididmalformed", "errorinvalidid"):
        return "The id is not a valid Graph id; it was probably copied wrong or truncated."
    if c in ("applicationthrottled", "toomanyrequests", "errortoomanyobjectsopened") or status == 429:
        return f"Microsoft Graph throttled this mailbox/app.{retried} Slow down or try again later."
    if c == "errorquotaexceeded":
        return "The mailbox is over its storage quota: free space (empty Deleted Items) or raise the quota."
    if c in ("errormessagesizeexceeded", "requestentitytoolarge") or status == 413:
        return (
            "The message or attachment is too large: inline attachments must be under 3 MB (use an upload"
            " session up to 150 MB) and the message must fit the mailbox's size limit."
        )
    if (
        c == "badrequest"
        and path.startswith("/me")
        and ("/me request is only valid" in message or "delegated" in message.lower())
    ):
        return "App-only connections must name a mailbox: set user_id or the connection's default mailbox."
    if c == "errorinvalidrecipients":
        return "One or more recipients are invalid: check every address (to, cc, bcc) is a valid email."
    if c == "errorsendasdenied":
        return (
            "The signed-in user may not send as this mailbox/address: grant Send As (or Send on Behalf)"
            " rights in Exchange, or send from the user's own mailbox."
        )
    if c in ("syncstatenotfound", "syncstateinvalid", "resyncrequired") or status == 410:
        return "The delta token expired or is invalid: start a full resync without the stored cursor."
    if status in (503, 504) or c in ("serviceunavailable", "gatewaytimeout"):
        return f"Microsoft Graph is temporarily unavailable.{retried} Try again later."
    return retried.strip()


def _error_fields(response: httpx.Response) -> tuple[str, str, str, str]:
    """``(code, message, request_id, date)`` from an error body, tolerating non-JSON bodies."""
    code = message = request_id = date = ""
    body: Any = None
    content = response.content
    if content and content.lstrip()[:1] == b"{":
        try:
            body = response.json()
        except ValueError:
            body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = str(err.get("code") or "")
            message = str(err.get("message") or "")
            inner = err.get("innerError") or err.get("innererror")
            if isinstance(inner, dict):
                request_id = str(inner.get("request-id") or "")
                date = str(inner.get("date") or "")
        elif isinstance(err, str):  # identity-platform style: {"error": "...", "error_description": ...}
            code = err
            message = str(body.get("error_description") or "")
    if not message:
        message = response.reason_phrase or f"HTTP {response.status_code}"
        ctype = response.headers.get("content-type", "")
        if content and body is None and ctype.startswith("text/plain"):
            message += ": " + content[:200].decode("utf-8", "replace").strip()
    headers = response.headers
    request_id = request_id or headers.get("request-id", "") or headers.get("x-ms-request-id", "")
    date = date or headers.get("date", "")
    return code, redact(message), request_id, date


def error_from_response(
    response: httpx.Response,
    method: str,
    path: str,
    *,
    retries: int = 0,
    retry_after: float | None = None,
) -> GraphError:
    """The ``GraphError`` for a non-2xx answer. ``path`` is relative to the version, without query."""
    status = response.status_code
    code, message, request_id, date = _error_fields(response)
    return GraphError(
        message,
        status=status,
        code=code,
        request_id=request_id,
        date=date,
        hint=_hint(code, status, method, path, message, retries),
        retry_after=retry_after,
    )


def outcome_unknown(
    method: str, path: str, cause: str, *, response: httpx.Response | None = None
) -> GraphError:
    """A non-idempotent request that may or may not have been applied (and so was not retried)."""
    status = request_id = date = None
    if response is not None:
        code, _, request_id, date = _error_fields(response)
        status = response.status_code
        cause = f"Graph answered {status}{' ' + code if code else ''}"
    return GraphError(
        f"{method} {path}: {redact(cause)}; the request may or may not have been applied,"
        " so it was not retried",
        status=status or 0,
        code=OUTCOME_UNKNOWN,
        request_id=request_id or "",
        date=date or "",
        hint="Check whether it took effect (e.g. look in Sent Items) before running it again.",
    )


def transport_error(method: str, path: str, exc: Exception, *, retries: int = 0) -> GraphError:
    """Graph could not be reached (or the connection failed) for an idempotent request."""
    kind = "Timeout" if isinstance(exc, httpx.TimeoutException) else "ConnectionError"
    detail = redact(str(exc)) or type(exc).__name__
    retried = f" Retried {retries} time{'s' if retries != 1 else ''}." if retries else ""
    return GraphError(
        f"{method} {path}: {type(exc).__name__}: {detail}",
        code=kind,
        hint=f"Microsoft Graph could not be reached.{retried} Check the network and try again.",
    )
