"""OData query options for collections: $top/$skip paging, $select, $orderby, $filter, $search, $count.

The $filter subset: ``eq ne gt ge lt le``, ``and or not``, parentheses, ``startswith/endswith/contains``
on strings, and ``any`` over collections (``categories/any(c:c eq 'Red category')``,
``toRecipients/any(r:r/emailAddress/address eq 'x')``). Anything else is refused the way Graph refuses it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from sandbox.errors import GraphError, bad_request, unknown_property

Item = Mapping[str, Any]
T = TypeVar("T", bound=Mapping[str, Any])
Predicate = Callable[[Item], bool]

_ELEMENT_PATHS = {
    "recipients": {"emailAddress/address": "string", "emailAddress/name": "string"},
    "extended": {"id": "propid", "value": "string"},  # singleValueExtendedProperties/any(ep: ...)
    "extendedMulti": {"id": "propid"},
    "extensions": {"id": "extid"},
}
_COLLECTIONS = frozenset({"strings", *_ELEMENT_PATHS})
_EDM = {
    "string": "Edm.String",
    "propid": "Edm.String",
    "extid": "Edm.String",
    "enum": "Edm.String",
    "bool": "Edm.Boolean",
    "datetime": "Edm.DateTimeOffset",
    "int": "Edm.Int32",
    "null": "null",
}
_OP_NAMES = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}
_STRING_FUNCTIONS: dict[str, Callable[[str, str], bool]] = {
    "startswith": str.startswith,
    "endswith": str.endswith,
    "contains": lambda a, b: b in a,
}


@dataclass(frozen=True)
class Schema:
    """What a collection supports. Paths use ``/`` (``from/emailAddress/address``)."""

    entity: str
    selectable: tuple[str, ...]
    filterable: Mapping[str, str]
    """Path -> type: string, enum, bool, datetime, int, strings (collection), recipients (collection)."""
    sortable: frozenset[str]
    default_top: int
    max_top: int
    default_orderby: tuple[tuple[str, bool], ...] = ()
    """(path, descending) pairs applied when $orderby is absent."""
    searchable: Mapping[str, Callable[[Item], str]] = field(default_factory=dict)
    """KQL property name -> text of an item; the first ones are searched by bare terms."""
    search_default: tuple[str, ...] = ()
    known_paths: frozenset[str] = frozenset()
    """Other valid paths (not filterable here): named in errors as unsupported rather than unknown."""
    skip_tokens: bool = False
    """Page with an opaque ``$skiptoken`` (directory objects) instead of ``$skip`` (Outlook)."""
    top_error: tuple[str, str] = (
        "ErrorInvalidUrlQuery",
        "The value of the parameter '$top' must be between 1 and {max}.",
    )
    """(code, message) answered for an out-of-range $top; the message may use {max} and {top}."""


@dataclass
class ListQuery:
    top: int
    skip: int
    select: list[str] | None = None
    orderby: list[tuple[str, bool]] = field(default_factory=list)
    filter: Predicate | None = None
    filter_paths: list[str] = field(default_factory=list)
    search_terms: list[tuple[str | None, str]] | None = None
    count: bool = False
    page_size_preference: int | None = None


def option(args: Mapping[str, str], name: str) -> str | None:
    """A system query option, with or without its ``$`` (Graph v1.0 accepts both)."""
    value = args.get("$" + name)
    return value if value is not None else args.get(name)


def _int_option(args: Mapping[str, str], name: str) -> int | None:
    raw = option(args, name)
    if raw is None:
        return None
    if not re.fullmatch(r"\d+", raw.strip()):
        raise bad_request(
            f"Invalid value '{raw}' for ${name} query option found. The ${name} query option "
            "requires a non-negative integer value."
        )
    return int(raw)


def _skip(args: Mapping[str, str], schema: Schema) -> int:
    if not schema.skip_tokens:
        return _int_option(args, "skip") or 0
    if option(args, "skip") is not None:
        raise GraphError(400, "Request_BadRequest", "'$skip' is not supported by the service.")
    token = option(args, "skiptoken")
    if token is None:
        return 0
    try:
        return int(
            base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii").removeprefix("sandbox-skip:")
        )
    except ValueError:
        raise GraphError(400, "Request_BadRequest", "Invalid skip token.") from None


def parse_select(raw: str | None, schema: Schema) -> list[str] | None:
    if raw is None or not raw.strip():
        return None
    canon = {name.lower(): name for name in schema.selectable}
    chosen: list[str] = []
    for part in raw.split(","):
        name = part.strip()
        if name.lower() not in canon:
            raise unknown_property(name, schema.entity)
        chosen.append(canon[name.lower()])
    return chosen


def apply_select(
    item: Mapping[str, Any], select: Sequence[str] | None, keep_id: bool = True
) -> dict[str, Any]:
    """``item`` cut down to ``select``; Outlook resources keep ``id`` and ``@odata.etag`` regardless
    (directory objects pass ``keep_id=False``)."""
    if select is None:
        return dict(item)
    keep = {"@odata.type", "@odata.etag", *select, *(("id",) if keep_id else ())}
    return {key: value for key, value in item.items() if key in keep}


def parse_list_query(args: Mapping[str, str], schema: Schema, max_page_size: int | None = None) -> ListQuery:
    """Validate the query options of a collection request (raises GraphError like Graph)."""
    top = _int_option(args, "top")
    if top is not None and not 1 <= top <= schema.max_top:
        code, message = schema.top_error
        raise GraphError(400, code, message.format(max=schema.max_top, top=top))
    preference = None
    if top is None and max_page_size is not None:
        preference = top = max(1, min(max_page_size, schema.max_top))
    query = ListQuery(
        top=top or schema.default_top, skip=_skip(args, schema), page_size_preference=preference
    )
    query.select = parse_select(option(args, "select"), schema)
    count = option(args, "count")
    if count is not None:
        if count.lower() not in ("true", "false"):
            raise bad_request(
                f"Invalid value '{count}' for $count query option found. Valid values are 'true', 'false'."
            )
        query.count = count.lower() == "true"

    search, filter_text, orderby = option(args, "search"), option(args, "filter"), option(args, "orderby")
    if search is not None:
        if not schema.searchable:
            raise bad_request(f"Search is not supported for the '{schema.entity}' collection.", "BadRequest")
        if orderby:
            raise GraphError(
                400, "SearchWithOrderBy", "The query parameter '$orderBy' is not supported with '$search'."
            )
        if filter_text:
            raise GraphError(
                400, "SearchWithFilter", "The query parameter '$filter' is not supported with '$search'."
            )
        query.search_terms = _parse_search(search, schema)
    if filter_text is not None:
        parser = _FilterParser(filter_text, schema)
        query.filter = parser.parse()
        query.filter_paths = parser.paths
    if orderby is not None:
        query.orderby = _parse_orderby(orderby, schema)
        if query.filter is not None and query.filter_paths[: len(query.orderby)] != [
            p for p, _ in query.orderby
        ]:
            # Exchange requires the $orderby properties to lead the $filter, in the same order.
            raise GraphError(
                400, "InefficientFilter", "The restriction or sort order is too complex for this operation."
            )
    else:
        query.orderby = list(schema.default_orderby)
    return query


def parse_filter(text: str, schema: Schema) -> Predicate:
    """A ``$filter`` expression over ``schema``'s filterable paths (as in a collection request)."""
    return _FilterParser(text, schema).parse()


