"""Upload sessions: a re-sent final fragment (its answer lost) gets the completed answer again, and
Outlook's upload limit (150 MB per app and mailbox in 5 minutes) answers 429 with Retry-After."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.sandbox.conftest import bearer, delegated_tokens

KB = 1024


def _session(client: FlaskClient, headers: dict[str, str], size: int) -> tuple[str, str]:
    """(draft id, upload URL path) of a new upload session for ``size`` bytes."""
    draft = client.post("/v1.0/me/messages", json={"subject": "upload"}, headers=headers).get_json()
    answer = client.post(
        f"/v1.0/me/messages/{draft['id']}/attachments/createUploadSession",
        json={"AttachmentItem": {"attachmentType": "file", "name": "data.bin", "size": size}},
        headers=headers,
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    url = answer.get_json()["uploadUrl"]
    return draft["id"], url[url.index("/upload/") :]


def _put(client: FlaskClient, url: str, data: bytes, start: int, total: int) -> Any:
    return client.put(
        url, data=data, headers={"Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}"}
    )


def test_a_resent_final_fragment_gets_the_same_created_answer(
    client: FlaskClient, user_headers: dict[str, str]
) -> None:
    data = bytes(range(256)) * 8
    draft, url = _session(client, user_headers, len(data))
    assert _put(client, url, data[:1024], 0, len(data)).status_code == 200
    done = _put(client, url, data[1024:], 1024, len(data))
    assert done.status_code == 201 and done.headers["Location"]
    again = _put(client, url, data[1024:], 1024, len(data))  # the client never saw the 201
    assert again.status_code == 201 and again.headers["Location"] == done.headers["Location"]
    attachments = client.get(f"/v1.0/me/messages/{draft}/attachments", headers=user_headers).get_json()
    assert [a["name"] for a in attachments["value"]] == ["data.bin"]  # attached once
    assert client.delete(url).status_code == 204
    assert _put(client, url, data[1024:], 1024, len(data)).status_code == 404  # gone once cancelled


def test_uploads_over_the_limit_are_throttled_until_the_window_moves() -> None:
    now = [1000.0]
    app = create_app(
        SandboxConfig(upload_bytes_per_window=64 * KB, upload_window_seconds=300, clock=lambda: now[0])
    )
    client = app.test_client()
    headers = bearer(delegated_tokens(client)["access_token"])
    size = 48 * KB
    _first, url = _session(client, headers, size)
    assert _put(client, url, b"a" * size, 0, size).status_code == 201
    now[0] += 100
    _second, url = _session(client, headers, size)
    refused = _put(client, url, b"b" * (32 * KB), 0, size)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "ApplicationThrottled"
    assert refused.headers["Retry-After"] == "200"  # the first upload leaves the window at t=1300
    assert _put(client, url, b"b" * (16 * KB), 0, size).status_code == 200  # what fits still goes
    now[0] += 200
    assert _put(client, url, b"b" * (32 * KB), 16 * KB, size).status_code == 201
