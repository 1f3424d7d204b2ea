"""The docs-contract tables, merged from one module per resource group (so groups grow apart).

Each module defines ``ACTION_ENDPOINTS`` (action key -> the (method, path regex) it calls),
``CASES`` (documented example name -> how the action expresses it) and ``UNUSED`` (documented
examples of covered endpoints the actions cannot express, with the reason).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from tests.support.docs_contract import DocCase, Endpoint

ACTION_ENDPOINTS: dict[str, list[Endpoint]] = {}
CASES: dict[str, DocCase] = {}
UNUSED: dict[str, str] = {}


def _merge(into: dict[str, Any], table: dict[str, Any], module: str) -> None:
    clash = set(into) & set(table)
    assert not clash, f"{module} repeats keys of another cases module: {sorted(clash)}"
    into.update(table)


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    _merge(ACTION_ENDPOINTS, getattr(_module, "ACTION_ENDPOINTS", {}), _info.name)
    _merge(CASES, getattr(_module, "CASES", {}), _info.name)
    _merge(UNUSED, getattr(_module, "UNUSED", {}), _info.name)
