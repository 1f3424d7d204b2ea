"""Record every action's example output by running its ``example_input`` on a fresh sandbox.

    python -m connector.examples            # rewrite schemas/examples/*.output.json
    python -m connector.examples --check    # exit 1 if a recorded example is missing

Example inputs may name sandbox objects with placeholders: ``{first_message_id}`` (the newest
message in the default user's inbox), ``{other_user}`` (another seeded user's address),
``{default_user}``, ``{shared_mailbox}``, ``{attachment_message_id}`` (the newest inbox message
with a file), ``{first_attachment_id}`` (its first attachment), ``{inbox_subfolder_id}`` (a user
folder in the inbox), ``{first_category_id}`` and ``{first_contact_id}``; ``{first_event_id}``
(a meeting the default user organizes), ``{invite_event_id}`` (an invitation they have not answered) and
``{harbor_calendar_id}`` (their second calendar); ``{first_draft_id}`` (a draft of theirs).
``{sandbox_webhook_url}`` is the sandbox's own notification endpoint (``/_sandbox/webhooks/examples``,
shown as ``https://hooks.example.com/outlook`` in recordings) and ``{first_subscription_id}`` a
subscription to the inbox posting there; ``{scheduled_message_id}`` a message waiting in the Outbox
for its scheduled send time (``SCHEDULED_AT``).
The sandbox's address is
replaced by Graph's in the output, so recordings do not depend on the port.

The sandbox is used only through its server: its seeded users come from its ``/_sandbox/`` page.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connections.sandbox import sandbox_connection, sandbox_info
from connector.manifest import load_manifest
from connector.runtime import Runtime
from connector.store import Store

GRAPH_ROOT = "https://graph.microsoft.com"
WEBHOOK_PATH = "/_sandbox/webhooks/examples"
SHOWN_WEBHOOK = "https://hooks.example.com/outlook"
ANCHOR = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # fixed, so recordings only change when code does
SCHEDULED_AT = "2030-01-07T09:00:00Z"
"""When ``{scheduled_message_id}`` (a message sent with ``send_at``) is due: fixed, and far ahead."""


def placeholders(runtime: Runtime, connection: Any) -> dict[str, str]:
    """Placeholder name -> value, looked up on the sandbox ``connection`` points at."""
    info = sandbox_info(connection.graph_base_url.rsplit("/", 1)[0])
    newest = runtime.run_action(
        "list_messages", {"folder_id": "inbox", "top": 1, "select": ["id"]}, connection
    )
    others = [upn for upn in info["users"] if upn.lower() != info["default_user"].lower()]
    with_file = runtime.run_action(  # attachments_raw_batch: the newest inbox message with a file
        "list_messages",
        {"folder_id": "inbox", "filter": "hasAttachments eq true", "top": 1, "select": ["id"]},
        connection,
    )["messages"][0]["id"]
    files = runtime.run_action("list_attachments", {"message_id": with_file}, connection)["attachments"]
    # folders_contacts_settings: a user folder in the inbox (Projects), the first category and contact
    subfolder = runtime.run_action("list_child_folders", {"folder_id": "inbox"}, connection)["folders"][0]
    category = runtime.run_action("list_categories", {}, connection)["categories"][0]
    contact = runtime.run_action("list_contacts", {"top": 1}, connection)["contacts"][0]
    # calendar: a meeting the default user organizes, an invitation they have not answered, a second calendar
    events = runtime.run_action("list_events", {"top": 50, "select": ["subject"]}, connection)["events"]
    by_subject = {e["subject"]: e["id"] for e in events}
    calendars = runtime.run_action("list_calendars", {"top": 10}, connection)["calendars"]
    draft = runtime.run_action("list_messages", {"folder_id": "drafts", "top": 1}, connection)  # mail_compose
    webhook = connection.graph_base_url.rsplit("/", 1)[0] + WEBHOOK_PATH  # subscriptions
    subscription = runtime.run_action(
        "create_subscription",
        {
            "resource": "me/mailFolders('inbox')/messages",
            "change_types": ["created"],
            "notification_url": webhook,
        },
        connection,
    )
    runtime.run_action(  # scheduled send: a message held in the Outbox until a fixed later time
        "send_message",
        {"to": [others[1]], "subject": "Year plan", "send_at": SCHEDULED_AT},
        connection,
    )
    scheduled = runtime.run_action("list_scheduled_messages", {}, connection)["messages"][0]
    return {
        "scheduled_message_id": scheduled["id"],
        "sandbox_webhook_url": webhook,
        "first_subscription_id": subscription["id"],
        "first_draft_id": draft["messages"][0]["id"],  # mail_compose: a draft of the default user
        "first_event_id": by_subject["Supplier call: Nordhavn Freight"],
        "invite_event_id": by_subject["1:1 Hannah / Avery"],
        "harbor_calendar_id": next(c["id"] for c in calendars if c["name"] == "Project Harbor"),
        "inbox_subfolder_id": subfolder["id"],
        "first_category_id": category["id"],
        "first_contact_id": contact["id"],
        "attachment_message_id": with_file,
        "first_attachment_id": files[0]["id"],
        "first_message_id": newest["messages"][0]["id"],
        "other_user": others[0],
        "default_user": info["default_user"],
        "shared_mailbox": info["shared_mailbox"],
    }


def fill(value: Any, names: dict[str, str]) -> Any:
    """Replace ``{name}`` placeholders in every string of a JSON value."""
    if isinstance(value, str):
        for name, replacement in names.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, list):
        return [fill(item, names) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, names) for key, item in value.items()}
    return value


def record(keys: list[str] | None = None) -> dict[Path, str]:
    """Run the examples; return file -> JSON text."""
    from sandbox.config import SandboxConfig
    from sandbox.server import SandboxServer

    manifest = load_manifest()
    recorded: dict[Path, str] = {}
    with tempfile.TemporaryDirectory() as home:
        store = Store(Path(home) / "state.db")
        for entry in manifest.actions.values():
            if keys and entry.key not in keys:
                continue
            with (
                SandboxServer(SandboxConfig(anchor=ANCHOR)) as server,
                Runtime(manifest, strict_output=True) as runtime,
            ):
                connection = sandbox_connection(store, server.url, "delegated")
                raw = fill(entry["example_input"], placeholders(runtime, connection))
                output = runtime.run_action(entry.key, raw, connection)
                text = json.dumps(output, indent=2, ensure_ascii=False)
                text = text.replace(server.url + WEBHOOK_PATH, SHOWN_WEBHOOK).replace(server.url, GRAPH_ROOT)
                recorded[entry.path("example_output")] = text + "\n"
        store.close()
    return recorded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("keys", nargs="*", help="only these actions")
    parser.add_argument("--check", action="store_true", help="only report missing recordings")
    args = parser.parse_args(argv)
    manifest = load_manifest()
    if args.check:
        missing = [e.key for e in manifest.actions.values() if not e.path("example_output").is_file()]
        for key in missing:
            print(f"missing example output: {key}")
        return 1 if missing else 0
    for path, text in record(args.keys or None).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(manifest.root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
