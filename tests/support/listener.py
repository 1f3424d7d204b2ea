"""A webhook endpoint for tests: a tiny WSGI app on a free local port that records every POST.

It answers Graph's validation handshake (``?validationToken=``) as told by ``validation``
(``"echo"``: 200 with the token, as a good endpoint does; ``"wrong"``: 200 with another text;
``"error"``: 500; ``"hang"``: no answer until the listener stops) and every other POST with
``status`` (202 by default). Tests wait for deliveries with ``wait_for`` (a condition, no sleeps).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

Validation = Literal["echo", "wrong", "error", "hang"]


@dataclass(frozen=True)
class Received:
    path: str
    query: dict[str, str]
    content_type: str
    body: bytes

    @property
    def validation_token(self) -> str | None:
        return self.query.get("validationToken")

    def json(self) -> Any:
        return json.loads(self.body)


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        return


class Listener:
    def __init__(self, validation: Validation = "echo", status: int = 202) -> None:
        self.validation: Validation = validation
        self.status = status
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._release = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- serving -------------------------------------------------------------------------------------
    def __enter__(self) -> Listener:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_Quiet)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    @property
    def url(self) -> str:
        assert self._server is not None, "use the listener in a with block"
        return f"http://127.0.0.1:{self._server.server_port}"

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        received = Received(
            request.path, request.args.to_dict(), request.content_type or "", request.get_data()
        )
        with self._changed:
            self.received.append(received)
            self._changed.notify_all()
        response = self._answer(received)
        return response(environ, start_response)

    def _answer(self, received: Received) -> Response:
        token = received.validation_token
        if token is None:
            return Response(b"", status=self.status)
        if self.validation == "hang":
            self._release.wait(30)
            return Response(b"", status=500)
        if self.validation == "error":
            return Response("boom", status=500)
        text = token if self.validation == "echo" else "not the token"
        return Response(text, status=200, content_type="text/plain; charset=utf-8")

    # -- what arrived --------------------------------------------------------------------------------
    def validations(self) -> list[Received]:
        with self._changed:
            return [r for r in self.received if r.validation_token is not None]

    def posts(self, path: str | None = None) -> list[dict[str, Any]]:
        """The JSON bodies of notification (non-validation) POSTs, to ``path`` if given."""
        with self._changed:
            return [
                r.json()
                for r in self.received
                if r.validation_token is None and (path is None or r.path == path)
            ]

    def items(self, path: str | None = None) -> list[dict[str, Any]]:
        return [item for body in self.posts(path) for item in body["value"]]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)
