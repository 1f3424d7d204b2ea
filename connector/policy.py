"""The permission policy: what each category of action may do, judged before any request.

A policy maps each category (``read``, ``draft``, ``categorize``, ``send``, ``delete``, ``admin``)
to ``allow``, ``approve`` or ``disabled``, with per-action overrides (``send_message: approve``).
``raw_request`` and ``batch_request`` are judged by what they do: each request's method and path
gives its category (``POST /me/sendMail`` is send, a ``DELETE`` is delete), the strictest setting
wins, and an override on them can only make them stricter.

An action set to ``approve`` runs only with an approval granted by a human for the exact call: the
approval is bound to a hash of the connection, action, mailbox and input, is used once and expires
(``APPROVAL_TTL``). The gate (``PolicyGate``) makes the pending approval; the front doors ask the
human (MCP elicitation, ``outlook-connector approvals approve ID``) and the caller repeats the call
with the approval id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from connector.call_summary import describe_call
from connector.errors import ConfigurationError, ConnectorError, FieldError, InputValidationError
from connector.request_categories import classify_request, requests_of, short_path

if TYPE_CHECKING:
    from connector.manifest import Entry, Manifest
    from connector.store.interfaces import ApprovalStore, PolicyStore

CATEGORIES = ("read", "draft", "categorize", "send", "delete", "admin")
SETTINGS = ("allow", "approve", "disabled")
STRICTNESS = {setting: rank for rank, setting in enumerate(SETTINGS)}
APPROVAL_TTL = 15 * 60.0
"""Seconds an approval (pending or granted) stays usable."""
JUDGED_BY_REQUEST = frozenset({"raw_request", "batch_request"})
"""Actions whose category comes from the Graph requests they carry."""


class PolicyError(ConnectorError):
    """The policy refuses the action (disabled, or its approval is missing, spent or for another call)."""

    def __init__(self, message: str, *, action: str, category: str, decision: str) -> None:
        super().__init__(message)
        self.action = action
        self.category = category
        self.decision = decision

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(action=self.action, category=self.category, decision=self.decision)
        return out


class ApprovalRequired(PolicyError):
    """The action needs a human's approval of this exact call; a pending approval was made.

    Approve it (``outlook-connector approvals approve ID``), then repeat the call with ``approval=ID``.
    """

    def __init__(self, approval: Approval) -> None:
        super().__init__(
            f"{approval.action} needs approval: {approval.summary} -- approval {approval.id} is pending;"
            f" a person approves it (`outlook-connector approvals approve {approval.id}`), then the same"
            " call is repeated with this approval id",
            action=approval.action,
            category=approval.category,
            decision="approval_required",
        )
        self.approval = approval

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            approval_id=self.approval.id,
            summary=self.approval.summary,
            expires_at=self.approval.expires_at,
        )
        return out


# -- policies ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    """Category settings, per-action overrides, and whether to hide actions the scopes do not cover."""

    categories: Mapping[str, str]
    overrides: Mapping[str, str] = field(default_factory=dict)
    allowed_permissions: bool = False
    """Refuse (and hide from agents) actions whose Graph permissions the granted scopes do not cover."""

    def setting(self, category: str) -> str:
        return self.categories.get(category, "disabled")

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": {c: self.setting(c) for c in CATEGORIES},
            "overrides": dict(sorted(self.overrides.items())),
            "allowed_permissions": self.allowed_permissions,
        }

    @classmethod
    def from_dict(cls, data: Any, manifest: Manifest | None = None) -> Policy:
        """Parse a stored or submitted policy; every problem is a field error."""
        problems: list[FieldError] = []
        if not isinstance(data, dict):
            raise InputValidationError([FieldError("policy", "must be an object")], what="policy")
        unknown = set(data) - {"categories", "overrides", "allowed_permissions"}
        problems += [FieldError(name, "is not a policy field") for name in sorted(unknown)]
        categories = _settings(data.get("categories", {}), "categories", problems, CATEGORIES)
        known = None if manifest is None else set(manifest.actions)
        overrides = _settings(data.get("overrides", {}), "overrides", problems, known)
        allowed = data.get("allowed_permissions", False)
        if not isinstance(allowed, bool):
            problems.append(FieldError("allowed_permissions", "must be true or false"))
        if problems:
            raise InputValidationError(problems, what="policy")
        merged = {c: categories.get(c, DEFAULT_POLICY.setting(c)) for c in CATEGORIES}
        return cls(merged, overrides, bool(allowed))

    def changed(self, assignments: Iterable[str], manifest: Manifest | None = None) -> Policy:
        """This policy with ``name=setting`` assignments applied: a category, an action key (an
        override; ``name=inherit`` drops it) or ``allowed_permissions=true|false``."""
        data = self.to_dict()
        problems: list[FieldError] = []
        for text in assignments:
            name, sep, value = text.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not name:
                problems.append(FieldError(text, "must be NAME=SETTING"))
            elif name == "allowed_permissions":
                if value not in ("true", "false"):
                    problems.append(FieldError(name, "must be true or false"))
                data[name] = value == "true"
            elif name in CATEGORIES:
                data["categories"][name] = value
            elif value == "inherit":
                data["overrides"].pop(name, None)
            else:
                data["overrides"][name] = value
        if problems:
            raise InputValidationError(problems, what="policy change")
        return Policy.from_dict(data, manifest)


def _settings(
    value: Any, where: str, problems: list[FieldError], known: Iterable[str] | None
) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.append(FieldError(where, "must be an object of NAME: allow|approve|disabled"))
        return {}
    allowed_names = None if known is None else set(known)
    out: dict[str, str] = {}
    for name, setting in value.items():
        if allowed_names is not None and name not in allowed_names:
            what = "category" if where == "categories" else "action"
            problems.append(FieldError(f"{where}.{name}", f"unknown {what}"))
        elif setting not in SETTINGS:
            problems.append(FieldError(f"{where}.{name}", f"must be one of {', '.join(SETTINGS)}"))
        else:
            out[str(name)] = str(setting)
    return out


DEFAULT_POLICY = Policy(
    {"read": "allow", "draft": "disabled", "categorize": "disabled", "send": "approve",
     "delete": "disabled", "admin": "disabled"}
)  # fmt: skip
"""Reads allowed, sending asks a person, everything else disabled."""
PRESETS: dict[str, Policy] = {
    "default": DEFAULT_POLICY,
    "read_only": Policy({c: "allow" if c == "read" else "disabled" for c in CATEGORIES}),
    "approve_writes": Policy({c: "allow" if c == "read" else "approve" for c in CATEGORIES}),
    "open": Policy(dict.fromkeys(CATEGORIES, "allow")),
}
"""Named starting points for ``policy set --preset``; ``open`` is for trusted hosts and sandboxes."""
CATEGORY_MEANINGS = {
    "read": "Read mail, folders, calendars, contacts and settings; changes nothing.",
    "draft": "Create or change items that are not sent: drafts, message properties, folders,"
    " contacts, calendars and attachments.",
    "categorize": "Organize mail: move or copy messages, and create or change categories.",
    "send": "Anything that reaches other people: send, reply, forward, send a draft, meeting"
    " invitations and responses.",
    "delete": "Delete messages, folders, attachments, contacts, events, categories or subscriptions.",
    "admin": "Mailbox settings, change-notification subscriptions, and raw Graph calls outside the"
    " other categories.",
}


# -- judging -----------------------------------------------------------------------------------------
class Judgement(NamedTuple):
    """What the policy says of one call: its category and setting, and why."""

    action: str
    category: str
    setting: str
    reason: str


def judge(
    policy: Policy, entry: Entry, raw_input: Any, granted_scopes: frozenset[str] | None = None
) -> Judgement:
    """The policy's setting for running ``entry`` with ``raw_input`` (already validated)."""
    key = entry.key
    if entry.kind == "data_sources":
        category, setting = "read", policy.setting("read")
        reason = f"data sources are read, and read is set to {setting}"
    elif key in JUDGED_BY_REQUEST:
        category, setting, reason = _judge_requests(policy, key, raw_input)
    else:
        category = str(entry.get("category", "admin"))
        if key in policy.overrides:
            setting = policy.overrides[key]
            reason = f"{key} is set to {setting}"
        else:
            setting = policy.setting(category)
            reason = f"category {category} is set to {setting}"
    if policy.allowed_permissions and granted_scopes is not None and setting != "disabled":
        missing = missing_permissions(entry, granted_scopes)
        if missing:
            setting = "disabled"
            reason = f"the connection's granted scopes do not cover {', '.join(missing)}"
    return Judgement(key, category, setting, reason)


