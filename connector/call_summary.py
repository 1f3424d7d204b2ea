"""A call in plain words (action, mailbox, recipients, subject, the first words of the body, the
items affected), shown to the person who approves it; bodies are cut to a preview."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from connector.request_categories import requests_of, short_path

if TYPE_CHECKING:
    from connector.manifest import Entry

RECIPIENT_FIELDS = ("to", "cc", "bcc", "required_attendees", "optional_attendees", "resource_attendees")
TARGET_FIELDS = (
    "message_id", "message_ids", "folder_id", "destination_id", "destination_folder_id", "event_id",
    "calendar_id", "contact_id", "category_id", "attachment_id", "subscription_id",
)  # fmt: skip
BODY_FIELDS = ("body", "comment", "body_template")
PREVIEW_CHARS = 160


def describe_call(entry: Entry, raw_input: Any) -> str:
    """What the call will do, in plain words: action, mailbox, recipients, subject, the first words
    of the body, and the items affected. Shown to the person who approves it."""
    data = raw_input if isinstance(raw_input, dict) else {}
    parts = [f"{entry.get('label', entry.key)} ({entry.key})"]
    parts.append(f"mailbox {data.get('user_id') or 'of the connection'}")
    for name in RECIPIENT_FIELDS:
        addresses = _recipients(data.get(name))
        if addresses:
            parts.append(
                f"{name.replace('_', ' ')}: {', '.join(addresses[:10])}"
                + (f" and {len(addresses) - 10} more" if len(addresses) > 10 else "")
            )
    if data.get("rows"):
        parts.append(f"{len(data['rows'])} templated messages")
    subject = data.get("subject") or data.get("subject_template")
    if subject:
        parts.append(f"subject: {str(subject)[:200]!r}")
    for name in BODY_FIELDS:
        text = data.get(name)
        if isinstance(text, str) and text.strip():
            parts.append(f"{name.replace('_', ' ')} begins: {preview(text)!r}")
            break
    for name in TARGET_FIELDS:
        value = data.get(name)
        if isinstance(value, list):
            parts.append(f"{name}: {len(value)} items")
        elif value:
            parts.append(f"{name}: {value}")
    for method, path in requests_of(entry.key, data):
        parts.append(f"{method} {short_path(path, 200)}")
    return "; ".join(parts)


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The first words of a text or HTML body, tags dropped and spaces collapsed."""
    plain = re.sub(r"<[^>]*>", " ", text)
    plain = re.sub(r"\s+", " ", plain).strip()
    return plain if len(plain) <= limit else plain[: limit - 3].rstrip() + "..."


def _recipients(value: Any) -> list[str]:
    """The addresses of a recipients input: a list (whose strings may hold several) or one string of
    addresses separated by commas or semicolons."""
    from connector.validation import split_addresses

    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    found: list[str] = []
    for item in items:
        if isinstance(item, str):
            try:
                found.extend(address for _, address in split_addresses(item))
            except ValueError:  # shown as given: the input check names it
                found.append(item)
        elif _address(item):
            found.append(_address(item))
    return found


def _address(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return str(item.get("address") or item.get("emailAddress", {}).get("address") or "")
    return ""
