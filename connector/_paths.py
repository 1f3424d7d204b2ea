"""What an id or a relative path may be before it becomes part of a Graph URL.

An id is one path segment: it is percent-encoded whole (``/`` too), and ids that the URL layer would
drop or merge (empty, ``.``, ``..``, only whitespace) are refused, as are ids longer than any Graph
id. A relative path (Raw Request, a ``$batch`` sub-request) is checked segment by segment: no empty,
``.`` or ``..`` segment (encoded ones included), so it addresses exactly the resource written.
"""

from __future__ import annotations

from urllib.parse import unquote

MAX_ID_LENGTH = 1024
"""Longest id accepted (Graph ids are about 150 characters; a UPN at most 113)."""
MAX_LINK_LENGTH = 8192
"""Longest link or relative path accepted (Graph's nextLinks are a few hundred characters)."""
DOT_SEGMENTS = frozenset({".", ".."})


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be one path segment, or None when it can."""
    if not value.strip():
        return "is not a valid id (empty or only whitespace)"
    if value in DOT_SEGMENTS:
        return "is not a valid id ('.' and '..' would address another resource)"
    if len(value) > MAX_ID_LENGTH:
        return f"is not a valid id (longer than {MAX_ID_LENGTH} characters)"
    return None


def path_problem(path: str) -> str | None:
    """Why a relative path (``/me/messages?$top=5``) could address another resource, or None."""
    if len(path) > MAX_LINK_LENGTH:
        return f"is longer than {MAX_LINK_LENGTH} characters"
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in path) or "#" in path:
        return "must be a URL path without spaces, control characters or a #fragment"
    return route_problem(path.split("?", 1)[0])


def route_problem(route: str) -> str | None:
    """Why the path part of a URL (no query) has a segment the URL layer would drop or merge."""
    rest = route.lstrip("/")
    if not rest:
        return "must name a resource, e.g. /me/messages"
    for segment in rest.split("/"):
        if segment == "" or unquote(segment).strip() in ("", *DOT_SEGMENTS):
            return "must not have empty, '.' or '..' segments (each segment addresses one resource)"
    return None


HEADER_NAME_CHARACTERS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
HEADER_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
"""An HTTP header name (an RFC 9110 token)."""
HEADER_VALUE_PATTERN = r"^[\t\x20-\x7e]*$"
"""An HTTP header value: printable ASCII and tabs (no line breaks, no other control characters)."""
MAX_HEADER_LENGTH = 8192


def header_problem(name: str, value: str) -> str | None:
    """Why a header cannot be sent as given, or None."""
    if not name or not set(name) <= HEADER_NAME_CHARACTERS:
        return f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    if len(value) > MAX_HEADER_LENGTH:
        return f"the value of {name!r} is longer than {MAX_HEADER_LENGTH} characters"
    if any(not (ch == "\t" or 0x20 <= ord(ch) <= 0x7E) for ch in value):
        return f"the value of {name!r} must be printable ASCII (no line breaks or other control characters)"
    return None