def run_query(items: Sequence[T], query: ListQuery, schema: Schema) -> tuple[list[T], int, int | None]:
    """(page, total matching, skip of the next page or None)."""
    matched = list(items)
    if query.filter is not None:
        predicate = query.filter
        matched = [item for item in matched if predicate(item)]
    if query.search_terms is not None:
        matched = [item for item in matched if _search_matches(item, query.search_terms, schema)]
    matched = sorted(matched, key=lambda item: str(item.get("id", "")))  # a stable base order for ties
    for path, descending in reversed(query.orderby):
        matched.sort(key=_sort_key_of(path), reverse=descending)
    end = query.skip + query.top
    next_skip = end if end < len(matched) else None
    return matched[query.skip : end], len(matched), next_skip


def next_link(base_url: str, args: Sequence[tuple[str, str]], next_skip: int, schema: Schema) -> str:
    """The nextLink: same URL and options, with ``$skip`` (or ``$skiptoken``) moved on."""
    kept = [(k, v) for k, v in args if k not in ("$skip", "skip", "$skiptoken", "skiptoken")]
    if schema.skip_tokens:
        kept.append(("$skiptoken", base64.urlsafe_b64encode(f"sandbox-skip:{next_skip}".encode()).decode()))
    else:
        kept.append(("$skip", str(next_skip)))
    return base_url + "?" + urlencode(kept, quote_via=quote, safe="$,'()/:@*")


