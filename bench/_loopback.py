"""A minimal, fast Graph stand-in on loopback for benchmarks: a token endpoint and a message page.

It answers from prebuilt bytes so that the benchmark measures the client side, not the server.
"""

from __future__ import annotations

import json
import multiprocessing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any

TOKEN = {
    "access_token": "bench-access-token",
    "token_type": "Bearer",
    "expires_in": 3600,
    "ext_expires_in": 3600,
}


def message(index: int) -> dict[str, Any]:
    """A message shaped like Graph's, with made-up content."""
    sender = {"emailAddress": {"name": f"Sender {index}", "address": f"sender{index}@example.com"}}
    return {
        "@odata.etag": f'W/"CQAAABYAAAB{index:08d}"',
        "id": f"AAMkAGI2TG93AAA{index:06d}=",
        "createdDateTime": "2026-11-20T09:00:00Z",
        "lastModifiedDateTime": "2026-11-20T09:01:00Z",
        "changeKey": f"CQAAABYAAAB{index:08d}",
        "categories": [],
        "receivedDateTime": "2026-11-20T09:00:00Z",
        "sentDateTime": "2026-11-20T08:59:58Z",
        "hasAttachments": False,
        "internetMessageId": f"<msg{index}@example.com>",
        "subject": f"Status report #{index}",
        "bodyPreview": "Here is this week's status report with the numbers you asked for.",
        "importance": "normal",
        "parentFolderId": "AAMkAGI2TG93AAAInbox=",
        "conversationId": f"AAQkAGI2TG93{index:06d}=",
        "isRead": index % 3 == 0,
        "isDraft": False,
        "webLink": f"https://outlook.office365.com/owa/?ItemID=AAMkAGI2TG93AAA{index:06d}%3D",
        "body": {
            "contentType": "html",
            "content": "<html><body><p>Here is this week's status report.</p></body></html>",
        },
        "sender": sender,
        "from": sender,
        "toRecipients": [{"emailAddress": {"name": "Alex", "address": "alex@example.com"}}],
        "ccRecipients": [],
        "bccRecipients": [],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
    }


def page_bytes(count: int = 10) -> bytes:
    page = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('bench')/messages",
        "value": [message(i) for i in range(count)],
    }
    return json.dumps(page).encode()


def _handler(page_size: int) -> type[BaseHTTPRequestHandler]:
    page = page_bytes(page_size)
    token = json.dumps(TOKEN).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else delayed ACKs stall every keep-alive request ~40 ms

        def _send(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(page)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._send(token)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _serve(page_size: int, ready: Connection) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(page_size))
    server.daemon_threads = True
    ready.send(server.server_address[1])
    server.serve_forever()


class LoopbackGraph:
    """``with LoopbackGraph() as server:`` serves ``server.url`` until the block ends.

    The server runs in its own process, so it does not compete with the measured client for the GIL.
    """

    def __init__(self, page_size: int = 10) -> None:
        self._page_size = page_size
        self.url = ""
        self._process: multiprocessing.Process | None = None

    def __enter__(self) -> LoopbackGraph:
        receiver, sender = multiprocessing.Pipe(duplex=False)
        self._process = multiprocessing.Process(target=_serve, args=(self._page_size, sender), daemon=True)
        self._process.start()
        if not receiver.poll(30):
            raise RuntimeError("loopback server did not start")
        self.url = f"http://127.0.0.1:{receiver.recv()}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join(10)
