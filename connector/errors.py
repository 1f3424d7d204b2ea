"""The connector's error types. Every failure a caller sees is one of these.

Messages never contain tokens, secrets or Authorization headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "message": self.message}


@dataclass(frozen=True)
class FieldError:
    """One invalid input field: a JSON path such as ``to_recipients[0].address`` and the reason."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class InputValidationError(ConnectorError):
    """Input (or output, in strict mode) that does not match its JSON Schema."""

    exit_code = 2

    def __init__(self, errors: list[FieldError], what: str = "input") -> None:
        self.errors = errors
        lines = "; ".join(str(e) for e in errors)
        super().__init__(f"invalid {what}: {lines}")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["errors"] = [{"path": e.path, "reason": e.reason} for e in self.errors]
        return out


class InvalidIdError(InputValidationError):
    """An id that cannot address exactly one path segment (``..``, empty, too long...).

    Raised where paths are built; the runtime names the input field that held ``value``.
    """

    def __init__(self, value: str, reason: str, field: str = "id") -> None:
        self.value = value
        self.reason = reason
        super().__init__([FieldError(field, reason)])


class ConfigurationError(ConnectorError):
    """The manifest, a connection or the environment is set up wrongly."""


class AuthError(ConnectorError):
    """The identity platform refused to issue or refresh a token.

    ``code`` is the OAuth error (``invalid_grant``...), ``aadsts`` the AADSTS number when Microsoft
    sent one, and ``hint`` tells the user what to do.
    """

    def __init__(self, message: str, *, code: str = "", aadsts: str = "", hint: str = "") -> None:
        self.code = code
        self.aadsts = aadsts
        self.hint = hint
        text = message if not hint else f"{message} {hint}"
        super().__init__(text)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(code=self.code, aadsts=self.aadsts, hint=self.hint)
        return out


class GraphError(ConnectorError):
    """Microsoft Graph answered with an error (or could not be reached).

    ``status`` is the HTTP status (0 when no answer came), ``code`` Graph's error code,
    ``request_id`` the ``request-id`` Graph returned (quote it to Microsoft support).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "",
        request_id: str = "",
        date: str = "",
        hint: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.request_id = request_id
        self.date = date
        self.hint = hint
        self.retry_after = retry_after
        parts = [f"Graph error {status}" + (f" {code}" if code else "") + f": {message}"]
        if hint:
            parts.append(hint)
        if request_id:
            parts.append(f"(request-id {request_id})")
        super().__init__(" ".join(parts))
        self.graph_message = message

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            status=self.status,
            code=self.code,
            graph_message=self.graph_message,
            request_id=self.request_id,
            hint=self.hint,
        )
        return out
