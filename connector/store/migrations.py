"""The schema's versions, written once for both backends.

Each statement names its column types by role (``{float}``, ``{bytes}``, ``{bigint}``, ``{serial}``,
``{without_rowid}``, ``{unlogged}``), filled in per dialect by ``for_dialect``; a ``(dialect, sql)`` pair is a
statement only that dialect runs. Append new versions here: both backends then migrate alike.
"""

from __future__ import annotations

from typing import Any, Protocol

Migration = tuple[int, str, tuple[str, ...]]
"""(version, description, SQL statements) applied in one transaction."""

Statement = str | tuple[str, str]

_SEP = "\x1f"
"""``records.TENANT_SEPARATOR`` (written here as migration 7 wrote it, whatever may change later)."""

DIALECT_TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "float": "REAL",
        "bytes": "BLOB",
        "bigint": "INTEGER",
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "without_rowid": " WITHOUT ROWID",
        "unlogged": "",
    },
    "postgresql": {
        "float": "DOUBLE PRECISION",
        "bytes": "BYTEA",
        "bigint": "BIGINT",
        "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "without_rowid": "",
        "unlogged": "UNLOGGED ",
    },
}

SCHEMA: tuple[tuple[int, str, tuple[Statement, ...]], ...] = (
    (
        1,
        "connections with encrypted secrets and tokens; key-value table; key check",
        (
            """CREATE TABLE connections (
                name TEXT PRIMARY KEY,
                type_key TEXT NOT NULL,
                config TEXT NOT NULL,
                secrets {bytes},
                tokens {bytes},
                created_at {float} NOT NULL,
                updated_at {float} NOT NULL,
                tokens_updated_at {float},
                last_success_at {float},
                last_error TEXT,
                last_error_at {float}
            )""",
            """CREATE TABLE kv (
                namespace TEXT NOT NULL,
                key TEXT NOT NULL,
                value {bytes} NOT NULL,
                encrypted INTEGER NOT NULL DEFAULT 0,
                updated_at {float} NOT NULL,
                expires_at {float},
                PRIMARY KEY (namespace, key)
            ){without_rowid}""",
            "CREATE INDEX kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL",
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value {bytes} NOT NULL){without_rowid}",
        ),
    ),
    (
        2,
        "trigger instances (encrypted clientState and secrets); durable notification queue; delivered keys",
        (
            """CREATE TABLE trigger_instances (
                id TEXT PRIMARY KEY,
                trigger_key TEXT NOT NULL,
                connection_name TEXT NOT NULL,
                config TEXT NOT NULL,
                client_state {bytes} NOT NULL,
                state TEXT NOT NULL,
                secrets {bytes} NOT NULL,
                status TEXT NOT NULL,
                created_at {float} NOT NULL,
                updated_at {float} NOT NULL,
                last_success_at {float},
                last_error TEXT,
                last_error_at {float}
            )""",
            """CREATE TABLE trigger_queue (
                seq {serial},
                instance_id TEXT NOT NULL REFERENCES trigger_instances (id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                item TEXT NOT NULL,
                received_at {float} NOT NULL,
                available_at {float} NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                claimed_by TEXT,
                last_error TEXT
            )""",
            "CREATE INDEX trigger_queue_available_at ON trigger_queue (available_at, seq)",
            ("postgresql", "CREATE INDEX trigger_queue_instance ON trigger_queue (instance_id)"),
            """CREATE TABLE trigger_delivered (
                instance_id TEXT NOT NULL,
                dedupe_key TEXT NOT NULL,
                delivered_at {float} NOT NULL,
                PRIMARY KEY (instance_id, dedupe_key)
            ){without_rowid}""",
            "CREATE INDEX trigger_delivered_at ON trigger_delivered (delivered_at)",
        ),
    ),
    (
        3,
        "how much of each receiver inbox segment has been moved into the queue",
        (  # on PostgreSQL receivers write to the queue directly; the table keeps the versions equal
            """CREATE TABLE trigger_inbox (
                segment TEXT PRIMARY KEY,
                moved_bytes {bigint} NOT NULL
            ){without_rowid}""",
        ),
    ),
    (
        4,
        "leases: one worker at a time renews or catches up a trigger instance",
        (
            """CREATE TABLE trigger_leases (
                name TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                expires_at {float} NOT NULL
            ){without_rowid}""",
        ),
    ),
    (
        5,
        "policies by connection; approvals (sealed summaries); the audit log",
        (
            """CREATE TABLE policies (
                connection_name TEXT PRIMARY KEY,
                policy TEXT NOT NULL,
                updated_at {float} NOT NULL
            )""",
            """CREATE TABLE approvals (
                id TEXT PRIMARY KEY,
                connection_name TEXT NOT NULL,
                action TEXT NOT NULL,
                category TEXT NOT NULL,
                input_hash TEXT NOT NULL,
                summary {bytes} NOT NULL,
                requested_by TEXT NOT NULL,
                created_at {float} NOT NULL,
                expires_at {float} NOT NULL,
                status TEXT NOT NULL,
                decided_by TEXT NOT NULL DEFAULT '',
                decided_at {float}
            )""",
            "CREATE INDEX approvals_expires_at ON approvals (expires_at)",
            """CREATE TABLE audit_log (
                seq {serial},
                at {float} NOT NULL,
                caller TEXT NOT NULL,
                principal TEXT NOT NULL,
                connection_name TEXT NOT NULL,
                mailbox TEXT NOT NULL,
                action TEXT NOT NULL,
                category TEXT NOT NULL,
                decision TEXT NOT NULL,
                outcome TEXT NOT NULL,
                approved_by TEXT NOT NULL,
                approval_id TEXT NOT NULL,
                error TEXT NOT NULL,
                request_id TEXT NOT NULL,
                recipients INTEGER NOT NULL
            )""",
            "CREATE INDEX audit_log_at ON audit_log (at)",
            "CREATE INDEX audit_log_connection_at ON audit_log (connection_name, at)",
        ),
    ),
    (
        6,
        "tenant, owner and scope (personal or organization) of connections and trigger instances",
        (
            "ALTER TABLE connections ADD COLUMN tenant TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE connections ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE connections ADD COLUMN scope TEXT NOT NULL DEFAULT 'organization'",
            "CREATE INDEX connections_tenant ON connections (tenant, owner)",
            "ALTER TABLE trigger_instances ADD COLUMN tenant TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE trigger_instances ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE trigger_instances ADD COLUMN scope TEXT NOT NULL DEFAULT 'organization'",
            "CREATE INDEX trigger_instances_tenant ON trigger_instances (tenant, owner)",
        ),
    ),
    (
        7,
        "connection names unique per tenant: a tenant's connections are kept as tenant U+001F name",
        (  # what names a tenant's connection follows it; then the connections; their seals: RESEAL_FLAG
            *(
                f"UPDATE {table} SET {column} = (SELECT c.tenant || '{_SEP}' || c.name FROM connections c"
                f" WHERE c.name = {table}.{column}) WHERE {where}{column} IN"
                " (SELECT name FROM connections WHERE tenant <> '')"
                for table, column, where in (
                    ("trigger_instances", "connection_name", ""),
                    ("policies", "connection_name", ""),
                    ("approvals", "connection_name", ""),
                    ("audit_log", "connection_name", ""),
                    ("kv", "key", "namespace = 'connection-account' AND encrypted = 0 AND "),
                )
            ),
            # an instance of a tenant naming no connection (deleted): its tenant's, if recreated
            f"UPDATE trigger_instances SET connection_name = tenant || '{_SEP}' || connection_name"
            f" WHERE tenant <> '' AND connection_name NOT LIKE '%{_SEP}%'",
            *(
                (
                    dialect,
                    f"INSERT INTO meta (key, value) SELECT 'reseal_tenant_names', {empty} WHERE EXISTS"
                    " (SELECT 1 FROM connections WHERE tenant <> '' AND (secrets IS NOT NULL"
                    " OR tokens IS NOT NULL))",
                )
                for dialect, empty in (("sqlite", "X''"), ("postgresql", "''::bytea"))
            ),
            f"UPDATE connections SET name = tenant || '{_SEP}' || name WHERE tenant <> ''",
        ),
    ),
    (
        8,
        "graph_slots: Graph's concurrent requests per app + mailbox, leased across processes",
        (  # UNLOGGED on PostgreSQL: a slot lives seconds, so no WAL flush per take and give back
            """CREATE {unlogged}TABLE graph_slots (
                name TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                expires_at {float} NOT NULL
            ){without_rowid}""",
        ),
    ),
    (
        9,
        "trigger events sealed in the transaction that marks them delivered (the outbox a host reads)",
        (
            """CREATE TABLE trigger_events (
                seq {serial},
                instance_id TEXT NOT NULL,
                dedupe_key TEXT NOT NULL,
                event {bytes} NOT NULL,
                created_at {float} NOT NULL
            )""",
            "CREATE INDEX trigger_events_created_at ON trigger_events (created_at)",
            "CREATE INDEX trigger_events_instance ON trigger_events (instance_id, seq)",
        ),
    ),
)


def for_dialect(dialect: str) -> tuple[Migration, ...]:
    """``SCHEMA`` as ``dialect`` (``sqlite`` or ``postgresql``) runs it."""
    types = DIALECT_TYPES[dialect]
    rendered: list[Migration] = []
    for version, description, statements in SCHEMA:
        sql = []
        for statement in statements:
            if isinstance(statement, tuple):
                only, statement = statement
                if only != dialect:
                    continue
            sql.append(statement.format(**types))
        rendered.append((version, description, tuple(sql)))
    return tuple(rendered)


class _Executes(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


def apply_pending(
    db: _Executes, migrations: tuple[Migration, ...], current: int, applied_at: float
) -> int:
    """Run the migrations newer than ``current`` in ``db``'s open transaction, recording each in
    ``schema_migrations`` (``?`` placeholders, as every backend takes); the version reached."""
    for version, description, statements in migrations:
        if version <= current:
            continue
        for statement in statements:
            db.execute(statement)
        db.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
            (version, description, applied_at),
        )
        current = version
    return current
