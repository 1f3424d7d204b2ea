"""``{{Column Name}}`` templates filled from one row of a sheet (bulk sends).

A variable is ``{{`` name ``}}``; the name may hold spaces (``{{First Name}}``) and is trimmed. It
is looked up in the row by exact name, else ignoring case. A value must be text, a number or a
boolean; a missing, null or blank value is an error for that row (never an empty gap in a message).
In HTML the value is escaped (``&``, ``<``, ``>``, quotes), so a row's data can never add markup;
subjects and text bodies take values as they are (line breaks in a subject become spaces).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

_VARIABLE = re.compile(r"\{\{([^{}]*)\}\}")


class RowError(ValueError):
    """This row cannot be rendered (the reason is the message)."""


def variables(template: str) -> list[str]:
    """The variable names a template uses, in order, without repeats. Raises ValueError on ``{{ }}``."""
    names: list[str] = []
    for match in _VARIABLE.finditer(template):
        name = match.group(1).strip()
        if not name:
            raise ValueError("has an empty variable {{ }}; write the column's name between the braces")
        if name not in names:
            names.append(name)
    return names


def column_names(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every column name of the rows, case-folded."""
    return {str(key).strip().casefold() for row in rows for key in row}


def lookup(row: Mapping[str, Any], name: str) -> Any:
    """The row's value for the column ``name`` (exact, else ignoring case); None when absent."""
    if name in row:
        return row[name]
    folded = name.casefold()
    for key, value in row.items():
        if str(key).strip().casefold() == folded:
            return value
    return None


def text_value(row: Mapping[str, Any], name: str) -> str:
    """The column's value as text; RowError when it is missing, blank or not a plain value."""
    value = lookup(row, name)
    if value is None:
        raise RowError(f"column {name!r} is missing")
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise RowError(
            f"column {name!r} holds a {type(value).__name__}; only text, numbers and booleans fill a variable"
        )
    if not text.strip():
        raise RowError(f"column {name!r} is blank")
    return text


def render(template: str, row: Mapping[str, Any], *, html_escape: bool = False) -> str:
    """The template with every variable replaced by the row's value (escaped for HTML if asked)."""

    def fill(match: re.Match[str]) -> str:
        value = text_value(row, match.group(1).strip())
        return html.escape(value, quote=True) if html_escape else value

    return _VARIABLE.sub(fill, template)
