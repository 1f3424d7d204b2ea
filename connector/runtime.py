"""Run manifest entries: validate -> policy -> authorize -> handler -> validate output -> audit.

The policy step (``connector.policy.PolicyGate``) refuses disabled actions and actions that need an
approval they do not carry; the audit step (``connector.audit``) records every run and refusal.
With a store, the runtime takes both from it (stored policies, approvals, audit table). A runtime
with neither a store nor a ``gate`` is a bare library call (unit tests, a host that authorizes
calls itself): it runs under the ``open`` preset and audits nothing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from connector.audit import (
    AuditRecord,
    Caller,
    RequestIds,
    count_recipients,
    error_text,
)
from connector.context import ActionContext
from connector.errors import ConfigurationError, FieldError, GraphError, InputValidationError, InvalidIdError
from connector.manifest import Entry, Manifest, load_manifest
from connector.policy import PRESETS, PolicyError, PolicyGate, Verdict, granted_scopes
from connector.validation import nesting_error

if TYPE_CHECKING:
    import httpx

    from connections.base import Connection
    from connector._limits import SharedSlots
    from connector.http import GraphClient
    from connector.store import Principal, Store
    from connector.store.interfaces import AuditLog

STRICT_OUTPUT_ENV = "OUTLOOK_CONNECTOR_STRICT_OUTPUT"
HEALTH_EVERY = 60.0
"""Seconds between two notes of a connection's success (a run is not a database write each time)."""
CONNECTION_FAILURES = frozenset({401, 403})
"""Graph statuses that say the connection itself is refused (not one item missing)."""
logger = logging.getLogger("outlook_connector.runtime")


