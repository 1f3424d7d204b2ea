"""File data in the forms other workflow products pass it, turned into this connector's attachment input.

Prismatic's Microsoft Outlook component takes attachments as a name -> file data map and as a list of
``{key, value}`` pairs (key: the file name, value: the file data). File data in JSON is one of:

- a string: the file's text (UTF-8), as Prismatic's ``toBufferDataPayload`` reads a string;
- ``{"data": "<base64>", "contentType": "application/pdf"}``: a data payload (``contentType`` optional);
- ``{"type": "Buffer", "data": [37, 80, ...]}``: a Node.js Buffer as JSON (bytes 0-255), also as the
  ``data`` of a data payload.

``attachment_dicts`` turns the map or the pairs into ``{name, content_base64, content_type}`` objects;
a list of those (the connector's own form) passes through unchanged.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class BufferJson(BaseModel):
    """A Node.js Buffer as ``JSON.stringify`` writes it."""

    model_config = ConfigDict(extra="forbid", title="Buffer (JSON)")

    type: Literal["Buffer"]
    data: list[Annotated[int, Field(ge=0, le=255)]] = Field(description="The bytes, each 0-255.")


class DataPayload(BaseModel):
    """File data with its MIME type: ``data`` is base64 text or a Buffer."""

    model_config = ConfigDict(extra="forbid", title="Data payload")

    data: str | BufferJson = Field(description="The file's bytes: base64 text, or a Buffer as JSON.")
    contentType: str | None = Field(default=None, description="The MIME type, e.g. application/pdf.")


FileData = str | DataPayload | BufferJson
"""One file's content: text, a data payload, or a Buffer (see the module docstring)."""


class KeyValueAttachment(BaseModel):
    """One file as a ``{key, value}`` pair: the file name and its data."""

    model_config = ConfigDict(extra="forbid", title="File (key/value)")

    key: str = Field(min_length=1, title="File name", examples=["report.pdf"])
    value: FileData = Field(
        title="File data",
        description="Text (sent as UTF-8), {data: base64, contentType}, or a Buffer as JSON.",
    )


def _buffer_bytes(value: Mapping[str, Any], name: str) -> bytes:
    data = value.get("data")
    if value.get("type") != "Buffer" or not isinstance(data, list):
        raise ValueError(f'{name!r}: a Buffer is {{"type": "Buffer", "data": [bytes]}}')
    if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in data):
        raise ValueError(f"{name!r}: a Buffer's data must be bytes (integers 0-255)")
    return bytes(data)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _guess_type(name: str, fallback: str) -> str:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or fallback


def file_attachment(name: str, value: Any) -> dict[str, Any]:
    """One named file's data -> ``{name, content_base64, content_type}`` (ValueError naming the file)."""
    if isinstance(value, str):
        return {
            "name": name,
            "content_base64": _b64(value.encode("utf-8")),
            "content_type": _guess_type(name, "text/plain"),
        }
    if isinstance(value, Mapping) and value.get("type") == "Buffer":
        return {
            "name": name,
            "content_base64": _b64(_buffer_bytes(value, name)),
            "content_type": _guess_type(name, "application/octet-stream"),
        }
    if isinstance(value, Mapping) and "data" in value:
        unknown = sorted(set(value) - {"data", "contentType"})
        if unknown:
            raise ValueError(
                f"{name!r}: a data payload has only data and contentType, not {', '.join(unknown)}"
            )
        content_type = value.get("contentType")
        if content_type is not None and (not isinstance(content_type, str) or not content_type.strip()):
            raise ValueError(f"{name!r}: contentType must be a MIME type such as application/pdf")
        data = value["data"]
        if isinstance(data, str):
            content = data  # base64, checked by the attachment model
        elif isinstance(data, Mapping):
            content = _b64(_buffer_bytes(data, name))
        else:
            raise ValueError(f"{name!r}: data must be base64 text or a Buffer")
        return {
            "name": name,
            "content_base64": content,
            "content_type": content_type or _guess_type(name, "application/octet-stream"),
        }
    raise ValueError(
        f'{name!r}: file data must be text, {{"data": base64, "contentType": ...}} or a Buffer'
        ' ({"type": "Buffer", "data": [...]})'
    )


def _is_pair(item: Any) -> bool:
    return isinstance(item, Mapping) and set(item) == {"key", "value"}


def attachment_dicts(value: Any) -> Any:
    """A pydantic before-validator: a name -> file data map, or a list mixing ``{key, value}`` pairs
    and attachment objects, becomes a list of attachment objects. Anything else is left to the model."""
    if isinstance(value, Mapping):
        return [file_attachment(str(name), data) for name, data in value.items()]
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            if _is_pair(item):
                key = item["key"]
                if not isinstance(key, str) or not key.strip():
                    raise ValueError("a {key, value} attachment's key must be the file name")
                out.append(file_attachment(key, item["value"]))
            else:
                out.append(item)
        return out
    return value
