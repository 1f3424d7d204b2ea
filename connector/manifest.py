"""Load ``manifest.yaml``, check it, and resolve its handlers lazily."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from connector.errors import ConfigurationError, FieldError
from connector.validation import SchemaValidator, validator_for_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_ENV = "OUTLOOK_CONNECTOR_MANIFEST"


def default_manifest_path() -> Path:
    return Path(os.environ.get(MANIFEST_ENV) or PROJECT_ROOT / "manifest.yaml")


def resolve_handler(spec: str) -> Any:
    """``"actions.messages:send_message"`` -> the function object."""
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"handler {spec!r} does not resolve: {exc}") from exc


@dataclass(frozen=True)
class Entry:
    """One manifest entry (connection, action, data source or trigger) and where its files live."""

    kind: str
    data: dict[str, Any]
    root: Path = field(repr=False)
    _validators: dict[str, SchemaValidator] = field(default_factory=dict, repr=False, compare=False)

    @property
    def key(self) -> str:
        return str(self.data["key"])

    def __getitem__(self, name: str) -> Any:
        return self.data[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    def path(self, name: str) -> Path:
        return self.root / str(self.data[name])

    def schema(self, name: str) -> dict[str, Any]:
        return validator_for_file(self.path(name)).schema

    def validator(self, name: str) -> SchemaValidator:
        """The compiled validator of one of the entry's schema files (looked up once: a hot path)."""
        validator = self._validators.get(name)
        if validator is None:
            validator = self._validators[name] = validator_for_file(self.path(name))
        return validator

    @cached_property
    def handler(self) -> Callable[..., Any]:
        handler: Callable[..., Any] = resolve_handler(self.data["handler"])
        return handler


class Manifest:
    """The parsed manifest with lookups by key."""

    SECTIONS = ("connections", "actions", "data_sources", "triggers")

    def __init__(self, data: dict[str, Any], root: Path) -> None:
        self.data = data
        self.root = root
        self.sections: dict[str, dict[str, Entry]] = {
            section: {item["key"]: Entry(section, item, root) for item in data.get(section, [])}
            for section in self.SECTIONS
        }

    @property
    def connector(self) -> dict[str, Any]:
        info: dict[str, Any] = self.data["connector"]
        return info

    @property
    def actions(self) -> dict[str, Entry]:
        return self.sections["actions"]

    @property
    def connections(self) -> dict[str, Entry]:
        return self.sections["connections"]

    @property
    def data_sources(self) -> dict[str, Entry]:
        return self.sections["data_sources"]

    @property
    def triggers(self) -> dict[str, Entry]:
        return self.sections["triggers"]

    def action(self, key: str) -> Entry:
        try:
            return self.actions[key]
        except KeyError:
            raise ConfigurationError(
                f"unknown action {key!r}; `outlook-connector actions list` shows the actions"
            ) from None

    def problems(self, *, deep: bool = True) -> list[FieldError]:
        """Everything wrong with the manifest: schema, duplicate keys, files, references.

        ``deep`` also parses every schema file and resolves every handler (imports all actions),
        which ``manifest validate`` and the tests do; loading for a run skips that.
        """
        schema_path = PROJECT_ROOT / "schemas" / "manifest.schema.json"
        problems = validator_for_file(schema_path).errors(self.data)
        if problems:
            return problems
        known_connections = set(self.connections)
        for section in self.SECTIONS:
            keys = [item["key"] for item in self.data.get(section, [])]
            for key in sorted({k for k in keys if keys.count(k) > 1}):
                problems.append(FieldError(f"{section}.{key}", "key is used more than once"))
            for index, item in enumerate(self.data.get(section, [])):
                where = f"{section}[{index}]({item['key']})"
                problems.extend(self._entry_problems(where, item, known_connections, deep))
        return problems

    def _entry_problems(
        self, where: str, item: dict[str, Any], known_connections: set[str], deep: bool
    ) -> list[FieldError]:
        found: list[FieldError] = []
        for name, value in item.items():
            if name.endswith("_schema") or name == "example_output":
                file = self.root / value
                if not file.is_file():
                    found.append(FieldError(f"{where}.{name}", f"file {value} does not exist"))
                elif deep:
                    try:
                        json.loads(file.read_text(encoding="utf-8"))
                    except ValueError as exc:
                        found.append(FieldError(f"{where}.{name}", f"{value} is not valid JSON: {exc}"))
        for connection in item.get("connections", []):
            if connection not in known_connections:
                found.append(FieldError(f"{where}.connections", f"unknown connection {connection!r}"))
        for input_name, source in (item.get("data_sources") or {}).items():
            if source not in self.data_sources:
                found.append(
                    FieldError(f"{where}.data_sources.{input_name}", f"unknown data source {source!r}")
                )
        if deep:
            try:
                resolve_handler(item["handler"])
            except ConfigurationError as exc:
                found.append(FieldError(f"{where}.handler", exc.message))
        return found


