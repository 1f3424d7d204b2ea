"""Streamable HTTP for a hosted agent: every request carries a caller's key (no credential, no access).

The host configures callers in a JSON file: each has a name, the SHA-256 of its key (never the key
itself) and its own connection, so one user cannot act on another's mailbox::

    {"callers": [{"name": "alice", "key_sha256": "9f86d0...", "connection": "alice"},
                 {"name": "bob", "key_sha256": "...", "connection": "sales",
                  "tenant": "fabrikam", "user": "bob@fabrikam.com"}]}

A caller without a connection uses ``shared_connection``, which must be chosen explicitly (the
server warns at start that those callers all act as that mailbox). A caller with ``tenant`` and
``user`` acts as that member of that tenant (``connector.store.Principal``): its connection is
the tenant's of that name, and its calls see and use only that tenant's connections, policies,
approvals and audit records, so one server serves callers of many tenants. Without them a caller
acts as the process does (``$OUTLOOK_CONNECTOR_TENANT``/``_USER``, if set).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connector.errors import ConfigurationError, FieldError, InputValidationError
from connector.mcp.server import PRINCIPAL_STATE, AgentServer, Principal
from connector.store.records import Principal as Member
from connector.store.records import principal_problem

PATH = "/mcp"


@dataclass(frozen=True)
class KeyTable:
    """Callers by the SHA-256 of their key."""

    callers: tuple[tuple[bytes, Principal], ...]

    @classmethod
    def load(cls, path: Path | str, shared_connection: str | None = None) -> KeyTable:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read the callers file {path}: {exc}") from None
        return cls.parse(data, shared_connection)

    @classmethod
    def parse(cls, data: Any, shared_connection: str | None = None) -> KeyTable:
        problems: list[FieldError] = []
        items = data.get("callers") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise InputValidationError(
                [FieldError("callers", "must be a non-empty list")], what="callers file"
            )
        callers: list[tuple[bytes, Principal]] = []
        for index, item in enumerate(items):
            where = f"callers[{index}]"
            if not isinstance(item, dict):
                problems.append(FieldError(where, "must be an object"))
                continue
            name, digest, connection = item.get("name"), item.get("key_sha256"), item.get("connection")
            if not isinstance(name, str) or not name.strip():
                problems.append(FieldError(f"{where}.name", "is required"))
            try:
                key = bytes.fromhex(str(digest))
            except ValueError:
                key = b""
            if len(key) != 32:
                problems.append(
                    FieldError(f"{where}.key_sha256", "must be 64 hex digits (SHA-256 of the key)")
                )
            connection = connection or shared_connection
            if not isinstance(connection, str) or not connection:
                problems.append(
                    FieldError(
                        f"{where}.connection", "is required (or choose a shared connection explicitly)"
                    )
                )
            member = _member(item, where, problems)
            if not problems:
                callers.append((key, Principal(str(name), str(connection), member)))
        if problems:
            raise InputValidationError(problems, what="callers file")
        return cls(tuple(callers))

    def find(self, key: str) -> Principal | None:
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        found = None
        for known, principal in self.callers:  # compare with every entry: no early exit
            if hmac.compare_digest(known, digest):
                found = principal
        return found


def _member(item: dict[str, Any], where: str, problems: list[FieldError]) -> Member | None:
    """The caller's ``tenant`` and ``user`` (both or neither), checked as a store principal's."""
    tenant, user = item.get("tenant"), item.get("user")
    if tenant is None and user is None:
        return None
    found = len(problems)
    for field_name, value, other in (("tenant", tenant, "user"), ("user", user, "tenant")):
        if value is None:
            problems.append(FieldError(f"{where}.{field_name}", f"is required with {other}"))
        elif (problem := principal_problem(value)) is not None:
            problems.append(FieldError(f"{where}.{field_name}", problem))
    if len(problems) > found:
        return None
    return Member(str(tenant), str(user))


class KeyAuth:
    """ASGI middleware: ``Authorization: Bearer <key>`` of a known caller, or 401."""

    def __init__(self, app: ASGIApp, keys: KeyTable) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, key = header.partition(" ")
        principal = self.keys.find(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if principal is None:
            body = (
                b'{"error":"unauthorized","message":"a caller key is required (Authorization: Bearer KEY)"}'
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})[PRINCIPAL_STATE] = principal
        await self.app(scope, receive, send)


class _Endpoint:
    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        self.manager = manager

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.manager.handle_request(scope, receive, send)


def http_app(agent: AgentServer, keys: KeyTable) -> ASGIApp:
    """The ASGI app serving ``agent`` at ``/mcp`` (streamable HTTP) to callers in ``keys``."""
    manager = StreamableHTTPSessionManager(app=agent.server)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            yield

    app = Starlette(routes=[Route(PATH, endpoint=_Endpoint(manager))], lifespan=lifespan)
    return KeyAuth(app, keys)


class HttpServer:
    """``app`` served by uvicorn in a background thread on ``host``:``port`` (0: any free port)."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(128)  # connections wait in the backlog until uvicorn accepts them
        self.host, self.port = host, self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{PATH}"

    def serve(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.run(sockets=[self._socket])

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self.serve, name="mcp-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
