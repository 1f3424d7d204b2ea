"""Docs contract tests: Microsoft's documented examples as vcrpy cassettes, built at test time.

For one documented example the harness

1. makes the exchange concrete (``DocCall``): ``{id}`` placeholders become sample ids, known faults
   of the docs are normalized (each ``DocsFault`` says why);
2. writes a cassette (vcrpy's format, in a temporary folder) that answers the documented request
   with the documented status, headers and body, and matches the request on method, host, path,
   query, JSON body and documented headers (``Prefer``...) semantically;
3. the test runs the action through ``Runtime`` (strict output) with inputs derived from the
   documented request; the cassette refuses any request that is not the documented one.

"Semantically" means: path segments compared percent-decoded (resource names case-insensitively),
query options as decoded pairs, bodies as JSON values. The connector may state a Graph default the
docs leave out (``GRAPH_DEFAULTS``, ``QUERY_DEFAULTS``: each with the reason it is equivalent);
nothing else may differ.

Coverage: ``Coverage`` maps every documented example to the manifest action whose endpoint it
documents (``ACTION_ENDPOINTS`` in the test module) and reports which are used and why the others are not.
"""

from __future__ import annotations

import http
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import yaml

from tests.support.docs_faults import DocsFault, docs_faults
from tests.support.graph_docs import DocExample

__all__ = ["DocsFault"]  # re-exported: tables build faults next to their cases

GRAPH_HOST = "graph.microsoft.com"
GRAPH_ROOT = f"https://{GRAPH_HOST}/v1.0"
SAMPLE_USER = "adelev@contoso.onmicrosoft.com"
MAILBOX = r"/(?:me|users/[^/]+)"
"""Regex of a mailbox base path in documented paths (``/me`` or ``/users/{id}``)."""
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_IGNORED_REQUEST_HEADERS = frozenset({"content-type", "content-length", "authorization", "host", "accept"})
_IGNORED_RESPONSE_HEADERS = frozenset({"content-length"})


def sample_id(n: int) -> str:
    """A sample Graph id for a ``{id}`` placeholder; ``+``, ``/`` and ``=`` check the path encoding."""
    return f"AAMkAGSample{n}+Id/Q="


# -- the concrete documented exchange -------------------------------------------------------------
@dataclass
class DocCall:
    """A documented exchange made concrete: placeholders filled, known docs faults fixed. Mutable copies."""

    example: DocExample
    method: str
    segments: list[str]
    """Decoded: ``["me", "messages", "AAMkAGSample1+Id/Q="]`` (an id may hold a /)."""
    query: dict[str, str]
    headers: dict[str, str]
    """Documented request headers that the action must send (``Prefer``...)."""
    body: Any
    status: int
    response_headers: dict[str, str]
    response_body: Any
    faults: list[str] = field(default_factory=list)
    """Reasons of the docs faults applied."""

    @property
    def name(self) -> str:
        return self.example.name

    @property
    def path(self) -> str:
        """Percent-encoded, no trailing slash: ``/me/messages/AAMkAGSample1%2BId%2FQ=``."""
        return encode_path(self.segments)

    def mailbox_input(self) -> dict[str, Any]:
        """``{}`` for ``/me/...``, ``{"user_id": ...}`` for ``/users/{id}/...``."""
        if self.segments and self.segments[0].lower() == "users" and len(self.segments) > 1:
            return {"user_id": self.segments[1]}
        return {}

    def after(self, name: str) -> str:
        """The segment after the first ``name`` (case-insensitive): ``after("messages")`` is the id."""
        lowered = [s.lower() for s in self.segments]
        index = lowered.index(name.lower())
        return self.segments[index + 1]


