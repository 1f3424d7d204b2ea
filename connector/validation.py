"""JSON Schema (Draft 2020-12) validation with compiled validators and field-path errors.

Uses jsonschema-rs: the same Draft 2020-12 semantics as the pure-Python ``jsonschema`` package,
compiled once per schema, roughly 40x faster per call and much cheaper to import (both matter:
every action run validates its input and output, and the CLI's cold start is measured).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from email.utils import getaddresses
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from connector.errors import FieldError, InputValidationError


def check_address(value: str) -> str:
    """``value`` if it looks like an email address (local part, @, a dotted domain); else ValueError."""
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or " " in value:
        raise ValueError(f"{value!r} is not an email address")
    return value


def split_addresses(text: str) -> list[tuple[str, str]]:
    """``"a@x.com; Bo <b@x.com>, c@x.com"`` -> ``[(name, address), ...]``; blank text -> ``[]``.

    ValueError when a part is not an address (a comma inside a quoted name stays in the name)."""
    if not text.replace(";", ",").replace(",", "").strip():
        return []
    found = [
        (name, check_address(address)) for name, address in getaddresses([text.replace(";", ",")]) if address
    ]
    if not found or any(address not in text for _, address in found):  # the parser glued words together
        raise ValueError(f"{text!r} is not an email address")
    return found


def _is_email_list(value: str) -> bool:
    try:
        split_addresses(value)
    except ValueError:
        return False
    return True


FORMATS = {"email-list": _is_email_list}
"""Formats of our own: ``email-list`` is one address, ``Name <address>``, or several separated by
commas or semicolons (validators that do not know it ignore it, as JSON Schema says)."""


def format_path(parts: Iterable[str | int]) -> str:
    """``["to", 0, "address"]`` -> ``to[0].address``; the empty path is ``(root)``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


MAX_DEPTH = 64
"""Deepest nesting of objects and arrays accepted in any input (deeper input is refused as a whole,
before the schema validator or a JSON encoder would recurse into it)."""


def nesting_error(instance: Any, limit: int = MAX_DEPTH) -> FieldError | None:
    """The top-level field nested deeper than ``limit`` objects/arrays, or None (walked without
    recursion; the schema validator and the JSON encoders recurse and would fail far deeper)."""
    stack: list[tuple[Any, int, list[str | int]]] = [(instance, 0, [])]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict):
            items: Iterable[tuple[str | int, Any]] = ((str(k), v) for k, v in node.items())
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        if depth >= limit:
            reason = f"is nested deeper than {limit} levels of objects and arrays"
            return FieldError(format_path(path[:1]), reason)
        stack.extend((value, depth + 1, [*path, key]) for key, value in items)
    return None


_ID_NOT = {"enum": [".", ".."]}
_REASONS = {
    ("Not", str(_ID_NOT)): "is not a valid id ('.' and '..' would address another resource)",
    ("Pattern", "\\S"): "is not valid (empty or only whitespace)",
}


def _reason(error: Any) -> str:
    """Turn a jsonschema-rs error into a short reason, naming the property where it can.

    A long value is not repeated (it may be megabytes long)."""
    message: str = error.message
    kind = type(error.kind).__name__
    detail = getattr(error.kind, "schema", None) or getattr(error.kind, "pattern", "")
    known = _REASONS.get((kind, str(detail)))
    if known is not None:
        return known
    shown = json.dumps(error.instance, ensure_ascii=False)
    if len(shown) > 80:  # a long value is not repeated: the field's name says which it is
        message = message.replace(shown, "the value")
    if kind == "Required":
        return message.replace(" is a required property", " is required")
    if kind == "Format":
        return message.replace(" is not a ", " is not a valid ").replace(' Format"', '"')
    return message


def _field_errors(error: Any) -> list[FieldError]:
    """One jsonschema-rs error -> the field errors a person needs to read."""
    path = list(error.instance_path)
    kind = type(error.kind).__name__
    if kind == "Required":
        missing = getattr(error.kind, "property", None)
        if isinstance(missing, str):
            return [FieldError(format_path([*path, missing]), "is required")]
    if kind == "AdditionalProperties":
        names = getattr(error.kind, "unexpected", None) or []
        return [FieldError(format_path([*path, name]), "is not a known field") for name in names]
    if kind in ("AnyOf", "OneOfNotValid"):
        # explain the alternative of the value's own type (e.g. the bad email, not "not an object")
        branches = getattr(error.kind, "context", None) or []
        relevant = [b for b in branches if not all(type(e.kind).__name__ == "Type" for e in b)]
        if len(relevant) == 1:
            return [field for sub in relevant[0] for field in _field_errors(sub)]
        if not relevant and branches:
            allowed = sorted({str(e.message).rpartition(" is not of type ")[2] for b in branches for e in b})
            return [FieldError(format_path(path), "must be of type " + " or ".join(allowed))]
    return [FieldError(format_path(path), _reason(error))]


class SchemaValidator:
    """A compiled validator for one schema."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._validator = jsonschema_rs.validator_for(schema, validate_formats=True, formats=FORMATS)

    def errors(self, instance: Any) -> list[FieldError]:
        if self._validator.is_valid(instance):
            return []
        found = [field for error in self._validator.iter_errors(instance) for field in _field_errors(error)]
        return sorted(set(found), key=lambda e: (e.path, e.reason))

    def validate(self, instance: Any, what: str = "input") -> None:
        errors = self.errors(instance)
        if errors:
            raise InputValidationError(errors, what)


@cache
def _load_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@cache
def validator_for_file(path: str | Path) -> SchemaValidator:
    """The compiled validator for a schema file, cached per process."""
    return SchemaValidator(_load_json(str(path)))
