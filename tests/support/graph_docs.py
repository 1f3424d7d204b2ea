"""Microsoft's Graph documents, read in place: the documented examples and where the OpenAPI files are.

The documents are Microsoft's: they are read where they lie (``GRAPH_EXAMPLES_DIR``,
``GRAPH_OPENAPI_DIR``; by default ``<repo>/../shared/graph-examples`` and ``.../graph-openapi``)
and never copied into the project. Tests that need them skip with a clear reason when they are
absent (users run the suite without them; CI always has them).

An example file holds one reference page::

    {"page", "source", "examples": [{"name", "request": {...}, "response": {...}, ...}]}

``request.path`` is the part after ``/v1.0``; ids are the docs' sample ids or ``{id}`` placeholders.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

EXAMPLES_ENV = "GRAPH_EXAMPLES_DIR"
OPENAPI_ENV = "GRAPH_OPENAPI_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SHARED = REPO_ROOT.parent / "shared"
OPENAPI_FILES = (
    "Mail.yml",
    "Calendar.yml",
    "Users.yml",
    "Users.Actions.yml",
    "Users.Functions.yml",
    "ChangeNotifications.yml",
)


# -- where the documents are -----------------------------------------------------------------------
def examples_dir() -> Path:
    return Path(os.environ.get(EXAMPLES_ENV) or DEFAULT_SHARED / "graph-examples")


def openapi_dir() -> Path:
    return Path(os.environ.get(OPENAPI_ENV) or DEFAULT_SHARED / "graph-openapi")


def examples_available() -> bool:
    directory = examples_dir()
    return directory.is_dir() and any(p.name != "INDEX.json" for p in directory.glob("*.json"))


def openapi_available() -> bool:
    directory = openapi_dir()
    return directory.is_dir() and any((directory / name).is_file() for name in OPENAPI_FILES)


def examples_missing_reason() -> str:
    return f"Microsoft Graph documents not found at {examples_dir()}; set {EXAMPLES_ENV}"


def openapi_missing_reason() -> str:
    return f"Microsoft Graph documents not found at {openapi_dir()}; set {OPENAPI_ENV}"


def skip_unless_docs() -> None:
    """Skip the running test unless the documented examples are there."""
    if not examples_available():
        pytest.skip(examples_missing_reason())


def skip_unless_openapi() -> None:
    """Skip the running test unless the OpenAPI documents are there."""
    if not openapi_available():
        pytest.skip(openapi_missing_reason())


def requires_docs() -> pytest.MarkDecorator:
    """A ``skipif`` mark for tests (or ``pytestmark``) that need the documented examples."""
    return pytest.mark.skipif(not examples_available(), reason=examples_missing_reason())


def requires_openapi() -> pytest.MarkDecorator:
    """A ``skipif`` mark for tests (or ``pytestmark``) that need the OpenAPI documents."""
    return pytest.mark.skipif(not openapi_available(), reason=openapi_missing_reason())


# -- the examples -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DocRequest:
    method: str
    url: str
    path: str
    """After ``/v1.0`` (or ``/beta``), as documented: sample ids, ``{id}`` placeholders, a trailing /."""
    query: Mapping[str, str]
    headers: Mapping[str, str]
    api_version: str
    body: Any
    """JSON value (dict/list), text (MIME, base64...) or None. Use ``json_body()`` for a private copy."""
    body_lenient: bool = False
    """The docs' body is not strict JSON; it was parsed leniently."""

    def json_body(self) -> Any:
        return copy.deepcopy(self.body)

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class DocResponse:
    status: int
    headers: Mapping[str, str]
    body: Any
    truncated: bool
    """The docs shortened the body: compare shapes, not every field."""
    odata_type: str | None
    body_lenient: bool = False
    body_parse_error: bool = False

    def json_body(self) -> Any:
        return copy.deepcopy(self.body)


@dataclass(frozen=True)
class DocExample:
    """One documented request/response pair of a reference page."""

    page: str
    """The page's file stem, e.g. ``user-sendmail``."""
    name: str
    """Unique across pages, e.g. ``user_sendmail``."""
    source: str
    request: DocRequest
    response: DocResponse
    additional_responses: tuple[DocResponse, ...] = ()
    flags: frozenset[str] = field(default_factory=frozenset)
    """Parser notes: ``request_block_ignored``, ``response_block_ignored``, ``request_block_mislabelled``."""

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        return self.request.path

    @property
    def has_json_body(self) -> bool:
        return isinstance(self.request.body, dict | list)

    def __str__(self) -> str:
        return f"{self.name} ({self.page}.md: {self.method} {self.path})"


@dataclass(frozen=True)
class DocPage:
    page: str
    source: str
    examples: tuple[DocExample, ...]
    note: str | None = None


def _response(data: Mapping[str, Any]) -> DocResponse:
    return DocResponse(
        status=int(data["status"]),
        headers=dict(data.get("headers") or {}),
        body=data.get("body"),
        truncated=bool(data.get("truncated")),
        odata_type=data.get("odata_type"),
        body_lenient=bool(data.get("body_lenient")),
        body_parse_error=bool(data.get("body_parse_error")),
    )


def _example(page: str, source: str, data: Mapping[str, Any]) -> DocExample:
    req = data["request"]
    flags = frozenset(k for k, v in data.items() if k.endswith(("_ignored", "_mislabelled")) and v)
    return DocExample(
        page=page,
        name=str(data["name"]),
        source=source,
        request=DocRequest(
            method=str(req["method"]).upper(),
            url=str(req.get("url") or ""),
            path=str(req["path"]),
            query=dict(req.get("query") or {}),
            headers=dict(req.get("headers") or {}),
            api_version=str(req.get("api_version") or "v1.0"),
            body=req.get("body"),
            body_lenient=bool(req.get("body_lenient")),
        ),
        response=_response(data["response"]),
        additional_responses=tuple(_response(r) for r in data.get("additional_responses") or ()),
        flags=flags,
    )


@cache
def _load_pages(directory: str) -> tuple[DocPage, ...]:
    pages: list[DocPage] = []
    for path in sorted(Path(directory).glob("*.json")):
        if path.name == "INDEX.json":
            continue
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
        page = str(data.get("page") or path.name).removesuffix(".md")
        source = str(data.get("source") or "")
        examples = tuple(_example(page, source, e) for e in data.get("examples", ()))
        pages.append(DocPage(page=page, source=source, examples=examples, note=data.get("note")))
    return tuple(pages)


def load_pages() -> tuple[DocPage, ...]:
    """Every reference page (parsed once per process). Call ``skip_unless_docs()`` first in tests."""
    directory = examples_dir()
    if not examples_available():
        raise FileNotFoundError(examples_missing_reason())
    return _load_pages(str(directory.resolve()))


def load_examples() -> tuple[DocExample, ...]:
    """Every documented example of every page, in page order."""
    return tuple(example for page in load_pages() for example in page.examples)


@cache
def _by_name(directory: str) -> dict[str, DocExample]:
    return {e.name: e for page in _load_pages(directory) for e in page.examples}


def example(name: str) -> DocExample:
    """The documented example called ``name`` (names are unique across pages)."""
    load_pages()
    try:
        return _by_name(str(examples_dir().resolve()))[name]
    except KeyError:
        raise KeyError(f"no documented example named {name!r} in {examples_dir()}") from None


def example_names() -> list[str]:
    """Names of every example, or ``[]`` without the documents (for parametrize at collection)."""
    if not examples_available():
        return []
    return [e.name for e in load_examples()]