# -- values ----------------------------------------------------------------------------------------------
def _value(item: Item, path: str) -> Any:
    current: Any = item
    for part in path.split("/"):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _sort_key_of(path: str) -> Callable[[Item], tuple[int, Any]]:
    def key(item: Item) -> tuple[int, Any]:
        value = _value(item, path)
        if value is None:
            return (0, "")
        return (1, value.lower() if isinstance(value, str) else value)

    return key


def _parse_datetime(text: str) -> datetime:
    if "T" not in text:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _normalise(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return _parse_datetime(value) if isinstance(value, str) else value
    if kind in ("string", "enum") and isinstance(value, str):
        return value.lower()  # Exchange compares strings case-insensitively
    if kind == "propid":  # extended property ids: case, spacing and braces do not matter
        return " ".join(str(value).replace("{", "").replace("}", "").split()).lower()
    if kind == "extid":  # open extensions match by name or by full id
        text = str(value).strip().lower()
        return text.removeprefix("microsoft.outlookservices.opentypeextension.").removeprefix(
            "microsoft.graph.opentypeextension."
        )
    return value


# -- $orderby ---------------------------------------------------------------------------------------------
def _parse_orderby(raw: str, schema: Schema) -> list[tuple[str, bool]]:
    result: list[tuple[str, bool]] = []
    for clause in raw.split(","):
        words = clause.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise bad_request(f"Syntax error in '$orderby' at '{clause.strip()}'.")
        path = _canonical_path(words[0], schema)
        if path not in schema.sortable:
            raise GraphError(400, "ErrorInvalidUrlQuery", f"The property '{path}' does not support sorting.")
        result.append((path, len(words) == 2 and words[1].lower() == "desc"))
    return result


def _canonical_path(raw: str, schema: Schema) -> str:
    every = {
        p.lower(): p for p in (*schema.filterable, *schema.sortable, *schema.known_paths, *schema.selectable)
    }
    canonical = every.get(raw.lower())
    if canonical is None:
        raise unknown_property(
            raw.split("/")[-1] if raw.split("/")[0].lower() in every else raw.split("/")[0], schema.entity
        )
    return canonical


# -- $search ------------------------------------------------------------------------------------------------
def _parse_search(raw: str, schema: Schema) -> list[tuple[str | None, str]]:
    text = raw.strip()
    if text.startswith('"') or text.endswith('"'):
        if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
            raise bad_request(
                f"Syntax error: character '\"' is not valid at position {len(text) - 1} in '{raw}'."
            )
        text = text[1:-1]
    terms: list[tuple[str | None, str]] = []
    for word in text.split():
        prop, colon, value = word.partition(":")
        if colon and prop.lower() in schema.searchable:
            terms.append((prop.lower(), value.strip("'\"").lower()))
        else:
            terms.append((None, word.strip("'\"").lower()))
    return [term for term in terms if term[1]]


def _search_matches(item: Item, terms: list[tuple[str | None, str]], schema: Schema) -> bool:
    for prop, word in terms:
        names = (prop,) if prop else schema.search_default
        if not any(word in schema.searchable[name](item).lower() for name in names):
            return False
    return True


# -- $filter ------------------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    | (?P<punct>[(),/:])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


class _FilterParser:
    def __init__(self, text: str, schema: Schema) -> None:
        self.text = text
        self.schema = schema
        self.tokens = self._tokenize(text)
        self.index = 0
        self.paths: list[str] = []
        """Filtered properties in order of first appearance (for Exchange's $orderby rule)."""
        self._lambda_kind: str | None = None

    def _tokenize(self, text: str) -> list[_Token]:
        tokens: list[_Token] = []
        position = 0
        while position < len(text):
            if text[position:].strip() == "":
                break
            match = _TOKEN.match(text, position)
            if match is None or match.lastgroup is None:
                raise self._syntax_error(position)
            start = match.start(match.lastgroup)
            tokens.append(_Token(match.lastgroup, match.group(match.lastgroup), start))
            position = match.end()
        return tokens

    def _syntax_error(self, position: int | None = None) -> GraphError:
        if position is None:
            position = self.tokens[self.index].position if self.index < len(self.tokens) else len(self.text)
        return bad_request(f"Invalid filter clause: Syntax error at position {position} in '{self.text}'.")

    def _unsupported(self) -> GraphError:
        return GraphError(
            400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
        )

    def _peek(self, offset: int = 0) -> _Token | None:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def _next(self) -> _Token:
        token = self._peek()
        if token is None:
            raise self._syntax_error()
        self.index += 1
        return token

    def _expect(self, text: str) -> None:
        token = self._next()
        if token.text != text:
            raise self._syntax_error(token.position)

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == "name" and token.text.lower() == word:
            self.index += 1
            return True
        return False

    def parse(self) -> Predicate:
        if not self.tokens:
            raise self._syntax_error(0)
        predicate = self._or(None)
        if self._peek() is not None:
            raise self._syntax_error()
        return predicate

    # Grammar: or := and ('or' and)* ; and := unary ('and' unary)* ; unary := 'not' unary | atom
    def _or(self, var: str | None) -> Predicate:
        parts = [self._and(var)]
        while self._keyword("or"):
            parts.append(self._and(var))
        return parts[0] if len(parts) == 1 else (lambda item: any(p(item) for p in parts))

    def _and(self, var: str | None) -> Predicate:
        parts = [self._unary(var)]
        while self._keyword("and"):
            parts.append(self._unary(var))
        return parts[0] if len(parts) == 1 else (lambda item: all(p(item) for p in parts))

    def _unary(self, var: str | None) -> Predicate:
        if self._keyword("not"):
            inner = self._unary(var)
            return lambda item: not inner(item)
        return self._atom(var)

    def _atom(self, var: str | None) -> Predicate:
        token = self._peek()
        if token is None:
            raise self._syntax_error()
        if token.text == "(":
            self.index += 1
            inner = self._or(var)
            self._expect(")")
            return inner
        if token.kind != "name":
            raise self._syntax_error(token.position)
        following = self._peek(1)
        if token.text.lower() in _STRING_FUNCTIONS and following is not None and following.text == "(":
            return self._function(var)
        return self._comparison_or_lambda(var)

    def _path(self) -> list[str]:
        parts = [self._next().text]
        while (slash := self._peek()) is not None and slash.text == "/":
            after = self._peek(1)
            if after is None or after.kind != "name":
                raise self._syntax_error(slash.position)
            if (
                after.text.lower() in ("any", "all")
                and (paren := self._peek(2)) is not None
                and paren.text == "("
            ):
                break
            self.index += 1
            parts.append(self._next().text)
        return parts

    def _resolve(self, parts: list[str], var: str | None) -> tuple[str, str, bool]:
        """(path, type, relative-to-lambda-variable)."""
        if var is not None and parts[0] == var:
            relative = "/".join(parts[1:])
            kinds = _ELEMENT_PATHS.get(self._lambda_kind or "", {})
            if not relative and self._lambda_kind == "strings":
                return "", "string", True
            for known, kind in kinds.items():
                if known.lower() == relative.lower():
                    return known, kind, True
            raise self._unsupported()
        path = _canonical_path("/".join(parts), self.schema)
        found = self.schema.filterable.get(path)
        if found is None:
            raise self._unsupported()
        kind = found
        if var is None and path not in self.paths:
            self.paths.append(path)
        return path, kind, False

    def _getter(self, path: str, relative: bool) -> Callable[[Item], Any]:
        if relative and not path:
            return lambda element: element
        return lambda item: _value(item, path)

    def _comparison_or_lambda(self, var: str | None) -> Predicate:
        start = self._peek()
        parts = self._path()
        slash = self._peek()
        if slash is not None and slash.text == "/":
            return self._lambda(parts, var)
        path, kind, relative = self._resolve(parts, var)
        if kind in _COLLECTIONS:
            raise self._unsupported()
        op_token = self._next()
        op = op_token.text.lower()
        if op not in _COMPARE:
            raise self._syntax_error(op_token.position)
        literal, literal_kind = self._literal()
        if (
            literal_kind != "null"
            and _EDM[literal_kind] != _EDM[kind]
            and not (kind == "datetime" and literal_kind == "datetime")
        ):
            raise bad_request(
                f"A binary operator with incompatible types was detected. Found operand types "
                f"'{_EDM[kind]}' and '{_EDM[literal_kind]}' for operator kind '{_OP_NAMES[op]}'."
            )
        if literal_kind == "null" and op not in ("eq", "ne"):
            raise self._syntax_error(start.position if start else 0)
        get = self._getter(path, relative)
        target = _normalise(literal, kind)
        compare = _COMPARE[op]

        def predicate(item: Item) -> bool:
            value = _normalise(get(item), kind)
            if value is None or target is None:
                return compare(value is None, target is None) if op in ("eq", "ne") else False
            return compare(value, target)

        return predicate

    def _lambda(self, parts: list[str], var: str | None) -> Predicate:
        if var is not None:
            raise self._unsupported()
        path, kind, _ = self._resolve(parts, None)
        if kind not in _COLLECTIONS:
            raise self._unsupported()
        self._expect("/")
        operator = self._next().text.lower()
        if operator != "any":
            raise self._unsupported()
        self._expect("(")
        variable = self._next()
        if variable.kind != "name":
            raise self._syntax_error(variable.position)
        self._expect(":")
        self._lambda_kind = kind
        try:
            body = self._or(variable.text)
        finally:
            self._lambda_kind = None
        self._expect(")")
        return lambda item: any(body(element) for element in (_value(item, path) or []))

    def _function(self, var: str | None) -> Predicate:
        name = self._next().text.lower()
        self._expect("(")
        path, kind, relative = self._resolve(self._path(), var)
        if kind not in ("string", "enum"):
            raise self._unsupported()
        self._expect(",")
        literal, literal_kind = self._literal()
        if literal_kind != "string":
            raise bad_request(f"The argument of function '{name}' must be a string.")
        self._expect(")")
        get = self._getter(path, relative)
        needle = str(literal).lower()
        function = _STRING_FUNCTIONS[name]
        return lambda item: function(str(get(item) or "").lower(), needle)

    def _literal(self) -> tuple[Any, str]:
        token = self._next()
        if token.kind == "string":
            return token.text[1:-1].replace("''", "'"), "string"
        if token.kind == "datetime":
            try:
                return _parse_datetime(token.text), "datetime"
            except ValueError:
                raise self._syntax_error(token.position) from None
        if token.kind == "number":
            return (float(token.text) if "." in token.text else int(token.text)), "int"
        lowered = token.text.lower()
        if lowered in ("true", "false"):
            return lowered == "true", "bool"
        if lowered == "null":
            return None, "null"
        raise self._syntax_error(token.position)
