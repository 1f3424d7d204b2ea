"""Extended properties (MAPI single- and multi-value) and open extensions of messages, events, contacts.

They are stored on the item under Graph's own names (``singleValueExtendedProperties``,
``multiValueExtendedProperties``, ``extensions``) and, as on Graph, never shown unless expanded:
``$expand=singleValueExtendedProperties($filter=id eq '...')``. A create or update body may carry
them; an update merges by id (a property or extension with the same id is replaced).

Property ids take Graph's three forms: ``{type} {guid} Name {name}``, ``{type} {guid} Id {number}``
and ``{type} {tag}`` (``SystemTime 0x3FEF`` is PidTagDeferredSendTime, which holds a send).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from sandbox.errors import GraphError, bad_request, invalid_request_body, unknown_property
from sandbox.odata import Predicate, Schema, parse_filter

SINGLE = "singleValueExtendedProperties"
MULTI = "multiValueExtendedProperties"
OPEN = "extensions"
KEYS: tuple[str, ...] = (SINGLE, MULTI, OPEN)
OPEN_PREFIX = "Microsoft.OutlookServices.OpenTypeExtension."
OPEN_TYPE = "#microsoft.graph.openTypeExtension"

FILTERABLE: dict[str, str] = {SINGLE: "extended", MULTI: "extendedMulti", OPEN: "extensions"}
"""Entries for an item schema's ``filterable``: ``singleValueExtendedProperties/any(ep: ep/id eq '...'
and ep/value eq '...')``, ``multiValueExtendedProperties/any(ep: ep/id eq '...')``,
``extensions/any(e: e/id eq '...')``."""

_BASE_TYPES = (
    "Binary", "Boolean", "CLSID", "Currency", "Double", "Float", "Integer", "Long", "Short", "String",
    "SystemTime",
)  # fmt: skip
_SINGLE_TYPES = {t.lower(): t for t in (*_BASE_TYPES, "Object")}
_MULTI_TYPES = {f"{t}Array".lower(): f"{t}Array" for t in _BASE_TYPES if t != "Boolean"}
_NAMED = re.compile(
    r"^(?P<type>\w+)\s+\{?(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?"
    r"\s+(?P<kind>Name|Id)\s+(?P<name>\S.*)$",
    re.IGNORECASE,
)
_TAGGED = re.compile(r"^(?P<type>\w+)\s+(?P<tag>0x[0-9a-fA-F]{1,4})$", re.IGNORECASE)
_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_FORMATS = (
    "PropertyId values may only be in one of the following formats: 'MapiPropertyType namespaceGuid Name "
    "propertyName', 'MapiPropertyType namespaceGuid Id propertyId' or 'MapiPropertyType propertyTag'."
)


def canonical_id(raw: Any, multi: bool) -> str:
    """A property id in Graph's spelling (type name cased as Graph's, GUID in braces); 400 otherwise."""
    text = " ".join(str(raw or "").split())
    match = _NAMED.match(text) or _TAGGED.match(text)
    if match is None:
        raise GraphError(400, "ErrorInvalidProperty", _FORMATS)
    types = _MULTI_TYPES if multi else _SINGLE_TYPES
    type_name = types.get(match.group("type").lower())
    if type_name is None:
        raise GraphError(
            400, "ErrorInvalidExtendedProperty", "The extended property attribute combination is invalid."
        )
    if "tag" in match.re.groupindex:
        return f"{type_name} {match.group('tag')}"
    kind = "Name" if match.group("kind").lower() == "name" else "Id"
    return f"{type_name} {{{match.group('guid').lower()}}} {kind} {match.group('name')}"


def id_key(value: Any) -> str:
    """How ids compare: case and spacing ignored, braces optional."""
    return " ".join(str(value or "").replace("{", "").replace("}", "").split()).lower()


def extension_key(value: Any) -> str:
    """Open extensions match by their name or their full id."""
    text = str(value or "").strip().lower()
    return text.removeprefix(OPEN_PREFIX.lower()).removeprefix("microsoft.graph.opentypeextension.")


def _check_value(type_name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise GraphError(400, "ErrorInvalidExtendedPropertyValue", "The extended property value is invalid.")
    base = type_name.removesuffix("Array")
    ok = True
    if base in ("Integer", "Long", "Short"):
        ok = bool(_INTEGER.match(value.strip()))
    elif base in ("Double", "Float", "Currency"):
        ok = bool(_NUMBER.match(value.strip()))
    elif base == "Boolean":
        ok = value.strip().lower() in ("true", "false")
    elif base == "SystemTime":
        ok = parse_time(value) is not None
    if not ok:
        raise GraphError(
            400,
            "ErrorInvalidExtendedPropertyValue",
            f"The value '{value}' is not valid for an extended property of type {type_name}.",
        )
    return value


def parse_time(value: Any) -> datetime | None:
    """A SystemTime value as an aware datetime (UTC when no offset is given), or None."""
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _property(raw: Any, multi: bool, key: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request(f"Invalid value for property '{key}'.", "RequestBodyRead")
    for name in raw:
        if name not in ("id", "value") and not name.startswith("@odata."):
            raise invalid_request_body(
                name, "multiValueLegacyExtendedProperty" if multi else "singleValueLegacyExtendedProperty"
            )
    prop_id = canonical_id(raw.get("id"), multi)
    type_name = prop_id.split(" ", 1)[0]
    value = raw.get("value")
    if multi:
        if not isinstance(value, list):
            raise GraphError(
                400, "ErrorInvalidExtendedPropertyValue", "The extended property value is invalid."
            )
        return {"id": prop_id, "value": [_check_value(type_name, v) for v in value]}
    return {"id": prop_id, "value": _check_value(type_name, value)}


def _extension(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad_request("Invalid value for property 'extensions'.", "RequestBodyRead")
    kind = str(raw.get("@odata.type") or OPEN_TYPE).lstrip("#").lower()
    if kind not in ("microsoft.graph.opentypeextension", "microsoft.outlookservices.opentypeextension"):
        raise bad_request(
            f"The type '{raw.get('@odata.type')}' is not an open type extension.", "RequestBodyRead"
        )
    name = raw.get("extensionName")
    if not isinstance(name, str) or not name.strip():
        raise GraphError(400, "ErrorInvalidRequest", "The extensionName property is required.")
    data = {k: v for k, v in raw.items() if not k.startswith("@odata.") and k not in ("id", "extensionName")}
    return {"@odata.type": OPEN_TYPE, "id": OPEN_PREFIX + name, "extensionName": name, **data}


def _merge(existing: list[dict[str, Any]], added: list[dict[str, Any]], key: Any) -> list[dict[str, Any]]:
    out = {key(item["id"]): item for item in existing}
    for item in added:
        out[key(item["id"])] = item
    return list(out.values())


def take(payload: dict[str, Any], current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Remove the extended properties and extensions from a create/update body and return the item's
    new values of them (merged with ``current``'s by id)."""
    changes: dict[str, Any] = {}
    for key in KEYS:
        if key not in payload:
            continue
        raw = payload.pop(key)
        if raw is None:
            continue
        if not isinstance(raw, list):
            raise bad_request(
                f"Invalid value for property '{key}': a collection is expected.", "RequestBodyRead"
            )
        if key == OPEN:
            items = [_extension(item) for item in raw]
            compare = extension_key
        else:
            items = [_property(item, key == MULTI, key) for item in raw]
            compare = id_key
        changes[key] = _merge(list((current or {}).get(key) or []), items, compare)
    return changes


