"""``run --attach PATH`` (files into an action's attachments) and ``run --save DIR`` (attachment
and MIME content of an output written to files)."""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path
from typing import Any

import click

UNSAFE = re.compile(r"[^\w.\- ()\[\]@+,]")


def attach(schema: dict[str, Any], raw_input: Any, paths: tuple[Path, ...]) -> Any:
    """``raw_input`` with each file appended to its ``attachments`` (or set as its ``attachment``)."""
    properties = schema.get("properties", {})
    if not isinstance(raw_input, dict):
        raise click.BadParameter("--attach needs the input to be a JSON object", param_hint="--attach")
    files = [_file(path) for path in paths]
    if "attachments" in properties:
        return {**raw_input, "attachments": [*(raw_input.get("attachments") or []), *files]}
    if "attachment" in properties and len(files) == 1 and "attachment" not in raw_input:
        return {**raw_input, "attachment": files[0]}
    raise click.BadParameter(
        "this action takes no attachments"
        if "attachment" not in properties
        else "this action takes one attachment (and the input names none)",
        param_hint="--attach",
    )


def _file(path: Path) -> dict[str, Any]:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint="--attach") from None
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return {
        "name": path.name,
        "content_base64": base64.b64encode(content).decode("ascii"),
        "content_type": content_type,
    }


def save(output: Any, directory: Path) -> tuple[Any, list[Path]]:
    """Write the file contents of ``output`` into ``directory``: every ``{name, contentBase64}``
    (or ``content_base64``) object, and a ``mime`` message as ``.eml``. Returns the output with
    each content replaced by ``saved_to`` (the file's path), and the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write(name: str, data: bytes) -> str:
        path = _free_path(directory, name)
        path.write_bytes(data)
        written.append(path)
        return str(path)

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            return [walk(item) for item in value]
        if not isinstance(value, dict):
            return value
        out = {key: walk(item) for key, item in value.items()}
        for field in ("contentBase64", "content_base64"):
            if isinstance(out.get(field), str):
                name = out.get("name") or "attachment"
                out["saved_to"] = write(str(name), base64.b64decode(out.pop(field)))
        return out

    saved = walk(output)
    if isinstance(saved, dict) and isinstance(saved.get("mime"), str):
        name = str(saved.get("subject") or saved.get("message_id") or "message")
        saved["saved_to"] = write(f"{name}.eml", saved.pop("mime").encode("utf-8"))
    return saved, written


def _free_path(directory: Path, name: str) -> Path:
    """``directory/name`` made safe (no separators or odd characters) and not yet taken."""
    safe = UNSAFE.sub("_", Path(name).name).strip(" .") or "file"
    stem, suffix = Path(safe).stem, Path(safe).suffix
    path, number = directory / safe, 2
    while path.exists():
        path, number = directory / f"{stem} ({number}){suffix}", number + 1
    return path