def visible(policy: Policy, entry: Entry, granted_scopes: frozenset[str] | None = None) -> bool:
    """Whether an agent should see the action at all (not disabled for every input)."""
    if entry.key in JUDGED_BY_REQUEST:
        floor = policy.overrides.get(entry.key, "allow")
        open_any = any(policy.setting(c) != "disabled" for c in CATEGORIES)
        if floor == "disabled" or not open_any:
            return False
        if policy.allowed_permissions and granted_scopes is not None:
            return not missing_permissions(entry, granted_scopes)
        return True
    return judge(policy, entry, {}, granted_scopes).setting != "disabled"


def _judge_requests(policy: Policy, key: str, raw_input: Any) -> tuple[str, str, str]:
    requests = list(requests_of(key, raw_input))
    found = [(classify_request(method, path), f"{method} {short_path(path)}") for method, path in requests]
    if not found:
        found = [("admin", key)]
    category, what = max(found, key=lambda pair: STRICTNESS[policy.setting(pair[0])])
    setting = policy.setting(category)
    reason = f"{what} is {category}, and {category} is set to {setting}"
    override = policy.overrides.get(key)
    if override is not None and STRICTNESS[override] > STRICTNESS[setting]:
        setting, reason = override, f"{key} is set to {override}"
    return category, setting, reason


