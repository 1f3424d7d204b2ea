"""An index of Microsoft's Graph OpenAPI documents: which operation a concrete request is, and is it valid.

``OpenApiIndex(dir).check(method, path, query, body=...)`` matches a request (the path after
``/v1.0``) to an operation of the documents and checks its query options and JSON body against it.

Matching follows Graph's URL rules, not string equality:

- ``/me/...`` is ``/users/{user-id}/...`` (the documents have no ``/me`` paths);
- ``{param}`` matches one segment (percent-decoded); literal segments are case-insensitive;
  trailing and doubled slashes are ignored; ``users('id')`` key syntax is ``users/id``;
- actions are namespace-qualified in the documents (``/users/{user-id}/microsoft.graph.sendMail``)
  and may be called with or without the namespace (``/me/sendMail``); functions likewise, with or
  without parentheses (``/messages/delta``, ``/messages/delta()``,
  ``supportedTimeZones(TimeZoneStandard=...)``);
- ``POST /$batch`` is checked request by request;
- ``GET`` of one property of an entity (``/me/mailboxSettings/timeZone``) is its parent's GET;
- a few operations the 2025-01 snapshot lacks but Graph v1.0 documents (``SUPPLEMENT_OPERATIONS``:
  permanentDelete, attachment ``$value``) are known by path only.

Beyond the documents, one rule Graph enforces: ``$search`` on messages cannot be combined with
``$filter`` or ``$orderby``.

Bodies are validated with openapi-schema-validator's OAS 3.0 rules and ``$ref`` resolved against the
document, made exactly as lenient as Graph and no more:

- additional properties are accepted (the documents' ``additionalProperties: {type: object}`` is an
  artefact of the generator, not a constraint);
- enum values and action parameter names are case-insensitive (Graph takes ``"HTML"`` for ``html``
  and ``message`` for the documents' ``Message``); an action parameter Graph does not know is an error;
- an object's ``@odata.type`` must name the declared type or one derived from it, and the object is
  then validated as that type when the document defines it (these module documents define only the
  types their operations name: ``#microsoft.graph.event`` as an ``outlookItem`` is checked,
  ``#microsoft.graph.fileAttachment`` is not defined, so its own properties are not);
- ``null`` is taken for complex and enum properties (the generator drops their nullability);
- formats are not asserted (``date-time`` properties carry their own ``pattern``).

Loading is lazy and cached per process: a text scan finds the paths of every document (about
50 ms for all six); the entries a request needs (its path item, the components it refers to) are
parsed one by one with the YAML C loader on first use (parsing the six documents whole would take
about 1.5 s), and each operation's validator is built once.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import yaml

from tests.support.graph_docs import OPENAPI_FILES

if TYPE_CHECKING:
    from referencing import Registry

NO_BODY: Final = object()
"""``check(body=NO_BODY)``: the request has no body (distinct from a JSON ``null``)."""

NAMESPACE: Final = "microsoft.graph."
ALWAYS_ALLOWED_QUERY: Final = frozenset({"$skiptoken", "$deltatoken"})
"""Paging and delta cursors Graph puts in nextLink/deltaLink URLs; the documents do not declare them."""
BATCH_LIMIT: Final = 20
SUPPLEMENT: Final = "(supplement)"
SUPPLEMENT_OPERATIONS: Final = (
    # (method, template, kind, the v1.0 reference page that documents it)
    (
        "POST",
        "/users/{user-id}/messages/{message-id}/microsoft.graph.permanentDelete",
        "action",
        "message-permanentdelete",
    ),
    (
        "POST",
        "/users/{user-id}/mailFolders/{mailFolder-id}/microsoft.graph.permanentDelete",
        "action",
        "mailfolder-permanentdelete",
    ),
    (
        "POST",
        "/users/{user-id}/events/{event-id}/microsoft.graph.permanentDelete",
        "action",
        "event-permanentdelete",
    ),
    (
        "POST",
        "/users/{user-id}/calendar/microsoft.graph.permanentDelete",
        "action",
        "calendar-permanentdelete",
    ),
    (
        "POST",
        "/users/{user-id}/calendars/{calendar-id}/microsoft.graph.permanentDelete",
        "action",
        "calendar-permanentdelete",
    ),
    (
        "GET",
        "/users/{user-id}/messages/{message-id}/attachments/{attachment-id}/$value",
        "operation",
        "attachment-get",
    ),
    (
        "GET",
        "/users/{user-id}/events/{event-id}/attachments/{attachment-id}/$value",
        "operation",
        "attachment-get",
    ),
)
"""Operations of Graph v1.0 that the OpenAPI snapshot (2025-01) lacks but the reference pages document.
They take no query options and no body; nothing else is checked."""

_CALL = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)\((?P<args>.*)\)$", re.DOTALL)
_QUOTED = re.compile(r"'(?:[^']|'')*'")
_MAX_MESSAGE = 240


# -- results ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    """One operation of the documents: ``GET /users/{user-id}/messages`` in ``Mail.yml``."""

    document: str
    template: str
    method: str
    kind: str = "operation"
    """``operation``, ``action`` or ``function`` (the documents' ``x-ms-docs-operation-type``)."""

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    def __str__(self) -> str:
        return f"{self.key} ({self.document})"


BATCH_OPERATION: Final = Operation("(JSON batching)", "/$batch", "POST", "batch")


@dataclass
class Check:
    """The outcome of checking one request: the operation it is, and what is wrong with it."""

    method: str
    path: str
    operation: Operation | None = None
    problems: list[str] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    """Every operation the request exercised (a ``$batch`` has one per sub-request)."""
    notes: list[str] = field(default_factory=list)
    """What could not be checked (e.g. a MIME body), for information."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        where = f" (matched {self.operation})" if self.operation else ""
        reasons = "\n    ".join(self.problems)
        return f"{self.method} {self.path}{where}:\n    {reasons}"


class ConformanceError(AssertionError):
    """A request that Graph's OpenAPI documents say is invalid."""


# -- path handling ---------------------------------------------------------------------------------
def _split_args(text: str) -> list[str]:
    """``a='x,y',b=2`` -> ``["a='x,y'", "b=2"]`` (commas inside quotes or parentheses kept)."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _function_key(name: str, args: str) -> str:
    short = name.lower().removeprefix(NAMESPACE)
    names = sorted(part.split("=", 1)[0].strip().lower() for part in _split_args(args))
    return f"fn:{short}({','.join(names)})"


def normalize_segments(path: str) -> list[str]:
    """The decoded segments of a request path after ``/v1.0``, ``/me`` expanded to ``users/me``.

    ``/me/messages/AAMk%2FQ%3D/`` -> ``["users", "me", "messages", "AAMk/Q="]``.
    """
    path = path.split("?", 1)[0].split("#", 1)[0]
    segments: list[str] = []
    for raw in path.split("/"):
        if not raw:
            continue
        segment = unquote(raw)
        call = _CALL.match(segment)
        if call and call["args"] and ("=" not in call["args"] or _QUOTED.fullmatch(call["args"].strip())):
            # key syntax: users('a@b.com') -> users/a@b.com
            segments.append(call["name"])
            segments.append(call["args"].strip().strip("'").replace("''", "'"))
            continue
        segments.append(segment)
    if segments and segments[0].lower() == "me":
        segments[0:1] = ["users", "me"]
    return segments


def _request_keys(segment: str) -> list[str]:
    """Trie keys a concrete segment may match, most specific first (parameters are tried last)."""
    call = _CALL.match(segment)
    if call:
        return [_function_key(call["name"], call["args"])]
    low = segment.lower()
    short = low.removeprefix(NAMESPACE)
    keys = [low, f"fn:{short}()"]
    if short != low:
        keys.append(short)
    return keys


def _template_keys(segment: str, actions: bool) -> list[str] | None:
    """Trie keys of a template segment; ``None`` for a ``{parameter}``."""
    if segment.startswith("{") and segment.endswith("}"):
        return None
    call = _CALL.match(segment)
    if call:
        return [_function_key(call["name"], call["args"])]
    low = segment.lower()
    if actions and low.startswith(NAMESPACE):
        return [low, low.removeprefix(NAMESPACE)]
    return [low]


@dataclass
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    templates: list[tuple[str, str]] = field(default_factory=list)
    """``(document, template)`` pairs ending here."""


@dataclass(frozen=True)
class _PathEntry:
    document: str
    template: str
    methods: Mapping[str, str]
    """``GET`` -> operation kind."""


_SCAN = re.compile(
    r"^  (?:'(?P<quoted>(?:[^']|'')*)'|(?P<bare>/[^\s]*?)):[ \t]*$"
    r"|^    (?P<method>get|put|post|patch|delete|head|options):[ \t]*$"
    r"|^      x-ms-docs-operation-type:[ \t]*(?P<kind>\w+)",
    re.MULTILINE,
)


def scan_paths(text: str, document: str) -> list[_PathEntry]:
    """The paths, methods and operation kinds of a document, from its text (no YAML parsing).

    Relies on the generator's fixed layout (``paths:`` then paths at indent 2, methods at 4, the
    operation type at 6); a unit test checks it agrees with the parsed document.
    """
    start = text.find("\npaths:")
    end = text.find("\ncomponents:", start)
    section = text[start : end if end >= 0 else len(text)] if start >= 0 else ""
    entries: list[_PathEntry] = []
    template: str | None = None
    methods: dict[str, str] = {}
    method: str | None = None
    for found in _SCAN.finditer(section):
        if found["quoted"] is not None or found["bare"] is not None:
            if template is not None:
                entries.append(_PathEntry(document, template, methods))
            quoted = found["quoted"]
            template = quoted.replace("''", "'") if quoted is not None else found["bare"]
            methods, method = {}, None
        elif found["method"]:
            method = found["method"].upper()
            methods[method] = "operation"
        elif method:
            methods[method] = found["kind"]
    if template is not None:
        entries.append(_PathEntry(document, template, methods))
    return entries


# -- schema validation -------------------------------------------------------------------------
def _no_constraint(*_args: Any) -> Iterator[Any]:
    return iter(())


def _enum(validator: Any, enums: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
    """Graph takes enum members in any case (``"HTML"`` for ``html``)."""
    from jsonschema import _keywords

    if isinstance(instance, str) and any(isinstance(e, str) and e.lower() == instance.lower() for e in enums):
        return
    if instance is None and schema.get("nullable"):
        return
    yield from _keywords.enum(validator, enums, instance, schema)


_PATH_KEY = re.compile(r"^  (?:'(?:[^']|'')*'|/[^\s]*?):[ \t]*$", re.MULTILINE)
_SECTION_KEY = re.compile(r"^  ([A-Za-z]+):[ \t]*$", re.MULTILINE)
_COMPONENT_KEY = re.compile(r"^    ([A-Za-z0-9_.\-]+):[ \t]*$", re.MULTILINE)
_PARENT_REF = re.compile(r"^        - \$ref: '#/components/schemas/([^']+)'[ \t]*$", re.MULTILINE)


class _LazyBlocks(Mapping[str, Any]):
    """A YAML mapping of the document whose entries are parsed one by one, on first access.

    Parsing a whole document takes up to half a second; a request needs a few dozen of its
    thousands of entries (a path item, the schemas it refers to).
    """

    def __init__(self, text: str, spans: dict[str, tuple[int, int]]) -> None:
        self._text = text
        self._spans = spans
        self._parsed: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        try:
            return self._parsed[key]
        except KeyError:
            start, end = self._spans[key]  # KeyError for an unknown key, as a dict
        loaded = yaml.load(self._text[start:end], Loader=yaml.CSafeLoader)
        value = self._parsed[key] = next(iter(loaded.values()))
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)

    def text(self, key: str) -> str:
        start, end = self._spans[key]
        return self._text[start:end]


def _spans(
    text: str, pattern: re.Pattern[str], start: int, end: int, key: Callable[[re.Match[str]], str]
) -> dict[str, tuple[int, int]]:
    """Key -> (start, end) of each block that ``pattern`` starts, within ``text[start:end]``."""
    found = list(pattern.finditer(text, start, end))
    stops = [m.start() for m in found[1:]] + [end]
    return {key(m): (m.start(), stop) for m, stop in zip(found, stops, strict=True)}


def _lazy_document(text: str) -> dict[str, Any]:
    """The document as nested mappings, its path items and components parsed on access.

    Relies on the generator's layout (``paths:`` and ``components:`` at the top, path keys at indent
    2, components at 4); a unit test checks entries parse as in the whole document.
    """
    paths_at = text.find("\npaths:")
    components_at = text.find("\ncomponents:")
    end = text.find("\nsecurity:", components_at)
    end = len(text) if end < 0 else end

    def path_key(match: re.Match[str]) -> str:
        raw = match.group(0).strip()[:-1]
        return raw[1:-1].replace("''", "'") if raw.startswith("'") else raw

    paths = _spans(text, _PATH_KEY, paths_at, components_at, path_key)
    components: dict[str, Any] = {}
    sections = _spans(text, _SECTION_KEY, components_at, end, lambda m: m.group(1))
    for section, (start, stop) in sections.items():
        entries = _spans(text, _COMPONENT_KEY, start, stop, lambda m: m.group(1))
        components[section] = _LazyBlocks(text, entries)
    return {"paths": _LazyBlocks(text, paths), "components": components}


class _Document:
    """One OpenAPI document with its reference registry and validators (built on demand)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self.uri = f"urn:graph-openapi:{path.name}"
        self._lock = threading.RLock()
        self._typing = threading.local()
        self._validators: dict[str, Any] = {}
        self._properties: dict[str, frozenset[str]] = {}

    @cached_property
    def data(self) -> dict[str, Any]:
        """``paths`` and ``components``, entries parsed on first access."""
        return _lazy_document(self.path.read_text(encoding="utf-8"))

    @cached_property
    def registry(self) -> Registry[Any]:
        from referencing import Registry, Resource

        registry: Registry[Any] = Registry().with_resource(self.uri, Resource.opaque(self.data))
        return registry

    @cached_property
    def schemas(self) -> Mapping[str, Any]:
        schemas: Mapping[str, Any] = self.data["components"].get("schemas", {})
        return schemas

    @cached_property
    def schema_names(self) -> dict[str, str]:
        """Lower-cased type name -> the name as the document spells it."""
        return {name.lower(): name for name in self.schemas}

    def ancestors(self, name: str) -> list[str]:
        """``microsoft.graph.message`` -> ``["microsoft.graph.outlookItem", "microsoft.graph.entity"]``."""
        found: list[str] = []
        todo = [name]
        while todo:
            for parent in self._parents(todo.pop()):
                if parent not in found:
                    found.append(parent)
                    todo.append(parent)
        return found

    def _parents(self, name: str) -> list[str]:
        """The types an ``allOf`` of the schema refers to, read from its text (no parsing)."""
        schemas = self.schemas
        if not isinstance(schemas, _LazyBlocks) or name not in schemas:
            return []
        return _PARENT_REF.findall(schemas.text(name))

    @cached_property
    def _children(self) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {}
        for name in self.schemas:
            for parent in self.ancestors(name):
                children.setdefault(parent, []).append(name)
        return children

    def property_names(self, type_name: str) -> frozenset[str]:
        """Lower-cased properties of a type, its ancestors and the types derived from it."""
        with self._lock:
            names = self._properties.get(type_name)
            if names is None:
                found: set[str] = set()
                for name in [type_name, *self.ancestors(type_name), *self._children.get(type_name, ())]:
                    for part in [self.schemas.get(name, {}), *self.schemas.get(name, {}).get("allOf", ())]:
                        if isinstance(part, dict):
                            found.update(str(p).lower() for p in part.get("properties", {}))
                names = self._properties[type_name] = frozenset(found)
            return names

    def response_type(self, spec: Mapping[str, Any]) -> str | None:
        """The entity type a GET answers (the item type for a collection), if the document says."""
        responses = spec.get("responses") or {}
        response = self.resolve(responses.get("2XX") or responses.get("200") or {})
        content = response.get("content", {}) if isinstance(response, dict) else {}
        schema = content.get("application/json", {}).get("schema") if isinstance(content, dict) else None
        name = _schema_name(schema)
        if name is None:
            return None
        for part in [self.schemas.get(name, {}), *self.schemas.get(name, {}).get("allOf", ())]:
            value = part.get("properties", {}).get("value") if isinstance(part, dict) else None
            if isinstance(value, dict) and value.get("type") == "array":
                return _schema_name(value.get("items"))
        return name

    def _ref(self, validator: Any, ref: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[Any]:
        """``$ref``, plus ``@odata.type``: an object naming a derived type is validated as that type."""
        from jsonschema import _keywords

        if instance is None:
            # complex and enum types are nullable unless the model says otherwise; the generator
            # drops that (a $ref cannot carry `nullable` in OpenAPI 3.0), Graph takes null
            return
        fragment = ref.rpartition("#")[2]
        odata_type = instance.get("@odata.type") if isinstance(instance, dict) else None
        typing: set[int] = self._typing.__dict__.setdefault("ids", set())
        if (
            not isinstance(odata_type, str)
            or not fragment.startswith("/components/schemas/")
            or id(instance) in typing  # already being validated as its @odata.type
        ):
            yield from _keywords.ref(validator, ref, instance, schema)
            return
        declared = fragment.rsplit("/", 1)[1]
        actual = self.schema_names.get(odata_type.lstrip("#").lower())
        typing.add(id(instance))
        try:
            if actual is None or actual == declared:
                # the declared type, or one these documents do not define (Graph decides)
                yield from _keywords.ref(validator, ref, instance, schema)
            elif declared not in self.ancestors(actual):
                yield _validation_error(
                    f"@odata.type {odata_type!r} is not a {declared} or a type derived from it"
                )
            else:  # the derived type's schema includes the declared one (allOf)
                yield from validator.descend(instance, {"$ref": f"{self.uri}#/components/schemas/{actual}"})
        finally:
            typing.discard(id(instance))

    @cached_property
    def validator_class(self) -> Any:
        # imported here: openapi-schema-validator costs 0.2 s to import, and most runs need no body check
        from jsonschema.validators import extend
        from openapi_schema_validator import OAS30Validator

        return extend(
            OAS30Validator,
            {"additionalProperties": _no_constraint, "enum": _enum, "$ref": self._ref},
        )

    def resolve(self, node: Any) -> Any:
        """Follow local ``$ref``s (parameters, request bodies) to the object they name."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            node = self.pointer(str(node["$ref"]).removeprefix("#"))
            seen += 1
        return node

    def pointer(self, pointer: str) -> Any:
        node: Any = self.data
        for part in pointer.lstrip("/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def validator_at(self, pointer: str) -> Any:
        """The validator of the schema at ``pointer`` (built once)."""
        with self._lock:
            validator = self._validators.get(pointer)
            if validator is None:
                ref = f"{self.uri}#{quote(pointer, safe='/~')}"
                validator = self._validators[pointer] = self.validator_class(
                    {"$ref": ref}, registry=self.registry
                )
            return validator


def _schema_name(schema: Any) -> str | None:
    ref = schema.get("$ref", "") if isinstance(schema, dict) else ""
    return ref.rsplit("/", 1)[1] if ref.startswith("#/components/schemas/") else None


def _validation_error(message: str) -> Any:
    from jsonschema.exceptions import ValidationError

    return ValidationError(message)


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _format_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _clip(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


# -- the index -------------------------------------------------------------------------------------
class OpenApiIndex:
    """Every operation of the Graph OpenAPI documents in ``directory``, matched by concrete paths."""

    def __init__(self, directory: Path | str, files: tuple[str, ...] = OPENAPI_FILES) -> None:
        self.directory = Path(directory)
        self.files = tuple(name for name in files if (self.directory / name).is_file())
        if not self.files:
            raise FileNotFoundError(f"no Graph OpenAPI documents ({', '.join(files)}) in {self.directory}")
        self._documents = {name: _Document(self.directory / name) for name in self.files}
        self._root = _Node()
        self._entries: dict[tuple[str, str], _PathEntry] = {}
        for name in self.files:
            text = (self.directory / name).read_text(encoding="utf-8")
            for entry in scan_paths(text, name):
                self._add(entry)
        for method, template, kind, _page in SUPPLEMENT_OPERATIONS:
            self._add(_PathEntry(SUPPLEMENT, template, {method: kind}))

    def _add(self, entry: _PathEntry) -> None:
        self._entries[(entry.document, entry.template)] = entry
        actions = any(kind in ("action", "function") for kind in entry.methods.values())
        nodes = [self._root]
        for segment in (s for s in entry.template.split("/") if s):
            keys = _template_keys(segment, actions)
            following: list[_Node] = []
            for node in nodes:
                if keys is None:
                    node.param = node.param or _Node()
                    following.append(node.param)
                else:
                    for key in keys:
                        following.append(node.literals.setdefault(key, _Node()))
            nodes = following
        for node in nodes:
            node.templates.append((entry.document, entry.template))

    # -- matching ------------------------------------------------------------------------------
    @property
    def templates(self) -> list[str]:
        return sorted({template for _, template in self._entries})

    def candidates(self, path: str) -> list[_PathEntry]:
        """Path entries matching ``path``, most specific first."""
        segments = normalize_segments(path)
        found: list[tuple[str, str]] = []

        def walk(node: _Node, index: int) -> None:
            if index == len(segments):
                found.extend(t for t in node.templates if t not in found)
                return
            for key in _request_keys(segments[index]):
                child = node.literals.get(key)
                if child is not None:
                    walk(child, index + 1)
            if node.param is not None:
                walk(node.param, index + 1)

        walk(self._root, 0)
        return [self._entries[t] for t in found]

    def match(self, method: str, path: str) -> Operation:
        """The operation ``method path`` calls; ``LookupError`` (with the reason) if none does."""
        method = method.upper()
        entries = self.candidates(path)
        if not entries and method == "GET":
            found = self._property_of(path)
            if found is not None:
                return found
        if not entries:
            raise LookupError(
                f"no operation in the Graph OpenAPI documents matches the path {path.split('?', 1)[0]!r}"
            )
        for entry in entries:
            if method in entry.methods:
                return Operation(entry.document, entry.template, method, entry.methods[method])
        best = entries[0]
        raise LookupError(
            f"{method} is not an operation of {best.template} ({best.document} has"
            f" {', '.join(sorted(best.methods))})"
        )

    def _property_of(self, path: str) -> Operation | None:
        """``GET /me/mailboxSettings/timeZone``: OData addresses one property of an entity; the documents
        list no operation for it, so it is the parent's GET plus a property its type has."""
        parent, _, name = path.split("?", 1)[0].rstrip("/").rpartition("/")
        if not parent or not name:
            return None
        try:
            operation = self.match("GET", parent)
        except LookupError:
            return None
        if operation.document not in self._documents:
            return None
        document = self._documents[operation.document]
        spec = document.data["paths"][operation.template]["get"]
        type_name = document.response_type(spec)
        if type_name is None or unquote(name).lower() not in document.property_names(type_name):
            return None
        return Operation(operation.document, f"{operation.template}/{unquote(name)}", "GET", "property")

    # -- checking ------------------------------------------------------------------------------
    def check(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | str | None = None,
        *,
        body: Any = NO_BODY,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Check:
        """Check one request: ``path`` is after ``/v1.0`` (a ``?query`` on it is merged with ``query``).

        Give the body either parsed (``body=``, a JSON value) or raw (``content=`` with ``content_type``).
        """
        method = method.upper()
        result = Check(method, path)
        params = _query_dict(path.partition("?")[2]) if "?" in path else {}
        if isinstance(query, str):
            params.update(_query_dict(query))
        elif query:
            params.update({str(k): str(v) for k, v in query.items()})
        body = self._body_value(result, body, content, content_type)
        if [s.lower() for s in normalize_segments(path)] == ["$batch"]:
            if method == "POST":
                self._check_batch(result, body)
            else:
                result.problems.append(
                    f"{method} is not an operation of /$batch (JSON batching is POST only)"
                )
            return result
        try:
            operation = self.match(method, path)
        except LookupError as exc:
            result.problems.append(str(exc))
            return result
        result.operation = operation
        result.operations.append(operation)
        if operation.document == SUPPLEMENT or operation.kind == "property":
            self._check_supplement(result, operation, params, body)
            return result
        document = self._documents[operation.document]
        spec = document.data["paths"][operation.template][method.lower()]
        self._check_query(result, document, spec, params)
        self._check_body(result, document, operation, spec, body)
        return result

    def check_response(self, method: str, path: str, status: int, body: Any = NO_BODY) -> Check:
        """Check an answer against the operation's documented response: the status must be one the
        operation documents (or its ``default`` error), and a JSON body must match that response's
        schema. ``body`` is the parsed JSON (``NO_BODY`` when there is none)."""
        method = method.upper()
        result = Check(method, path)
        try:
            operation = self.match(method, path.partition("?")[0])
        except LookupError as exc:
            result.notes.append(str(exc))
            return result
        result.operation = operation
        result.operations.append(operation)
        if operation.document == SUPPLEMENT or operation.kind == "property":
            result.notes.append(f"{operation.key}: no response schema in the held documents")
            return result
        document = self._documents[operation.document]
        spec = document.data["paths"][operation.template][method.lower()]
        responses = spec.get("responses") or {}
        key = next(
            (k for k in (str(status), f"{status // 100}XX") if k in responses),
            "default" if status >= 400 and "default" in responses else None,
        )
        if key is None:
            result.problems.append(
                f"status {status}: not an answer {operation.key} documents ({', '.join(map(str, responses))})"
            )
            return result
        raw = responses[key]
        response = document.resolve(raw)
        content = response.get("content", {}) if isinstance(response, dict) else {}
        json_type = next((t for t in content if "json" in t), None)
        if body is NO_BODY or json_type is None:
            if body is not NO_BODY:
                result.notes.append(f"{operation.key} {key}: the documents declare no JSON body")
            return result
        if isinstance(raw, dict) and "$ref" in raw:
            pointer = str(raw["$ref"]).removeprefix("#")
        else:
            pointer = f"/paths/{_escape(operation.template)}/{method.lower()}/responses/{_escape(key)}"
        validator = document.validator_at(f"{pointer}/content/{_escape(json_type)}/schema")
        errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
        for error in errors:
            where = _format_path(list(error.absolute_path))
            result.problems.append(_clip(f"response{where}: {error.message}"))
        return result

    def assert_conforms(
        self, method: str, path: str, query: Mapping[str, str] | str | None = None, **kwargs: Any
    ) -> Operation:
        """``check`` that raises ``ConformanceError`` naming the problems; returns the operation."""
        result = self.check(method, path, query, **kwargs)
        if not result.ok:
            raise ConformanceError(
                "request does not conform to Graph's OpenAPI documents: " + result.describe()
            )
        assert result.operation is not None
        return result.operation

    def _check_supplement(
        self, result: Check, operation: Operation, params: Mapping[str, str], body: Any
    ) -> None:
        for name in params:
            if name.startswith("$") and name.lower() not in ALWAYS_ALLOWED_QUERY:
                result.problems.append(f"query: {name} is not supported by this operation (it takes none)")
        if body is not NO_BODY and body not in (None, {}, []):
            result.problems.append(f"body: {operation.key} takes no request body, got {_short(body)}")

    def _body_value(self, result: Check, body: Any, content: bytes | None, content_type: str | None) -> Any:
        if content is None or body is not NO_BODY:
            return body
        if not content:
            return NO_BODY
        ctype = (content_type or "").split(";", 1)[0].strip().lower()
        looks_json = content.lstrip()[:1] in (b"{", b"[")
        if ctype.endswith("json") or (not ctype and looks_json):
            try:
                return json.loads(content)
            except ValueError as exc:
                result.problems.append(f"body: declared as JSON but does not parse: {exc}")
                return NO_BODY
        result.notes.append(f"{ctype or 'non-JSON'} body not validated (the documents describe JSON only)")
        return NO_BODY

    def _check_query(
        self, result: Check, document: _Document, spec: Mapping[str, Any], params: Mapping[str, str]
    ) -> None:
        declared: dict[str, dict[str, Any]] = {}
        for raw in spec.get("parameters", ()):
            parameter = document.resolve(raw)
            if isinstance(parameter, dict) and parameter.get("in") == "query":
                declared[str(parameter["name"]).lower()] = parameter
        given = {name.lower(): (name, value) for name, value in params.items()}
        for lower, parameter in declared.items():
            if parameter.get("required") and lower not in given:
                result.problems.append(f"query: required parameter {parameter['name']} is missing")
        for lower, (name, value) in given.items():
            if lower in ALWAYS_ALLOWED_QUERY:
                continue
            parameter = declared.get(lower)
            if parameter is None:
                if lower.startswith("$"):
                    options = sorted(p["name"] for k, p in declared.items() if k.startswith("$"))
                    result.problems.append(
                        f"query: {name} is not supported by this operation"
                        f" (it takes {', '.join(options) if options else 'no OData query options'})"
                    )
                continue  # Graph ignores custom query parameters it does not know
            schema = document.resolve(parameter.get("schema") or {})
            for problem in _check_query_value(value, schema, document):
                result.problems.append(f"query: {name}={value!r}: {problem}")
            if lower in ("$select", "$orderby", "$expand"):
                for problem in _check_property_names(lower, value, document, spec):
                    result.problems.append(f"query: {name}: {problem}")
        result.problems.extend(_graph_query_rules(result.operation, given))

    def _check_body(
        self, result: Check, document: _Document, operation: Operation, spec: Mapping[str, Any], body: Any
    ) -> None:
        raw_request_body = spec.get("requestBody")
        if raw_request_body is None:
            if (
                body is not NO_BODY
                and body not in (None, {}, [])
                and operation.method in ("POST", "PUT", "PATCH")
            ):
                result.problems.append(f"body: {operation.key} takes no request body, got {_short(body)}")
            return
        request_body = document.resolve(raw_request_body)
        content = request_body.get("content", {})
        json_type = next((t for t in content if "json" in t), None)
        if body is NO_BODY:
            # an action's parameters may all be optional (createReply with no body): only operations
            # on entities (create, update) need their body
            if request_body.get("required") and operation.kind != "action" and not result.notes:
                result.problems.append(f"body: {operation.key} requires a request body")
            return
        if json_type is None:
            result.notes.append(
                f"{operation.key} declares no JSON body ({', '.join(content)}); not validated"
            )
            return
        if isinstance(raw_request_body, dict) and "$ref" in raw_request_body:
            pointer = str(raw_request_body["$ref"]).removeprefix("#")
        else:
            pointer = f"/paths/{_escape(operation.template)}/{operation.method.lower()}/requestBody"
        pointer += f"/content/{_escape(json_type)}/schema"
        renamed: dict[str, str] = {}
        if operation.kind == "action" and isinstance(body, dict):
            body, renamed = self._action_parameters(result, document, operation, pointer, body)
        validator = document.validator_at(pointer)
        errors = sorted(validator.iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
        for error in errors:
            parts = list(error.absolute_path)
            if parts and isinstance(parts[0], str):
                parts[0] = renamed.get(parts[0], parts[0])
            result.problems.append(_clip(f"body{_format_path(parts)}: {error.message}"))

    def _action_parameters(
        self, result: Check, document: _Document, operation: Operation, pointer: str, body: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Rename action parameters to the documents' spelling (Graph matches them case-insensitively)."""
        schema = document.resolve(document.pointer(pointer))
        properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
        names = {name.lower(): name for name in properties}
        renamed_body: dict[str, Any] = {}
        renamed: dict[str, str] = {}
        for key, value in body.items():
            target = names.get(key.lower())
            if target is None:
                if "@" not in key:
                    known = ", ".join(n[:1].lower() + n[1:] for n in properties) or "none"
                    action = operation.template.rsplit("/", 1)[-1].removeprefix(NAMESPACE)
                    result.problems.append(f"body.{key}: not a parameter of {action} (parameters: {known})")
                continue
            renamed_body[target] = value
            renamed[target] = key
        return renamed_body, renamed

    def _check_batch(self, result: Check, body: Any) -> None:
        result.operation = BATCH_OPERATION
        result.operations.append(BATCH_OPERATION)
        requests = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(requests, list) or not requests:
            result.problems.append('body: a $batch body is {"requests": [...]} with 1 to 20 requests')
            return
        if len(requests) > BATCH_LIMIT:
            result.problems.append(
                f"body.requests: {len(requests)} requests; Graph takes at most {BATCH_LIMIT}"
            )
        seen: set[str] = set()
        for index, item in enumerate(requests):
            where = f"body.requests[{index}]"
            if not isinstance(item, dict):
                result.problems.append(f"{where}: not an object")
                continue
            missing = [k for k in ("id", "method", "url") if not item.get(k)]
            if missing:
                result.problems.append(f"{where}: missing {', '.join(missing)}")
                continue
            ident = str(item["id"])
            if ident in seen:
                result.problems.append(f"{where}.id: {ident!r} is used twice")
            depends = item.get("dependsOn") or []
            for other in depends if isinstance(depends, list) else [depends]:
                if str(other) not in seen:
                    result.problems.append(f"{where}.dependsOn: {other!r} is not an earlier request id")
            seen.add(ident)
            url = str(item["url"])
            if "://" in url:
                result.problems.append(f"{where}.url: must be relative to the version (e.g. /me/messages)")
                continue
            headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            sub_body = item.get("body", NO_BODY)
            if sub_body is not NO_BODY and "content-type" not in headers:
                result.problems.append(f"{where}.headers: Content-Type is required with a body")
            if isinstance(sub_body, str) and headers.get("content-type", "").endswith("json"):
                with contextlib.suppress(ValueError):
                    sub_body = json.loads(sub_body)
            sub = self.check(str(item["method"]), "/" + url.lstrip("/"), body=sub_body)
            result.operations.extend(sub.operations)
            result.problems.extend(f"{where} ({sub.method} {url}): {p}" for p in sub.problems)


def _query_dict(query: str) -> dict[str, str]:
    return dict(parse_qsl(query, keep_blank_values=True))


def _check_query_value(value: str, schema: Mapping[str, Any], document: _Document) -> list[str]:
    kind = schema.get("type")
    if kind == "array":
        items = document.resolve(schema.get("items") or {})
        problems: list[str] = []
        for item in _split_args(value):
            problems.extend(_check_query_value(item, items, document))
        return problems
    if kind == "integer":
        try:
            number = int(value)
        except ValueError:
            return ["is not an integer"]
        if "minimum" in schema and number < schema["minimum"]:
            return [f"is below the minimum {schema['minimum']}"]
        if "maximum" in schema and number > schema["maximum"]:
            return [f"is above the maximum {schema['maximum']}"]
        return []
    if kind == "boolean":
        return [] if value.lower() in ("true", "false") else ["is not true or false"]
    enum = schema.get("enum")
    if enum and not any(str(e).lower() == value.lower() for e in enum):
        shown = ", ".join(map(str, enum[:12])) + (", ..." if len(enum) > 12 else "")
        return [f"{value!r} is not one of {shown}"]
    return []


def _graph_query_rules(operation: Operation | None, given: Mapping[str, tuple[str, str]]) -> list[str]:
    """Rules Graph enforces that the documents do not state."""
    problems: list[str] = []
    if operation is not None and operation.template.endswith("/messages") and "$search" in given:
        # Graph answers 400 ("The query parameter '$orderBy' is not supported with '$search'"; the
        # same for $filter): message search sorts by relevance and cannot be filtered
        for option in ("$filter", "$orderby"):
            if option in given:
                problems.append(f"query: {given[option][0]} cannot be combined with $search on messages")
    return problems


def _check_property_names(option: str, value: str, document: _Document, spec: Mapping[str, Any]) -> list[str]:
    """Graph answers 400 for a $select/$orderby/$expand naming a property the type does not have."""
    type_name = document.response_type(spec)
    if type_name is None:
        return []
    known = document.property_names(type_name)
    if not known:
        return []
    problems: list[str] = []
    for item in _split_args(value):
        name = item.split("(", 1)[0].split(" ", 1)[0].split("/", 1)[0].strip()
        if not name or name == "*" or "." in name or name.startswith("@"):
            continue  # casts (microsoft.graph.x/...), annotations and * are not checked
        if name.lower() not in known:
            problems.append(f"{name!r} is not a property of {type_name}")
    return problems


@cache
def index_for(directory: str) -> OpenApiIndex:
    """The index of the documents in ``directory``, built once per process."""
    return OpenApiIndex(directory)


def split_graph_url(url: str, version: str = "/v1.0") -> tuple[str, str] | None:
    """``https://host/v1.0/me?x=1`` -> ``("/me", "x=1")`` (raw, still percent-encoded); None if not Graph."""
    parts = urlsplit(url)
    path = parts.path
    if not path.startswith(version + "/"):
        return None
    return path[len(version) :], parts.query