class Runtime:
    """Holds the manifest and one Graph client per connection; thread-safe.

    ``strict_output`` makes an output that breaks its schema an error (tests); otherwise it is
    logged (production). ``transport`` replaces the network for every client (tests, benchmarks).
    With a store shared by several processes (PostgreSQL, or ``$OUTLOOK_CONNECTOR_SHARED_LIMITS=1``)
    the clients keep Graph's concurrency limit through it (``connector.store.slots``).
    """

    def __init__(
        self,
        manifest: Manifest | None = None,
        *,
        store: Store | None = None,
        strict_output: bool | None = None,
        transport: httpx.BaseTransport | None = None,
        gate: PolicyGate | None = None,
        audit: AuditLog | None = None,
        caller: Caller | None = None,
    ) -> None:
        self.manifest = manifest or load_manifest()
        self.store = store
        self._gate = gate
        self._audit_log = audit
        self.caller = caller or Caller()
        """Who runs actions when a call names no caller (``cli``, ``mcp``, ``embedded``...)."""
        if strict_output is None:
            strict_output = os.environ.get(STRICT_OUTPUT_ENV, "") not in ("", "0", "false")
        self.strict_output = strict_output
        self._transport = transport
        self._shared_slots: SharedSlots | None = None
        if store is not None:  # Graph's concurrency limit kept through a shared store
            from connector.store.slots import shared_slot_pool

            self._shared_slots = shared_slot_pool(store)
        self._clients: dict[str, GraphClient] = {}
        self._retired: list[GraphClient] = []
        self._members: dict[Principal, Runtime] = {}
        self._lock = threading.Lock()
        self._health_noted: dict[str, float] = {}

    # -- clients -------------------------------------------------------------------------------
    def client_for(self, connection: Connection) -> GraphClient:
        """The Graph client bound to this connection (created once, shared by threads).

        The cache is keyed on the connection's identity (name, type, Graph URL and, for a saved
        connection, which saved version it is), and a saved connection that was deleted or saved
        again since it was loaded (by any process) is refused: a re-connected account never gets
        the previous one's client or credentials.
        """
        is_current = getattr(connection, "is_current", None)
        if is_current is not None and not is_current():
            raise ConfigurationError(
                f"connection {connection.name!r} was deleted or saved again since it was loaded;"
                " load it again (nothing was sent with the old settings)"
            )
        revision = getattr(connection, "revision", None) or ""
        name = getattr(connection, "storage_name", None) or connection.name  # unique across tenants
        cache_key = f"{name}\0{connection.type_key}\0{connection.graph_base_url}\0{revision}"
        client = self._clients.get(cache_key)
        if client is None:
            with self._lock:
                client = self._clients.get(cache_key)
                if client is None:
                    from connector.http import GraphClient

                    client = GraphClient(
                        connection.graph_base_url,
                        auth=connection.auth(),
                        mailbox_limit_key=connection.throttle_key,
                        shared_slots=self._shared_slots,
                        transport=self._transport,
                    )
                    prefix = name + "\0"
                    for stale in [k for k in self._clients if k.startswith(prefix)]:
                        # an earlier version of this connection: closed with the runtime (a thread
                        # may still be finishing a request with it)
                        self._retired.append(self._clients.pop(stale))
                    self._clients[cache_key] = client
        return client

    def for_principal(self, principal: Principal) -> Runtime:
        """The runtime acting for ``principal`` (a member of a tenant): the same manifest, transport
        and settings over this runtime's store bound to it, so its calls use, judge, approve and
        audit only that tenant's connections. Made once per principal; closed with this one."""
        if self.store is None:
            raise ConfigurationError("acting for a member of a tenant needs a state store")
        with self._lock:
            member = self._members.get(principal)
            if member is None:
                member = self._members[principal] = Runtime(
                    self.manifest,
                    store=self.store.for_principal(principal),
                    strict_output=self.strict_output,
                    transport=self._transport,
                    caller=self.caller,
                )
            return member

    def close(self) -> None:
        with self._lock:
            for client in [*self._clients.values(), *self._retired]:
                client.close()
            self._clients.clear()
            self._retired.clear()
            members = list(self._members.values())
            self._members.clear()
        for member in members:
            member.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running -------------------------------------------------------------------------------
    def context(self, connection: Connection) -> ActionContext:
        return ActionContext(graph=self.client_for(connection), connection=connection, store=self.store)

    def run_action(
        self,
        key: str,
        raw_input: Any,
        connection: Connection,
        *,
        user_id: str | None = None,
        approval: str | None = None,
        caller: Caller | None = None,
    ) -> dict[str, Any]:
        """Run one action and return its JSON output. Bad input, and a call the policy refuses,
        raise before any request; ``approval`` is the id of a granted approval of this exact call."""
        entry = self.manifest.action(key)
        return self._run(entry, raw_input, connection, user_id, approval, caller)

    def run_data_source(
        self,
        key: str,
        raw_input: Any,
        connection: Connection,
        *,
        user_id: str | None = None,
        caller: Caller | None = None,
    ) -> dict[str, Any]:
        """One page of a data source's options (``{"options": [...], "next_cursor": ...}``)."""
        return self._run(self.data_source(key), raw_input, connection, user_id, None, caller)

    def data_source(self, key: str) -> Entry:
        entry = self.manifest.data_sources.get(key)
        if entry is None:
            raise ConfigurationError(
                f"unknown data source {key!r}; `outlook-connector data-sources list` shows the data sources"
            )
        return entry

    def trigger_plan(self, key: str, raw_input: Any, connection: Connection) -> Any:
        """Validate a trigger's input and call its handler: what an instance of it watches (a
        ``triggers.plan.TriggerPlan``). Bad input raises before any request."""
        entry = self.manifest.triggers.get(key)
        if entry is None:
            known = ", ".join(sorted(self.manifest.triggers)) or "none"
            raise ConfigurationError(f"unknown trigger {key!r} (triggers: {known})")
        return self._call(entry, raw_input, connection, None)

    # -- policy and audit ----------------------------------------------------------------------
    @property
    def gate(self) -> PolicyGate:
        """The policy gate: given, else the store's policies and approvals, else ``open``."""
        if self._gate is not None:
            return self._gate
        store = self.store
        if store is None:
            return _OPEN_GATE
        return PolicyGate(
            policies=store,
            approvals=store,
            scopes=lambda name: _granted(store, name),
            clock=store.clock,
            manifest=self.manifest,
        )

    @property
    def audit_log(self) -> AuditLog | None:
        return self._audit_log if self._audit_log is not None else self.store

    def _run(
        self,
        entry: Entry,
        raw_input: Any,
        connection: Connection,
        user_id: str | None,
        approval: str | None = None,
        caller: Caller | None = None,
    ) -> dict[str, Any]:
        """validate -> policy -> authorize -> handler -> validate output, audited whatever happens."""
        caller = caller or self.caller
        raw_input = _with_user_id(raw_input, user_id)
        verdict: Verdict | None = None
        with RequestIds() as request_ids:
            try:
                params = self._validate(entry, raw_input)
                verdict = self.gate.check(
                    entry, raw_input, connection.name, approval_id=approval, requested_by=_who(caller)
                )
                self._authorize(entry, connection)
                result: dict[str, Any] = self._invoke(entry, params, connection, raw_input)
                if "output_schema" in entry.data:
                    self._check_output(entry, result)
            except BaseException as exc:
                self._audit(entry, raw_input, connection, caller, verdict, request_ids, exc)
                raise
            self._audit(entry, raw_input, connection, caller, verdict, request_ids, None)
        return result

    def _invoke(self, entry: Entry, params: Any, connection: Connection, raw_input: Any) -> Any:
        try:
            result = self._handle(entry, params, connection, raw_input)
        except GraphError as exc:
            if exc.status in CONNECTION_FAILURES:
                self.note_health(connection, exc.message)
            raise
        self.note_health(connection, None)
        return result

    def _audit(
        self,
        entry: Entry,
        raw_input: Any,
        connection: Connection,
        caller: Caller,
        verdict: Verdict | None,
        request_ids: list[str],
        exc: BaseException | None,
    ) -> None:
        log = self.audit_log
        if log is None:
            return
        approval = verdict.approval if verdict else None
        if verdict is not None:
            decision = "approved" if approval else "allowed"
            category = verdict.judgement.category
        elif isinstance(exc, PolicyError):
            decision, category = exc.decision, exc.category
        else:
            decision, category = "invalid", str(entry.get("category", "read"))
        if isinstance(exc, GraphError) and exc.request_id:
            request_ids = [*request_ids, exc.request_id]
        mailbox = raw_input.get("user_id") if isinstance(raw_input, dict) else None
        record = AuditRecord(
            at=self.gate.clock(),
            caller=caller.kind,
            principal=caller.principal,
            connection=connection.name,
            mailbox=str(mailbox or connection.default_mailbox or "me"),
            action=entry.key,
            category=category,
            decision=decision,
            outcome="ok" if exc is None else ("refused" if verdict is None else "error"),
            approved_by=approval.decided_by if approval else "",
            approval_id=approval.id if approval else getattr(getattr(exc, "approval", None), "id", ""),
            error="" if exc is None else error_text(exc),
            request_id=request_ids[-1] if request_ids else "",
            recipients=count_recipients(raw_input),
        )
        try:
            log.append_audit(record)
        except Exception as audit_error:  # the run has happened: report, do not hide its result
            logger.error("could not write the audit record of %s: %s", entry.key, audit_error)

    def note_health(self, connection: Connection, error: str | None) -> None:
        """Remember the connection's last successful Graph call (at most once a minute) or its
        last failure (401/403: the connection itself is refused), for ``connections list``."""
        if self.store is None:
            return
        now = time.monotonic()
        if error is None:
            last = self._health_noted.get(connection.name)
            if last is not None and now - last < HEALTH_EVERY:
                return
            self._health_noted[connection.name] = now
        else:
            self._health_noted.pop(connection.name, None)
        try:
            self.store.record_health(connection.name, ok=error is None, error=error)
        except Exception as exc:  # health is a side note: never fail a run over it
            logger.debug("could not record the health of %s: %s", connection.name, exc)

    def _call(self, entry: Entry, raw_input: Any, connection: Connection, user_id: str | None) -> Any:
        """Validate the input, check the connection type, call the handler (no policy, no output check)."""
        raw_input = _with_user_id(raw_input, user_id)
        params = self._validate(entry, raw_input)
        self._authorize(entry, connection)
        return self._handle(entry, params, connection, raw_input)

    def _handle(self, entry: Entry, params: Any, connection: Connection, raw_input: Any) -> Any:
        """Call the handler; an id refused where a path was built names the input field holding it."""
        try:
            return entry.handler(self.context(connection), params)
        except InvalidIdError as exc:
            where = _field_holding(raw_input, exc.value)
            if where is None:
                raise
            raise InvalidIdError(exc.value, exc.reason, where) from None

    def _validate(self, entry: Entry, raw_input: Any) -> Any:
        """The handler's parameters from the raw input: its nesting depth (before anything recurses
        into it), its JSON Schema, then its model's checks."""
        too_deep = nesting_error(raw_input)
        if too_deep is not None:
            raise InputValidationError([too_deep])
        entry.validator("input_schema").validate(raw_input, "input")
        return _parse_input(entry, raw_input)

    def _authorize(self, entry: Entry, connection: Connection) -> None:
        supported = entry.get("connections")
        if supported is not None and connection.type_key not in supported:
            raise ConfigurationError(
                f"{entry.kind[:-1]} {entry.key!r} does not support {connection.type_key!r} connections"
                f" (supported: {', '.join(supported)})"
            )

    def _check_output(self, entry: Entry, result: dict[str, Any]) -> None:
        problems: list[FieldError] = entry.validator("output_schema").errors(result)
        if not problems:
            return
        if self.strict_output:
            raise InputValidationError(problems, what=f"output of {entry.key}")
        logger.warning(
            "output of %s does not match its schema: %s", entry.key, "; ".join(map(str, problems[:5]))
        )