# -- permissions -------------------------------------------------------------------------------------
_LEVELS = {"readbasic": 0, "read": 1, "readwrite": 2}


def granted_scopes(scope_text: str) -> frozenset[str] | None:
    """The Graph permissions named in a token response's ``scope`` (None when it names none, as with
    client credentials' ``.default``: then nothing is hidden)."""
    names = {s.rsplit("/", 1)[-1].lower() for s in scope_text.split()}
    names = {n for n in names if "." in n and n != ".default"}
    return frozenset(names) or None


def missing_permissions(entry: Entry, granted: frozenset[str]) -> list[str]:
    """The delegated permissions of the entry that no granted scope covers."""
    needed = (entry.get("permissions") or {}).get("delegated") or []
    return [p for p in needed if not any(_covers(g, p.lower()) for g in granted)]


def _covers(granted: str, needed: str) -> bool:
    """``Mail.ReadWrite`` covers ``Mail.Read`` and ``Mail.ReadBasic``; ``.All``/``.Shared`` variants
    cover the plain permission; ``Mail.Send`` only sending."""
    g_parts, n_parts = granted.split("."), needed.split(".")
    if len(g_parts) < 2 or len(n_parts) < 2 or g_parts[0] != n_parts[0]:
        return False
    g_level, n_level = g_parts[1], n_parts[1]
    if n_parts[2:] and n_parts[2:] != g_parts[2:]:
        return False  # a .Shared or .All need is covered only by the same variant
    if g_level == n_level:
        return True
    return g_level in _LEVELS and n_level in _LEVELS and _LEVELS[g_level] > _LEVELS[n_level]


