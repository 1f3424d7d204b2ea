"""What an agent sees: the manifest's actions as MCP tools, under the caller's policy.

Each action the policy does not disable is a tool: name = action key, title = label, the committed
input and output schemas (``$schema`` and ``title`` annotations dropped: the tool has its title),
and MCP annotations from the manifest's hints. ``openWorldHint`` is true for actions that reach
other people or arbitrary Graph paths (send, raw and batch requests). Tool sets pick groups of
actions; discovery mode lists four meta-tools instead (find, describe, run, options).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mcp import types

from connector.call_summary import preview
from connector.errors import ConfigurationError
from connector.manifest import Entry, Manifest
from connector.policy import JUDGED_BY_REQUEST, Policy, judge, visible

TOOLSETS: dict[str, frozenset[str]] = {
    "mail": frozenset({"messages", "mail_folders", "attachments", "categories", "users"}),
    "calendar": frozenset({"calendars", "events"}),
    "contacts": frozenset({"contacts"}),
    "settings": frozenset({"settings", "users"}),
    "subscriptions": frozenset({"subscriptions"}),
    "advanced": frozenset({"raw", "batch"}),
}
"""Tool sets by manifest group; ``all`` names every group."""
DEFAULT_TOOLSETS = ("mail",)
APPROVAL_FIELD = "approval_id"
OPTIONS_TOOL = "get_options"
FIND_TOOL, DESCRIBE_TOOL, RUN_TOOL = "find_actions", "describe_action", "run_action"
BODY_PREVIEW_CHARS = 200
BODY_FIELDS = ("body", "uniqueBody")


def parse_toolsets(text: str | None) -> frozenset[str]:
    """``"mail,calendar"`` -> the manifest groups of those tool sets."""
    names = [n.strip() for n in (text or ",".join(DEFAULT_TOOLSETS)).split(",") if n.strip()]
    groups: set[str] = set()
    for name in names:
        if name == "all":
            return frozenset().union(*TOOLSETS.values())
        if name not in TOOLSETS:
            known = ", ".join([*TOOLSETS, "all"])
            raise ConfigurationError(f"unknown tool set {name!r} (tool sets: {known})")
        groups |= TOOLSETS[name]
    return frozenset(groups)


@dataclass(frozen=True)
class Catalog:
    """The tools of one manifest for one tool selection; ``discovery`` lists the meta-tools."""

    manifest: Manifest
    groups: frozenset[str]
    discovery: bool = False
    trim: bool = True
    """Cut bodies in list results to a text preview unless the input selected ``body``."""

    def entries(self, policy: Policy, scopes: frozenset[str] | None) -> list[Entry]:
        """The actions of the selected groups the policy lets the agent see."""
        return [
            entry
            for entry in self.manifest.actions.values()
            if entry["group"] in self.groups and visible(policy, entry, scopes)
        ]

    def tools(self, policy: Policy, scopes: frozenset[str] | None) -> list[types.Tool]:
        if self.discovery:
            return [*self._meta_tools(policy, scopes), self._options_tool()]
        tools = [action_tool(entry, policy) for entry in self.entries(policy, scopes)]
        return [*tools, self._options_tool()]

    def find(
        self, policy: Policy, scopes: frozenset[str] | None, query: str, limit: int = 10
    ) -> list[dict[str, Any]]:
        """Actions matching the query's words (key, label, description), best first."""
        words = [w for w in query.lower().replace("_", " ").split() if w]
        scored = []
        for entry in self.entries(policy, scopes):
            text = f"{entry.key.replace('_', ' ')} {entry['label']} {entry['description']}".lower()
            score = sum(3 if w in entry.key else 1 for w in words if w in text)
            if score or not words:
                scored.append((-score, entry.key, entry))
        return [
            {
                "key": entry.key,
                "label": entry["label"],
                "category": entry["category"],
                "setting": judge(policy, entry, {}).setting,
                "description": entry["description"],
            }
            for _, _, entry in sorted(scored)[:limit]
        ]

    def _meta_tools(self, policy: Policy, scopes: frozenset[str] | None) -> list[types.Tool]:
        groups = ", ".join(sorted(self.groups))
        return [
            types.Tool(
                name=FIND_TOOL,
                title="Find Outlook actions",
                description=f"Search the Outlook actions you may use ({groups}) by words; returns keys to"
                f" describe and run.",
                inputSchema=_object({"query": {"type": "string", "description": "e.g. 'unread mail'"}}),
                annotations=types.ToolAnnotations(
                    readOnlyHint=True, idempotentHint=True, openWorldHint=False
                ),
            ),
            types.Tool(
                name=DESCRIBE_TOOL,
                title="Describe an Outlook action",
                description="An action's description, input schema and permission setting.",
                inputSchema=_object({"key": {"type": "string"}}, required=["key"]),
                annotations=types.ToolAnnotations(
                    readOnlyHint=True, idempotentHint=True, openWorldHint=False
                ),
            ),
            types.Tool(
                name=RUN_TOOL,
                title="Run an Outlook action",
                description="Run an action with its input (see describe_action). An action that needs"
                f" approval answers with a pending approval; repeat the same call with its {APPROVAL_FIELD}"
                " once a person approved it.",
                inputSchema=_object(
                    {
                        "key": {"type": "string"},
                        "input": {"type": "object"},
                        APPROVAL_FIELD: {"type": "string"},
                    },
                    required=["key"],
                ),
                annotations=types.ToolAnnotations(
                    readOnlyHint=False, destructiveHint=True, openWorldHint=True
                ),
            ),
        ]

    def _options_tool(self) -> types.Tool:
        keys = sorted(self.manifest.data_sources)
        return types.Tool(
            name=OPTIONS_TOOL,
            title="List options",
            description="One page of choices for an input (folders, messages, calendars, categories...);"
            " pass next_cursor back as input.cursor for the next page.",
            inputSchema=_object(
                {"data_source": {"type": "string", "enum": keys}, "input": {"type": "object"}},
                required=["data_source"],
            ),
            annotations=types.ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False),
        )