_OPEN_GATE = PolicyGate(policy=PRESETS["open"])


def _with_user_id(raw_input: Any, user_id: str | None) -> Any:
    if raw_input is None:
        raw_input = {}
    if user_id is not None and isinstance(raw_input, dict):
        raw_input = {**raw_input, "user_id": user_id}
    return raw_input


def _who(caller: Caller) -> str:
    return f"{caller.kind}:{caller.principal}" if caller.principal else caller.kind


def _granted(store: Store, connection: str) -> frozenset[str] | None:
    """The Graph permissions of the connection's token response (None: unknown)."""
    tokens = store.load_tokens(connection)
    return granted_scopes(str(tokens.get("scope", ""))) if tokens else None


def _parse_input(entry: Entry, raw_input: Any) -> Any:
    """Build the handler's pydantic model; its checks beyond the JSON Schema become field errors."""
    from pydantic import ValidationError

    try:
        return _input_model(entry).model_validate(raw_input)
    except ValidationError as exc:
        raise InputValidationError([_field_error(e, raw_input) for e in exc.errors()]) from None


def _field_error(error: Any, raw_input: Any) -> FieldError:
    from connector.validation import format_path

    reason = str(error["msg"]).removeprefix("Value error, ")
    path = _input_path(error["loc"], raw_input)
    if not path and ": " in reason:
        # a model-level check names its field as "field: reason"
        name, _, reason = reason.partition(": ")
        path = [name]
    return FieldError(format_path(path), reason)


def _input_path(loc: tuple[Any, ...], raw_input: Any) -> list[str | int]:
    """Keep the parts of a pydantic error location that exist in the input (drops union member tags)."""
    path: list[str | int] = []
    node = raw_input
    for index, part in enumerate(loc):
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            node = node[part]
        elif not (isinstance(node, dict) and index == len(loc) - 1):
            continue  # a union member's tag, not a place in the input
        path.append(part)
    return path


def _field_holding(raw_input: Any, value: str) -> str | None:
    """The path of the first input field whose value is ``value`` (None when no field holds it)."""
    from connector.validation import format_path

    stack: list[tuple[list[str | int], Any]] = [([], raw_input)]
    while stack:
        path, node = stack.pop(0)
        if node == value and path:
            return format_path(path)
        if isinstance(node, dict):
            stack.extend(([*path, str(k)], v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend(([*path, i], v) for i, v in enumerate(node))
    return None


def _input_model(entry: Entry) -> Any:
    model = getattr(entry.handler, "__input_model__", None)
    if model is None:
        from connector.schemas import input_model

        model = input_model(entry.handler)
        entry.handler.__input_model__ = model  # type: ignore[attr-defined]
    return model