# -- approvals ---------------------------------------------------------------------------------------
class Approval(NamedTuple):
    """A human's permission for one exact call. ``status``: pending, approved, denied or used."""

    id: str
    connection: str
    action: str
    category: str
    input_hash: str
    summary: str
    requested_by: str
    created_at: float
    expires_at: float
    status: str = "pending"
    decided_by: str = ""
    decided_at: float | None = None

    def summary_dict(self) -> dict[str, Any]:
        """What ``approvals list`` shows (never the input itself)."""
        return {
            "id": self.id,
            "connection": self.connection,
            "action": self.action,
            "category": self.category,
            "summary": self.summary,
            "status": self.status,
            "requested_by": self.requested_by,
            "decided_by": self.decided_by,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


def input_hash(connection: str, action: str, raw_input: Any) -> str:
    """SHA-256 of the call's canonical JSON: an approval is for this connection, action and input."""
    text = json.dumps(
        {"connection": connection, "action": action, "input": raw_input},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Verdict(NamedTuple):
    """A call the gate lets through: its judgement and, if it needed one, the approval used."""

    judgement: Judgement
    approval: Approval | None = None


class PolicyGate:
    """Judges calls for the runtime: finds the connection's policy, refuses disabled actions, makes
    pending approvals and spends granted ones. ``policies`` None means one fixed ``policy``;
    ``scopes`` gives a connection's granted Graph permissions (for ``allowed_permissions``)."""

    def __init__(
        self,
        policy: Policy = DEFAULT_POLICY,
        policies: PolicyStore | None = None,
        approvals: ApprovalStore | None = None,
        scopes: Callable[[str], frozenset[str] | None] = lambda name: None,
        clock: Callable[[], float] = time.time,
        ttl: float = APPROVAL_TTL,
        manifest: Manifest | None = None,
    ) -> None:
        self.policy = policy
        self.policies = policies
        self.approvals = approvals
        self.scopes = scopes
        self.clock = clock
        self.ttl = ttl
        self.manifest = manifest

    def policy_for(self, connection: str) -> Policy:
        """The connection's stored policy, else the stored default for it (its tenant's, else the
        host's), else ``policy``."""
        if self.policies is None:
            return self.policy
        data = self.policies.get_policy(connection)
        if data is None:
            data = self.policies.default_policy_for(connection)
        return self.policy if data is None else Policy.from_dict(data, self.manifest)

    def check(
        self,
        entry: Entry,
        raw_input: Any,
        connection: str,
        *,
        approval_id: str | None = None,
        requested_by: str = "",
    ) -> Verdict:
        """Let the call through, or raise PolicyError (disabled, bad approval) / ApprovalRequired."""
        policy = self.policy_for(connection)
        scopes = self.scopes(connection) if policy.allowed_permissions else None
        judgement = judge(policy, entry, raw_input, scopes)
        if judgement.setting == "allow":
            return Verdict(judgement)
        if judgement.setting == "disabled":
            raise PolicyError(
                f"{entry.key} is disabled by the policy of connection {connection!r}"
                f" ({judgement.reason}); `outlook-connector policy show` shows the policy",
                action=entry.key,
                category=judgement.category,
                decision="disabled",
            )
        if self.approvals is None:
            raise ConfigurationError(
                f"{entry.key} needs approval ({judgement.reason}), and approvals need a state store"
            )
        # bound to the stored name: the member who asked and the host (by stored name) see one call
        stored = self.approvals.storage_name(connection)
        digest = input_hash(stored, entry.key, raw_input)
        if approval_id is None:
            raise ApprovalRequired(
                self._request(entry, raw_input, connection, judgement, digest, requested_by)
            )
        return Verdict(judgement, self._spend(approval_id, entry.key, judgement, stored, digest))

    def _request(
        self, entry: Entry, raw_input: Any, connection: str, judgement: Judgement, digest: str, by: str
    ) -> Approval:
        assert self.approvals is not None
        now = self.clock()
        approval = Approval(
            id="apr_" + secrets.token_urlsafe(12),
            connection=connection,
            action=entry.key,
            category=judgement.category,
            input_hash=digest,
            summary=describe_call(entry, raw_input),
            requested_by=by,
            created_at=now,
            expires_at=now + self.ttl,
        )
        self.approvals.add_approval(approval)
        return approval

    def _spend(
        self, approval_id: str, action: str, judgement: Judgement, stored_connection: str, digest: str
    ) -> Approval:
        assert self.approvals is not None
        approval = self.approvals.get_approval(approval_id)
        now = self.clock()

        def refuse(why: str) -> PolicyError:
            return PolicyError(
                f"approval {approval_id} cannot be used: {why}",
                action=action,
                category=judgement.category,
                decision="denied",
            )

        if approval is None:
            raise refuse("there is no such approval")
        same_connection = self.approvals.storage_name(approval.connection) == stored_connection
        if not same_connection or approval.action != action or approval.input_hash != digest:
            raise refuse("it was given for a different call (another action, connection or input)")
        if approval.status == "used":
            raise refuse("it was used already (an approval is good for one run)")
        if approval.status == "denied":
            raise refuse(f"it was denied by {approval.decided_by or 'a person'}")
        if approval.expires_at <= now:
            raise refuse("it has expired")
        if approval.status != "approved":
            raise refuse("nobody has approved it yet")
        if not self.approvals.use_approval(approval_id, now):
            raise refuse("it was used already (an approval is good for one run)")
        return approval._replace(status="used")

    def decide(self, approval_id: str, approve: bool, by: str) -> Approval:
        """A person's answer to a pending approval (CLI, MCP elicitation, an embedding host)."""
        if self.approvals is None:
            raise ConfigurationError("approvals need a state store")
        if not by:
            raise ConfigurationError("an approval must name who decided it")
        decided = self.approvals.decide_approval(
            approval_id, "approved" if approve else "denied", by, self.clock()
        )
        if decided is None:
            current = self.approvals.get_approval(approval_id)
            state = (
                "does not exist"
                if current is None
                else ("has expired" if current.expires_at <= self.clock() else f"is {current.status}")
            )
            raise ConnectorError(f"approval {approval_id} {state}; only a pending approval can be decided")
        return decided