def action_tool(entry: Entry, policy: Policy) -> types.Tool:
    """One action as an MCP tool; actions needing approval take an optional ``approval_id``."""
    input_schema = compact_schema(entry.schema("input_schema"))
    if needs_approval_field(entry, policy):
        properties = input_schema.setdefault("properties", {})
        properties[APPROVAL_FIELD] = {
            "type": "string",
            "description": "Only when repeating a call a person approved: the approval's id.",
        }
    output_schema = (
        compact_schema(entry.schema("output_schema"), output=True) if "output_schema" in entry.data else None
    )
    return types.Tool(
        name=entry.key,
        title=entry["label"],
        description=str(entry["description"]).strip(),
        inputSchema=input_schema,
        outputSchema=output_schema,
        annotations=types.ToolAnnotations(
            title=entry["label"],
            readOnlyHint=bool(entry.get("read_only", False)),
            destructiveHint=bool(entry.get("destructive", False)),
            idempotentHint=bool(entry.get("idempotent", False)),
            openWorldHint=entry.get("category") == "send" or entry.key in JUDGED_BY_REQUEST,
        ),
    )


def needs_approval_field(entry: Entry, policy: Policy) -> bool:
    if entry.key in JUDGED_BY_REQUEST:
        return any(policy.setting(c) == "approve" for c in policy.categories) or (
            policy.overrides.get(entry.key) == "approve"
        )
    return judge(policy, entry, {}).setting == "approve"


def compact_schema(schema: dict[str, Any], *, output: bool = False) -> dict[str, Any]:
    """The same schema in fewer tokens: no ``$schema``, ``title`` annotations or null defaults,
    ``anyOf [X, null]`` of a simple X written as ``type: [X, "null"]``; output schemas also lose
    ``examples`` and ``additionalProperties: true`` (the default). Every instance valid before is
    valid after, and no other."""
    out: dict[str, Any] = _compact(copy.deepcopy(schema), output)
    out.pop("$schema", None)
    return out


_SIMPLE = frozenset({"type", "format", "enum", "minimum", "maximum", "minLength", "maxLength", "pattern"})


def _compact(node: Any, output: bool) -> Any:
    if isinstance(node, list):
        return [_compact(item, output) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("properties", "$defs", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _compact(sub, output) for name, sub in value.items()}
        elif not _annotation_to_drop(key, value, output):
            out[key] = _compact(value, output)
    return _nullable(out)


def _annotation_to_drop(key: str, value: Any, output: bool) -> bool:
    if (key == "title" and isinstance(value, str)) or (key == "default" and value is None):
        return True
    return output and (key == "examples" or (key == "additionalProperties" and value is True))


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [{type: string, ...}, {type: null}]`` -> ``type: [string, null], ...``."""
    options = node.get("anyOf")
    if not isinstance(options, list) or len(options) != 2 or {"type": "null"} not in options:
        return node
    other = options[0] if options[1] == {"type": "null"} else options[1]
    if not isinstance(other, dict) or not isinstance(other.get("type"), str) or set(other) - _SIMPLE:
        return node
    if set(other) & set(node) - {"anyOf"}:
        return node
    merged = {key: value for key, value in node.items() if key != "anyOf"}
    merged.update(other)
    merged["type"] = [other["type"], "null"]
    if "enum" in other:
        merged["enum"] = [*other["enum"], None]
    return merged


def _object(properties: dict[str, Any], required: Iterable[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def trim_bodies(entry: Entry, raw_input: Any, result: Any) -> Any:
    """List results with each item's body cut to a text preview, unless the input selected ``body``."""
    if not entry.key.startswith("list_") or not isinstance(result, dict):
        return result
    selected = raw_input.get("select") if isinstance(raw_input, dict) else None
    if isinstance(selected, list) and any(str(s).lower() in ("body", "uniquebody") for s in selected):
        return result
    trimmed = dict(result)
    for key, value in result.items():
        if isinstance(value, list):
            trimmed[key] = [_trim_item(item) for item in value]
    return trimmed


def _trim_item(item: Any) -> Any:
    """An item whose bodies are dropped when Graph's ``bodyPreview`` is there (it is the preview),
    or else cut to a text preview."""
    if not isinstance(item, dict) or not any(isinstance(item.get(n), dict) for n in BODY_FIELDS):
        return item
    out = dict(item)
    for name in BODY_FIELDS:
        body = out.get(name)
        if not isinstance(body, dict) or not isinstance(body.get("content"), str):
            continue
        if isinstance(item.get("bodyPreview"), str):
            del out[name]
        else:
            out[name] = {"contentType": "text", "content": preview(body["content"], BODY_PREVIEW_CHARS)}
    return out


def result_text(data: Any) -> str:
    """The compact JSON text that accompanies structured content."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
