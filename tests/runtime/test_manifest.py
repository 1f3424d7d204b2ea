"""The manifest is checked against its handwritten schema, and every pointer in it resolves."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from connector.errors import ConfigurationError
from connector.manifest import PROJECT_ROOT, Manifest, load_manifest
from connector.schemas import stale_files


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest()


def test_committed_manifest_has_no_problems(manifest: Manifest) -> None:
    assert manifest.problems(deep=True) == []


def test_committed_schemas_match_their_models(manifest: Manifest) -> None:
    stale = [str(p.relative_to(PROJECT_ROOT)) for p in stale_files(manifest)]
    assert stale == [], "run `python -m connector.schemas` and commit the result"


def test_every_action_carries_the_required_metadata(manifest: Manifest) -> None:
    for entry in manifest.actions.values():
        assert entry["category"] in {"read", "draft", "categorize", "send", "delete", "admin"}
        assert entry["docs_url"].startswith("https://learn.microsoft.com/")
        assert entry["permissions"]["delegated"] or entry["permissions"]["application"]
        if entry["read_only"]:
            assert not entry["destructive"], entry.key
        # a connection type the action names must exist
        assert set(entry["connections"]) <= set(manifest.connections)


def test_every_example_matches_its_schemas(manifest: Manifest) -> None:
    for entry in manifest.actions.values():
        example = json.loads(entry.path("example_output").read_text(encoding="utf-8"))
        assert entry.validator("output_schema").errors(example) == [], entry.key


def _write_manifest(tmp_path: Path, data: dict[str, Any]) -> Path:
    shutil.copytree(PROJECT_ROOT / "schemas", tmp_path / "schemas")
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "manifest.yaml").read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    data["actions"][0]["colour"] = "blue"
    with pytest.raises(ConfigurationError, match=r"actions\[0\]\.colour: is not a known field"):
        load_manifest(_write_manifest(tmp_path, data))


def test_duplicate_key_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    data["actions"].append(copy.deepcopy(data["actions"][0]))
    with pytest.raises(ConfigurationError, match="key is used more than once"):
        load_manifest(_write_manifest(tmp_path, data))


def test_missing_schema_file_is_rejected(tmp_path: Path) -> None:
    data = _raw()
    data["actions"][0]["input_schema"] = "schemas/actions/nowhere.input.json"
    with pytest.raises(ConfigurationError, match=r"nowhere\.input\.json does not exist"):
        load_manifest(_write_manifest(tmp_path, data))


def test_a_passed_check_is_redone_when_a_named_file_goes(tmp_path: Path) -> None:
    """A run skips the check while nothing it depends on changed; removing a file an entry names
    (or editing the manifest) is still reported by the next load."""
    path = _write_manifest(tmp_path, _raw())
    first = load_manifest(path)
    assert load_manifest(path).data == first.data  # the second load trusts the first check
    entry = next(iter(first.actions.values()))
    entry.path("output_schema").unlink()
    with pytest.raises(ConfigurationError, match=r"output_schema: file .* does not exist"):
        load_manifest(path)


def test_a_passed_check_is_redone_when_the_manifest_changes(tmp_path: Path) -> None:
    data = _raw()
    path = _write_manifest(tmp_path, data)
    load_manifest(path)
    data["actions"][0]["connections"] = ["carrier_pigeon"]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="unknown connection 'carrier_pigeon'"):
        load_manifest(path)


def test_unresolvable_handler_is_reported(tmp_path: Path) -> None:
    data = _raw()
    data["actions"][0]["handler"] = "actions.messages:no_such_function"
    manifest = load_manifest(_write_manifest(tmp_path, data))
    problems = [str(p) for p in manifest.problems(deep=True)]
    assert any("no_such_function" in p and p.startswith("actions[0]") for p in problems)


def test_unknown_connection_reference_is_reported(tmp_path: Path) -> None:
    data = _raw()
    data["actions"][0]["connections"] = ["carrier_pigeon"]
    with pytest.raises(ConfigurationError, match="unknown connection 'carrier_pigeon'"):
        load_manifest(_write_manifest(tmp_path, data))


def test_bad_category_names_the_field(tmp_path: Path) -> None:
    data = _raw()
    data["actions"][1]["category"] = "whatever"
    with pytest.raises(ConfigurationError, match=r"actions\[1\]\.category"):
        load_manifest(_write_manifest(tmp_path, data))


def test_readme_catalogue_is_generated_from_the_manifest(manifest: Manifest) -> None:
    from connector.catalogue import updated_readme

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert updated_readme(readme, manifest) == readme, "run `python -m connector.catalogue`"
    for entry in manifest.actions.values():
        assert f"`{entry.key}`" in readme
