"""Action input/output models -> the committed JSON Schema files.

A handler is ``def handler(ctx, params: InputModel) -> dict`` decorated with ``@returns(OutputModel)``.
The input model comes from the type hint of ``params``; the output model from ``@returns``.

Run ``python -m connector.schemas`` to rewrite ``schemas/actions/*.json`` (and the data source,
connection and trigger schemas) after changing a model,
and ``python -m connector.schemas --check`` to list the stale ones (a test does the same).
"""

from __future__ import annotations

import json
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from connector.manifest import Entry, Manifest, load_manifest

F = TypeVar("F", bound=Callable[..., Any])


def returns(model: type[BaseModel]) -> Callable[[F], F]:
    """Declare the output model of a handler (handlers return plain JSON dicts for speed)."""

    def mark(handler: F) -> F:
        handler.__output_model__ = model  # type: ignore[attr-defined]
        return handler

    return mark


def input_model(handler: Callable[..., Any]) -> type[BaseModel]:
    hints = typing.get_type_hints(handler)
    params = [name for name in hints if name not in ("ctx", "return")]
    if len(params) != 1 or not issubclass(hints[params[0]], BaseModel):
        raise TypeError(f"{handler.__qualname__} must take (ctx, params: <pydantic model>)")
    model: type[BaseModel] = hints[params[0]]
    return model


def output_model(handler: Callable[..., Any]) -> type[BaseModel]:
    model = getattr(handler, "__output_model__", None)
    if model is None:
        raise TypeError(f"{handler.__qualname__} has no @returns(OutputModel)")
    return typing.cast(type[BaseModel], model)


def _finish(schema: dict[str, Any], title: str) -> dict[str, Any]:
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    out["title"] = title
    return out


def generated_schemas(entry: Entry) -> dict[str, dict[str, Any]]:
    """Field name in the manifest entry (``input_schema``...) -> the schema its models generate."""
    handler = entry.handler
    if entry.kind == "connections":
        config = typing.cast(type[BaseModel], handler)
        return {"config_schema": _finish(config.model_json_schema(), f"{entry['label']} connection")}
    schemas = {"input_schema": _finish(input_model(handler).model_json_schema(), f"{entry['label']} input")}
    if "output_schema" in entry.data:
        out = output_model(handler).model_json_schema(mode="serialization", by_alias=True)
        schemas["output_schema"] = _finish(out, f"{entry['label']} output")
    if entry.kind == "triggers" and "event_schema" in entry.data:
        from triggers.definitions import TriggerEventModel

        schemas["event_schema"] = _finish(TriggerEventModel.model_json_schema(), "Trigger event")
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def stale_files(manifest: Manifest) -> dict[Path, str]:
    """Schema files whose committed text differs from what the models generate."""
    stale: dict[Path, str] = {}
    for section in ("connections", "actions", "data_sources", "triggers"):
        for entry in manifest.sections[section].values():
            for name, schema in generated_schemas(entry).items():
                path = entry.path(name)
                text = render(schema)
                if not path.is_file() or path.read_text(encoding="utf-8") != text:
                    stale[path] = text
    return stale


def main(argv: list[str] | None = None) -> int:
    import argparse  # not at the top: every action module imports this one (for ``returns``)

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only list stale files; exit 1 if any")
    args = parser.parse_args(argv)
    manifest = load_manifest(check=False)
    stale = stale_files(manifest)
    for path, text in stale.items():
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(manifest.root)}")
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