def _read_yaml(path: Path) -> dict[str, Any]:
    """The parsed manifest, from a JSON cache beside Python's own (``__pycache__``) while the file
    is unchanged: parsing YAML and importing PyYAML is most of a cold start's manifest cost."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigurationError(f"manifest not found at {path}") from None
    stamp = [str(path.resolve()), stat.st_mtime_ns, stat.st_size]
    cache = path.parent / "__pycache__" / f"{path.name}.json"
    cached = _read_json(cache)
    if isinstance(cached, dict) and cached.get("stamp") == stamp and isinstance(cached.get("data"), dict):
        data: dict[str, Any] = cached["data"]
        return data
    data = _parse_yaml(path)
    _write_json(cache, {"stamp": stamp, "data": data})  # a read-only install: parse every time
    return data


def _parse_yaml(path: Path) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.load(handle, Loader=loader)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"manifest {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"manifest {path} must be a mapping")
    return data


def load_manifest(path: Path | str | None = None, *, check: bool = True) -> Manifest:
    """Load and (by default) check the manifest; handlers are resolved later, on first use.

    Raises ConfigurationError listing every problem.
    """
    manifest_path = Path(path) if path else default_manifest_path()
    manifest = Manifest(_read_yaml(manifest_path), manifest_path.parent)
    if check:
        stamp = _check_stamp(manifest_path, manifest)
        record = manifest_path.parent / "__pycache__" / f"{manifest_path.name}.checked.json"
        if _read_json(record) == stamp:
            return manifest
        problems = manifest.problems(deep=False)
        if problems:
            listing = "\n  ".join(str(p) for p in problems)
            raise ConfigurationError(f"manifest {manifest_path} is invalid:\n  {listing}")
        _write_json(record, stamp)
    return manifest


def _check_stamp(manifest_path: Path, manifest: Manifest) -> list[Any]:
    """What a passed check depends on beyond the manifest's content: the manifest and its schema
    file, and the folders of the files the entries name (a file added, removed or renamed changes
    its folder's mtime). Equal stamps: the check would pass again, so a run skips it."""
    folders = {
        os.path.dirname(str(value))
        for section in Manifest.SECTIONS
        for item in manifest.data.get(section, [])
        for name, value in item.items()
        if name.endswith("_schema") or name == "example_output"
    }
    stamp: list[Any] = []
    for place in [manifest_path, PROJECT_ROOT / "schemas" / "manifest.schema.json"] + [
        manifest.root / folder for folder in sorted(folders)
    ]:
        try:
            stat = place.stat()
        except OSError:
            return []  # never equal to a record: check (and report) it
        stamp.append([str(place.resolve()), stat.st_mtime_ns, stat.st_size])
    return stamp


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: Any) -> None:
    """Write ``value`` beside Python's own caches, atomically; a read-only install skips it."""
    try:
        path.parent.mkdir(exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(value), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass
