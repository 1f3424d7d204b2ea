"""The generated reference docs (connector.docs): committed pages are current, and they say what a
builder needs about every entry."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from connector.docs import REFERENCE_DIR, build, stale_pages, write
from connector.manifest import Manifest, load_manifest


def test_committed_reference_docs_are_current() -> None:
    manifest = load_manifest()
    stale = stale_pages(manifest, manifest.root / REFERENCE_DIR)
    assert not stale, f"stale reference pages {stale}: run `python -m connector.docs`"


def test_a_changed_description_makes_its_page_stale(tmp_path: Path) -> None:
    manifest = load_manifest()
    write(manifest, tmp_path)
    assert stale_pages(manifest, tmp_path) == []
    data = copy.deepcopy(manifest.data)
    send = next(a for a in data["actions"] if a["key"] == "send_message")
    send["description"] = "Send it, differently."
    changed = Manifest(data, manifest.root)
    assert stale_pages(changed, tmp_path) == [Path("README.md"), Path("actions") / f"{send['group']}.md"]


def test_a_page_left_over_from_a_removed_group_is_stale_and_pruned(tmp_path: Path) -> None:
    manifest = load_manifest()
    write(manifest, tmp_path)
    (tmp_path / "actions" / "gone.md").write_text("# old\n", encoding="utf-8")
    assert stale_pages(manifest, tmp_path) == [Path("actions") / "gone.md"]
    write(manifest, tmp_path, prune=True)
    assert not (tmp_path / "actions" / "gone.md").exists()


def _section(page: str, label: str) -> str:
    """The text of one ``## label`` section of a page."""
    start = page.index(f"## {label}\n")
    following = page.find("\n## ", start + 1)
    return page[start : following if following != -1 else len(page)]


def test_every_action_has_description_inputs_permissions_category_and_example_payload() -> None:
    manifest = load_manifest()
    pages = build(manifest)
    for entry in manifest.actions.values():
        section = _section(pages[Path("actions") / f"{entry['group']}.md"], entry["label"])
        assert f"Key: `{entry.key}`" in section
        assert f"Category: `{entry['category']}`" in section
        for permission in entry["permissions"].get("delegated", []):
            assert f"`{permission}`" in section, (entry.key, permission)
        for name in entry.schema("input_schema").get("properties", {}):
            assert f"`{name}`<br>" in section, (entry.key, name)
        blocks = re.findall(r"```json\n(.*?)\n```", section, re.S)
        recorded = json.loads(entry.path("example_output").read_text(encoding="utf-8"))
        assert recorded in [json.loads(block) for block in blocks], entry.key


def test_input_rows_carry_type_required_default_and_notes() -> None:
    page = build(load_manifest())[Path("actions") / "messages.md"]
    send = _section(page, "Send Message")
    assert '| **Importance** `importance`<br>string | `"normal"` |' in send
    assert 'one of `"low"`, `"normal"`, `"high"`' in send
    to_row = next(line for line in send.splitlines() if line.startswith("| **To** `to`<br>"))
    assert "Recipient" in to_row  # a union with the nested object type, named
    assert "`Recipient` objects:" in send  # the nested object's own fields
    listing = _section(page, "List Mail Messages")
    assert "options from data source `select_mail_folder`" in listing
    assert "min 1, max 1000" in listing


def test_connections_triggers_and_data_sources_pages() -> None:
    manifest = load_manifest()
    pages = build(manifest)
    for entry in manifest.connections.values():
        section = _section(pages[Path("connections.md")], entry["label"])
        for name in entry.schema("config_schema")["properties"]:
            assert f"`{name}`<br>" in section
    app_only = _section(pages[Path("connections.md")], "App-only (client credentials)")
    assert "secret: never shown again" in app_only
    for entry in manifest.triggers.values():
        section = _section(pages[Path("triggers.md")], entry["label"])
        assert f"Kind: {entry['kind']}" in section and "Example input:" in section
    folders = _section(pages[Path("data-sources.md")], "Select Mail Folder")
    assert "`list_messages`" in folders and "`poll_changes`" in folders
    index = pages[Path("README.md")]
    assert all(f"`{key}`" in index for key in manifest.actions)


def test_manifest_validate_names_a_stale_reference_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from click.testing import CliRunner

    from connector.cli import main

    root = load_manifest().root
    copy = tmp_path / "project"
    shutil.copytree(root / "schemas", copy / "schemas", ignore=shutil.ignore_patterns("*.md"))
    shutil.copy(root / "manifest.yaml", copy / "manifest.yaml")
    write(load_manifest(copy / "manifest.yaml"), copy / REFERENCE_DIR)
    monkeypatch.setenv("OUTLOOK_CONNECTOR_MANIFEST", str(copy / "manifest.yaml"))
    assert CliRunner().invoke(main, ["manifest", "validate"]).exit_code == 0
    page = copy / REFERENCE_DIR / "triggers.md"
    page.write_text(page.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["manifest", "validate"])
    assert result.exit_code == 1
    assert "schemas/reference/triggers.md: stale reference page" in result.stderr