def concrete_segments(path: str) -> list[str]:
    """Documented path -> decoded segments, ``{...}`` placeholders filled (a user's with a UPN, others
    with sample ids), trailing / dropped."""
    counter = iter(range(1, 1000))
    segments = [s for s in path.split("/") if s]
    out: list[str] = []
    for index, segment in enumerate(segments):
        if _PLACEHOLDER.fullmatch(segment):
            users = index > 0 and segments[index - 1].lower() == "users"
            segment = SAMPLE_USER if users else sample_id(next(counter))
        out.append(segment)
    return out


def encode_path(segments: Sequence[str]) -> str:
    return "/" + "/".join(quote(segment, safe="@:$'(),=!*") for segment in segments)


def doc_call(example: DocExample, faults: Sequence[DocsFault] = ()) -> DocCall:
    """The example made concrete, with its known faults (``DOCS_FAULTS``) and ``faults`` fixed."""
    headers = {k: v for k, v in example.request.headers.items() if k.lower() not in _IGNORED_REQUEST_HEADERS}
    response_headers = {
        k: v for k, v in example.response.headers.items() if k.lower() not in _IGNORED_RESPONSE_HEADERS
    }
    call = DocCall(
        example=example,
        method=example.method,
        segments=concrete_segments(example.request.path),
        query=dict(example.request.query),
        headers=headers,
        body=example.request.json_body(),
        status=example.response.status,
        response_headers=response_headers,
        response_body=example.response.json_body(),
    )
    for fault in (*docs_faults(example.name), *faults):
        if fault.fix is not None:
            fault.fix(call)
        call.faults.append(fault.reason)
    return call


# -- what the connector may add: Graph's own defaults -----------------------------------------------
@dataclass(frozen=True)
class GraphDefault:
    """A body property the connector states that the docs leave out, equal to Graph's default.

    ``path``: dot-separated, ``[]`` for every item of a list: ``message.attachments[].isInline``.
    """

    path: str
    value: Any
    reason: str


GRAPH_DEFAULTS: tuple[GraphDefault, ...] = (
    GraphDefault(
        "saveToSentItems",
        True,
        "sendMail saves to Sent Items unless told false (user-sendmail: 'Specify it only if the parameter"
        " is false; default is true')",
    ),
    GraphDefault("message.importance", "normal", "a message's importance is normal unless set"),
    GraphDefault("importance", "normal", "a message's importance is normal unless set"),
    GraphDefault("message.attachments[].isInline", False, "an attachment is not inline unless set"),
    GraphDefault("attachments[].isInline", False, "an attachment is not inline unless set"),
)


@dataclass(frozen=True)
class QueryDefault:
    """A query option the connector always sends that the docs leave out, equal to Graph's default."""

    path: str
    """Regex (full match, case-insensitive) on the request path after /v1.0 (ids percent-encoded)."""
    name: str
    value: str
    reason: str


QUERY_DEFAULTS: tuple[QueryDefault, ...] = (
    QueryDefault(
        MAILBOX + r"(?:/mailFolders/[^/]+)?/messages",
        "$top",
        "10",
        "list actions always send their page size; 10 is Graph's default page size for messages",
    ),
    QueryDefault(
        MAILBOX + r"/mailFolders(?:/[^/]+/childFolders)?",
        "$top",
        "10",
        "list actions always send their page size; 10 is Graph's default page size for mail folders",
    ),
)


def _drop_defaults(sent: Any, documented: Any, parts: list[str], value: Any) -> None:
    """Remove ``parts`` from ``sent`` where it equals ``value`` and ``documented`` lacks it."""
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    key = head.removesuffix("[]")
    if not isinstance(sent, dict) or key not in sent:
        return
    other = documented.get(key) if isinstance(documented, dict) else None
    if each:
        items = sent[key] if isinstance(sent[key], list) else []
        others = other if isinstance(other, list) else []
        for index, item in enumerate(items):
            _drop_defaults(item, others[index] if index < len(others) else None, rest, value)
    elif rest:
        _drop_defaults(sent[key], other, rest, value)
    elif sent[key] == value and not (isinstance(documented, dict) and key in documented):
        del sent[key]


def without_defaults(sent: Any, documented: Any) -> Any:
    """``sent`` minus the Graph defaults it states and ``documented`` omits."""
    sent = json.loads(json.dumps(sent))
    for default in GRAPH_DEFAULTS:
        _drop_defaults(sent, documented, default.path.split("."), default.value)
    return sent


# -- vcrpy cassettes ----------------------------------------------------------------------------------
def _segments(uri: str) -> list[str]:
    return [unquote(s) for s in urlsplit(uri).path.split("/") if s]


def _query(uri: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(uri).query, keep_blank_values=True))


def _json_or_bytes(body: Any) -> Any:
    if body is None or body == b"" or body == "":
        return None
    raw = body if isinstance(body, bytes) else str(body).encode()
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def match_path(sent: Any, documented: Any) -> None:
    """vcrpy matcher: decoded segments equal; resource names (letters only) case-insensitively."""
    a, b = _segments(sent.uri), _segments(documented.uri)
    same = len(a) == len(b) and all(
        x == y or (x.isalpha() and y.isalpha() and x.lower() == y.lower()) for x, y in zip(a, b, strict=True)
    )
    if not same:
        raise AssertionError(f"path /{'/'.join(a)} != documented /{'/'.join(b)}")


def match_query(sent: Any, documented: Any) -> None:
    """vcrpy matcher: decoded query options equal, save Graph defaults the docs omit (QUERY_DEFAULTS)."""
    got, want = _query(sent.uri), _query(documented.uri)
    path = encode_path(_segments(sent.uri)[1:])  # ids may hold a /: keep them encoded
    for default in QUERY_DEFAULTS:
        if (
            default.name not in want
            and got.get(default.name) == default.value
            and re.fullmatch(default.path, path, re.IGNORECASE)
        ):
            del got[default.name]
    if got != want:
        raise AssertionError(f"query {got} != documented {want}")


def match_body(sent: Any, documented: Any) -> None:
    """vcrpy matcher: JSON bodies equal as values, save Graph defaults the docs omit (GRAPH_DEFAULTS)."""
    got, want = _json_or_bytes(sent.body), _json_or_bytes(documented.body)
    if isinstance(got, dict | list) and isinstance(want, dict | list):
        got = without_defaults(got, want)
    if got != want:
        raise AssertionError(
            "body differs from the documented one:\n  sent:       "
            + json.dumps(got, sort_keys=True)[:2000]
            + "\n  documented: "
            + json.dumps(want, sort_keys=True)[:2000]
        )


def _prefer_items(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def match_headers(sent: Any, documented: Any) -> None:
    """vcrpy matcher: every documented request header (``Prefer``...) was sent with that value."""
    for name, value in documented.headers.items():
        got = sent.headers.get(name)
        if got is None:
            raise AssertionError(f"header {name}: {value} was not sent")
        if _prefer_items(got) != _prefer_items(value):
            raise AssertionError(f"header {name}: {got!r} != documented {value!r}")


MATCHERS: dict[str, Callable[[Any, Any], None]] = {
    "graph_path": match_path,
    "graph_query": match_query,
    "graph_body": match_body,
    "graph_headers": match_headers,
}
MATCH_ON = ("method", "scheme", "host", "graph_path", "graph_query", "graph_body", "graph_headers")


def cassette_uri(call: DocCall) -> str:
    query = f"?{urlencode(call.query)}" if call.query else ""
    return f"{GRAPH_ROOT}{call.path}{query}"


def interaction(call: DocCall) -> dict[str, Any]:
    """One vcrpy interaction answering the documented request with the documented response."""
    body = call.body
    request_body = json.dumps(body) if isinstance(body, dict | list) else body
    headers = {name: [value] for name, value in call.response_headers.items()}
    response_body = call.response_body
    if isinstance(response_body, dict | list):
        text = json.dumps(response_body)
        if not any(name.lower() == "content-type" for name in headers):
            headers["Content-Type"] = ["application/json"]
    else:
        text = "" if response_body is None else str(response_body)
    try:
        reason = http.HTTPStatus(call.status).phrase
    except ValueError:
        reason = ""
    return {
        "request": {
            "method": call.method,
            "uri": cassette_uri(call),
            "body": request_body,
            "headers": {name: [value] for name, value in call.headers.items()},
        },
        "response": {
            "status": {"code": call.status, "message": reason},
            "headers": headers,
            "body": {"string": text},
        },
    }


def write_cassette(calls: Sequence[DocCall], folder: Path, name: str) -> Path:
    """Write the calls as a vcrpy (format 1) YAML cassette; returns its path."""
    path = folder / f"{name}.yaml"
    data = {"version": 1, "interactions": [interaction(c) for c in calls]}
    path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True), encoding="utf-8")
    return path