def hide(out: dict[str, Any]) -> dict[str, Any]:
    """``out`` without the never-shown collections (Graph shows them only when expanded)."""
    for key in KEYS:
        out.pop(key, None)
    return out


def find_extension(item: Mapping[str, Any], ref: str) -> dict[str, Any] | None:
    wanted = extension_key(ref)
    for extension in item.get(OPEN) or []:
        if extension_key(extension["id"]) == wanted:
            return dict(extension)
    return None


def new_extension(raw: Any) -> dict[str, Any]:
    return _extension(raw)


def updated_extension(current: dict[str, Any], raw: Any) -> dict[str, Any]:
    """PATCH of an open extension: the body's custom properties replace the old ones (Graph's rule)."""
    if not isinstance(raw, dict):
        raise bad_request("Empty Payload. JSON content expected.")
    body = {**raw, "extensionName": current["extensionName"]}
    return _extension(body)


# -- $expand -----------------------------------------------------------------------------------------------
_ELEMENT_SCHEMAS = {
    SINGLE: Schema("singleValueLegacyExtendedProperty", ("id", "value"), {"id": "propid"}, frozenset(), 0, 0),
    MULTI: Schema("multiValueLegacyExtendedProperty", ("id", "value"), {"id": "propid"}, frozenset(), 0, 0),
    OPEN: Schema("extension", ("id",), {"id": "extid"}, frozenset(), 0, 0),
}
_CANON = {key.lower(): key for key in KEYS}
_PART = re.compile(r"^\s*(?P<name>[A-Za-z_.]+(?:/[A-Za-z_.]+)?)\s*(?:\((?P<options>.*)\))?\s*$", re.DOTALL)


@dataclass
class Expansion:
    """A parsed ``$expand``: other expansions the resource knows, and the extended collections with
    their element filters (None: every element)."""

    others: set[str] = field(default_factory=set)
    collections: dict[str, Predicate | None] = field(default_factory=dict)

    def apply(
        self, out: dict[str, Any], item: Mapping[str, Any], context: str | None = None
    ) -> dict[str, Any]:
        """``out`` with the expanded collections (each after its ``@odata.context`` when ``context``,
        the item collection's context URL, is given)."""
        hide(out)
        for key, predicate in self.collections.items():
            values = [dict(v) for v in item.get(key) or []]
            if context is not None:
                out[f"{key}@odata.context"] = f"{context}('{quote(str(item.get('id')), safe='')}')/{key}"
            out[key] = [v for v in values if predicate is None or predicate(v)]
        return out


def _split(raw: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in raw:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += (char == "(") - (char == ")")
        current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def parse_expand(raw: str | None, entity: str, others: tuple[str, ...] = ()) -> Expansion:
    """``$expand`` of a message, event or contact; an unknown expansion is refused as Graph does."""
    expansion = Expansion()
    if not raw:
        return expansion
    known = {name.lower(): name for name in others}
    for part in _split(raw):
        match = _PART.match(part)
        if match is None:
            raise bad_request(f"Parsing OData Select and Expand failed: Syntax error at '{part.strip()}'.")
        name = match.group("name").lower()
        if name in known:
            expansion.others.add(known[name])
            continue
        key = _CANON.get(name)
        if key is None:
            raise unknown_property(match.group("name").split("/")[0], entity)
        options = (match.group("options") or "").strip()
        predicate = None
        if options:
            option_name, _, text = options.partition("=")
            if option_name.strip().lower() not in ("$filter", "filter"):
                raise bad_request(f"The query option '{option_name.strip()}' is not supported in $expand.")
            predicate = parse_filter(text, _ELEMENT_SCHEMAS[key])
        expansion.collections[key] = predicate
    return expansion
