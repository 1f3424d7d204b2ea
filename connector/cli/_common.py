"""What every command group shares: the root group, error and JSON output, the store, the runtime
and the connection a command runs on.

Exit codes: 0 success, 2 invalid input (or usage), 1 any other failure. Output JSON goes to
stdout, messages to stderr. Heavy modules (Flask, authlib, the sandbox) are imported only by the
commands that need them, to keep ``run`` quick to start.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from connector.errors import ConnectorError, InputValidationError

if TYPE_CHECKING:
    from connections.base import Connection
    from connector.audit import Caller
    from connector.manifest import Manifest
    from connector.runtime import Runtime
    from connector.store import Store

CONNECTION_ENV = "OUTLOOK_CONNECTOR_CONNECTION"
SANDBOX_CONNECTION = "sandbox"
"""The name of the connection to a sandbox started on the spot."""
PUBLIC_URL_ENV = "OUTLOOK_CONNECTOR_PUBLIC_URL"


class OneLineErrors(click.Group):
    """The root group: a command-line mistake (unknown command or option, missing argument, bad
    value) is one line naming it and exit 2, instead of click's usage block."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as exc:
            user_error(" ".join(exc.format_message().split()))
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)


class LazyGroup(OneLineErrors):
    """The root group: a command's modules are imported when it runs (or help lists it), so ``run``
    does not pay for every other command. ``LAZY_COMMANDS`` maps a top-level command to the
    modules that register it and its subcommands; a module imported elsewhere registers itself."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            import importlib

            for module in LAZY_COMMANDS[cmd_name]:
                importlib.import_module(module)
        return super().get_command(ctx, cmd_name)


_TRIGGERS = ("connector.cli.triggers", "connector.cli.polling", "connector.cli.sync")
LAZY_COMMANDS: dict[str, tuple[str, ...]] = {
    "actions": ("connector.cli.actions",),
    "run": ("connector.cli.actions",),
    "data-sources": ("connector.cli.actions",),
    "connect": ("connector.cli.connections",),
    "connections": ("connector.cli.connections",),
    "docs": ("connector.cli.docs",),
    "manifest": ("connector.cli.manifest",),
    "policy": ("connector.cli.agents",),
    "approvals": ("connector.cli.agents",),
    "audit": ("connector.cli.agents",),
    "mcp": ("connector.cli.agents",),
    "sandbox": ("connector.cli.sandbox",),
    "serve": ("connector.cli.triggers",),
    "triggers": _TRIGGERS,
    "ui": ("connector.cli.ui",),
}


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="outlook-connector")
@click.option(
    "--store",
    "store_location",
    metavar="URL|PATH",
    help="The state store: a postgresql:// URL or a SQLite file (default $OUTLOOK_CONNECTOR_STORE,"
    " else $OUTLOOK_CONNECTOR_HOME/state.db). Prefer the variable for a URL with a password.",
)
def main(store_location: str | None) -> None:
    """Run Microsoft Outlook (Graph) actions and triggers locally, or serve the Graph sandbox."""
    # This process uses no pydantic plugins; looking them up (entry points) costs a quick start ~7 ms.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if store_location:
        os.environ["OUTLOOK_CONNECTOR_STORE"] = store_location  # read by Store()


def fail(error: ConnectorError) -> NoReturn:
    """Print a connector error (each field error on its own line) and exit with its code."""
    if isinstance(error, InputValidationError):
        click.echo(f"error: {error.message.partition(':')[0]}:", err=True)
        for field_error in error.errors:
            click.echo(f"  {field_error}", err=True)
    else:
        click.echo(f"error: {error.message}", err=True)
    sys.exit(error.exit_code)


def user_error(message: str) -> NoReturn:
    """A mistake in the command line (a file, a URL, a key, options): one line, exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'list_messages'?"`` for the nearest choice, or ``""`` when none is near."""
    import difflib

    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {near[0]!r}?" if near else ""


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def read_json_option(value: str | None, what: str) -> Any:
    """``'{"a": 1}'`` or ``@file.json`` (``@-`` for stdin) -> parsed JSON."""
    if value is None:
        return {}
    text = value
    if value.startswith("@"):
        source = value[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            user_error(f"{what} @{source}: cannot read it ({_reason(exc)})")
    try:
        return json.loads(text)
    except ValueError as exc:
        user_error(f"{what} is not valid JSON: {exc}")


def read_file_option(path: str, what: str) -> str:
    """The text of the file an option names; a file that cannot be read is a user error."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        user_error(f"{what} {path}: cannot read it ({_reason(exc)})")


def listen_error(what: str, exc: OSError) -> NoReturn:
    """A server that cannot listen where the options say (port in use, bad address): a user error."""
    reason = os.strerror(exc.errno).lower() if exc.errno else _reason(exc)
    user_error(f"{what}: cannot listen there ({reason})")


def _reason(exc: BaseException) -> str:
    """A short reason for a file error: "no such file", "is a directory"..."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def write_text_option(path: str, text: str, what: str) -> None:
    """Write ``text`` to the file an option names; a path that cannot be written is a user error."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        user_error(f"{what} {path}: cannot write it ({_reason(exc)})")


def known_key(kind: str, key: str, keys: Iterable[str], listing: str | None = None) -> str:
    """``key`` if it is one of ``keys``; else a user error naming the nearest one and where to find
    them all (the ``listing`` command, or the keys themselves)."""
    keys = list(keys)
    if key not in keys:
        known = ", ".join(sorted(keys))
        where = f"`outlook-connector {listing}` lists them" if listing else f"known: {known}"
        user_error(f"unknown {kind} {key!r}{did_you_mean(key, keys)}; {where}")
    return key


def shown_name(name: str) -> str:
    """A connection's name in a table: a tenant's (as the host's store names it, tenant U+001F
    name) as ``NAME (tenant TENANT)``; JSON output keeps the exact name."""
    from connector.store import split_stored_name

    tenant, plain = split_stored_name(name)
    return f"{plain} (tenant {tenant})" if tenant else name


def known_connection(store: Store, name: str) -> str:
    """``name`` if a connection of that name is saved; else a user error naming the nearest one."""
    if store.connection_revision(name) is None:
        names = [record.name for record in store.list_connections()]
        hint = did_you_mean(name, names) or (f"; saved: {', '.join(names)}" if names else "")
        user_error(f"no connection named {name!r}{hint}; `outlook-connector connect {name} ...` creates it")
    return name


def complete_keys(section: str) -> Any:
    """A ``shell_complete`` callback offering the manifest keys of ``section`` (shell completion)."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        from click.shell_completion import CompletionItem

        try:
            entries = load_manifest().sections[section].values()
        except ConnectorError:
            return []
        return [
            CompletionItem(entry.key, help=entry["label"])
            for entry in entries
            if entry.key.startswith(incomplete)
        ]

    return complete


def iso(epoch: float | None) -> str | None:
    """Epoch seconds -> ISO 8601 UTC (``2026-11-02T09:00:00Z``); None stays None."""
    if epoch is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """Rows under a header line, columns padded to their widest cell (the last one is not)."""
    cells = [[("" if value is None else str(value)) for value in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    for row in [headers, *cells]:
        padded = [value.ljust(width) for value, width in zip(row[:-1], widths[:-1], strict=True)]
        click.echo("  ".join([*padded, row[-1]]).rstrip())


def load_manifest() -> Manifest:
    from connector.manifest import load_manifest as load

    return load()


def open_store() -> Store:
    from connector.store import Store

    return Store()


def runtime_for(store: Store) -> Runtime:
    from connector.runtime import Runtime

    return Runtime(load_manifest(), store=store, caller=cli_caller())


def cli_caller() -> Caller:
    """The CLI as the audit log names it: ``cli`` and the operating-system user."""
    import getpass

    from connector.audit import Caller

    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = ""
    return Caller("cli", user)


@contextlib.contextmanager
def connection_for_run(
    name: str | None, use_sandbox: bool, *, sandbox_in_store: bool = False
) -> Iterator[tuple[Connection, Store]]:
    """The named connection (default: $OUTLOOK_CONNECTOR_CONNECTION, the only one) with its store,
    or a sandbox started on the spot when there is none or ``use_sandbox`` (``sandbox_in_store``:
    its connection saved in the user's store, for commands whose trigger instances live there)."""
    if use_sandbox and sandbox_in_store:
        with ephemeral_sandbox(open_store()) as pair:
            yield pair
        return
    name = name or os.environ.get(CONNECTION_ENV)
    if not use_sandbox:
        store = open_store()
        if name is None:
            names = [record.name for record in store.list_connections()]
            if len(names) > 1:
                raise ConnectorError(
                    f"several connections are configured ({', '.join(names)}); choose one with --connection"
                )
            name = names[0] if names else None
        if name is not None:
            from connections.registry import load_connection

            yield load_connection(store, known_connection(store, name)), store
            return
    with ephemeral_sandbox() as pair:
        yield pair


@contextlib.contextmanager
def ephemeral_sandbox(
    store: Store | None = None, preset: str | None = "open"
) -> Iterator[tuple[Connection, Store]]:
    """A sandbox started on the spot with a delegated connection to it: in a throw-away store
    whose default policy is ``preset`` (``open``: the sandbox is nobody's mailbox; None: the
    built-in default, as ``mcp --sandbox`` shows agents), or (``store``) saved as connection
    "sandbox" of that store, which ``triggers list`` then shows with its instances; that
    connection is forgotten at the end unless an instance still uses it."""
    import tempfile

    from connections.sandbox import sandbox_connection, sandbox_info
    from connector.policy import PRESETS
    from connector.store import Store
    from sandbox.config import SandboxConfig
    from sandbox.server import SandboxServer

    local = SandboxConfig(http_notification_urls=True)  # a local receiver may be http
    with tempfile.TemporaryDirectory(prefix="outlook-connector-") as home, SandboxServer(local) as server:
        info = sandbox_info(server.url)
        click.echo(
            f"note: running against a Graph sandbox started on the spot at {server.url}/v1.0,"
            f" signed in as {info['default_user']} (seeded users: {', '.join(info['users'])})",
            err=True,
        )
        own = store is None
        used = Store(Path(home) / "state.db") if store is None else store
        if own and preset is not None:
            used.set_policy(None, PRESETS[preset].to_dict())
        name = SANDBOX_CONNECTION
        if not own and any(record.name == name for record in used.list_connections()):
            name = f"{SANDBOX_CONNECTION}-{server.url.rsplit(':', 1)[1]}"  # keep the user's own "sandbox"
        try:
            yield sandbox_connection(used, server.url, "delegated", name=name), used
        finally:
            if own:
                used.close()
            elif not any(i.connection_name == name for i in used.list_trigger_instances()):
                used.delete_connection(name)


OWN_PROCESS = False
"""True when the CLI is the process (``connector.cli.entry``), which ends with the command."""


@contextlib.contextmanager
def fewer_gc_passes(young: int = 100_000) -> Iterator[None]:
    """Look for reference cycles every ``young`` new objects (instead of Python's 700) while a
    one-shot command runs. Starting a run (imports, validators, the manifest) creates ~60k objects
    that live until the end and leaves almost no garbage; the default passes over them are ~5% of
    a cold ``run``. Cycles are still collected, in larger batches. Restored afterwards unless the
    process ends with the command (restoring would sweep every object the run made at once)."""
    before = gc.get_threshold()
    gc.set_threshold(young, *before[1:])
    try:
        yield
    finally:
        if not OWN_PROCESS:
            gc.set_threshold(*before)


@contextlib.contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM ends the command like Ctrl-C (so instances are cleaned up)."""
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