@contextmanager
def documented_cassette(calls: DocCall | Sequence[DocCall], folder: Path) -> Iterator[Any]:
    """Replay ``calls`` and refuse every other request (record mode ``none``); yields the cassette.

    On exit, checks every documented interaction was played exactly once.
    """
    import vcr

    sequence = [calls] if isinstance(calls, DocCall) else list(calls)
    path = write_cassette(sequence, folder, sequence[0].name)
    recorder = vcr.VCR(record_mode="none", match_on=MATCH_ON, decode_compressed_response=False)
    for name, matcher in MATCHERS.items():
        recorder.register_matcher(name, matcher)
    with recorder.use_cassette(str(path)) as cassette:
        yield cassette
    if not cassette.all_played:
        raise AssertionError(
            f"the action sent {cassette.play_count} of the {len(sequence)} documented requests"
            f" ({', '.join(c.name for c in sequence)})"
        )


# -- input derivation helpers -------------------------------------------------------------------
class NotExpressible(Exception):
    """The documented request uses something the action's input cannot express."""


def recipients_input(recipients: Any) -> list[Any]:
    """Graph recipients -> the actions' input (plain addresses, or {address, name})."""
    out: list[Any] = []
    for recipient in recipients or []:
        email = recipient.get("emailAddress", {})
        if email.get("name"):
            out.append({"address": email["address"], "name": email["name"]})
        else:
            out.append(email["address"])
    return out


_MESSAGE_FIELDS = {
    "toRecipients": "to",
    "ccRecipients": "cc",
    "bccRecipients": "bcc",
    "replyTo": "reply_to",
}


def message_input(message: Mapping[str, Any]) -> dict[str, Any]:
    """A documented Graph message body -> the message-content input of send/draft actions."""
    params: dict[str, Any] = {}
    for key, value in message.items():
        if key in _MESSAGE_FIELDS:
            params[_MESSAGE_FIELDS[key]] = recipients_input(value)
        elif key == "subject":
            params["subject"] = value
        elif key == "body":
            params["body"] = value.get("content", "")
            params["body_type"] = str(value.get("contentType", "html")).lower()
        elif key == "importance":
            params["importance"] = str(value).lower()
        elif key == "attachments":
            params["attachments"] = [attachment_input(a) for a in value]
        else:
            raise NotExpressible(f"message.{key} has no input")
    return params


def attachment_input(attachment: Mapping[str, Any]) -> dict[str, Any]:
    if attachment.get("@odata.type", "").lower() != "#microsoft.graph.fileattachment":
        raise NotExpressible(f"{attachment.get('@odata.type')} attachments have no input")
    out: dict[str, Any] = {"name": attachment["name"], "content_base64": attachment["contentBytes"]}
    if "contentType" in attachment:
        out["content_type"] = attachment["contentType"]
    if "isInline" in attachment:
        out["is_inline"] = attachment["isInline"]
    if "contentId" in attachment:
        out["content_id"] = attachment["contentId"]
    return out


def select_input(call: DocCall) -> dict[str, Any]:
    """``$select=a,b`` -> ``{"select": ["a", "b"]}`` (empty without one)."""
    value = call.query.get("$select")
    return {"select": [p.strip() for p in value.split(",")]} if value else {}


def prefer_input(call: DocCall) -> dict[str, Any]:
    """``Prefer: outlook.body-content-type="text"`` -> ``{"body_content_type": "text"}``."""
    prefer = next((v for k, v in call.headers.items() if k.lower() == "prefer"), "")
    found = re.search(r'outlook\.body-content-type="?(\w+)"?', prefer)
    return {"body_content_type": found[1].lower()} if found else {}


# -- the table and coverage ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DocCase:
    """One documented example an action covers: how to call the action, and what to expect."""

    action: str
    derive: Callable[[DocCall], dict[str, Any]]
    """The action input, derived from the documented request."""
    faults: tuple[DocsFault, ...] = ()
    expect: Callable[[DocCall, dict[str, Any]], None] | None = None
    """Extra checks of the output against the documented response (the schema is always checked)."""


Endpoint = tuple[str, str]
"""``(METHOD, path regex)``; the regex is matched (full, case-insensitive) on the documented path.
``METHOD+MIME`` (``POST+MIME``) is the endpoint taking a MIME body (base64 ``text/plain``) instead of
JSON: it claims the examples that send one before any JSON action of the same path does."""
MIME_SUFFIX = "+MIME"


def endpoint_action(example: DocExample, endpoints: Mapping[str, Sequence[Endpoint]]) -> str | None:
    """The manifest action whose endpoint the example documents, if any."""
    path = example.path.split("?", 1)[0].rstrip("/") or "/"
    content_type = {k.lower(): str(v) for k, v in example.request.headers.items()}.get("content-type", "")
    mime = content_type.lower().startswith("text/plain") and not example.has_json_body
    for wanted in ([f"{example.method}{MIME_SUFFIX}"] if mime else []) + [example.method]:
        for action, patterns in endpoints.items():
            for method, pattern in patterns:
                if method == wanted and re.fullmatch(pattern, path, re.IGNORECASE):
                    return action
    return None


@dataclass
class Coverage:
    """Which documented examples the docs contract tests use, and why the others are not."""

    used: list[DocExample] = field(default_factory=list)
    unused: list[tuple[DocExample, str]] = field(default_factory=list)
    """Examples of covered endpoints not used, with the reason."""
    related: list[tuple[DocExample, str]] = field(default_factory=list)
    """Examples of other endpoints on the reference pages of used examples, with the reason."""

    @property
    def covered(self) -> int:
        return len(self.used) + len(self.unused)

    def lines(self) -> list[str]:
        out = [
            f"docs coverage: {len(self.used)} documented examples used / {self.covered} examples for"
            " endpoints the manifest covers"
        ]
        for example, reason in self.unused:
            out.append(f"  not used: {example.name} ({example.method} {example.path}): {reason}")
        for example, reason in self.related:
            out.append(
                f"  same page, other endpoint: {example.name} ({example.method} {example.path}): {reason}"
            )
        return out


def coverage(
    examples: Sequence[DocExample],
    endpoints: Mapping[str, Sequence[Endpoint]],
    cases: Mapping[str, DocCase],
    unused_reasons: Mapping[str, str],
) -> Coverage:
    result = Coverage()
    pages: set[str] = set()
    for example in examples:
        action = endpoint_action(example, endpoints)
        if action is None:
            continue
        if example.name in cases:
            result.used.append(example)
            pages.add(example.page)
        else:
            result.unused.append((example, unused_reasons.get(example.name, "NO REASON GIVEN")))
    for example in examples:
        if example.page in pages and endpoint_action(example, endpoints) is None:
            result.related.append(
                (example, unused_reasons.get(example.name, "not an endpoint of any action"))
            )
    return result


COVERAGE_REPORTS: list[Callable[[], Coverage | None]] = []
"""Test modules register how to compute their coverage; tests/conformance/conftest.py prints it."""
