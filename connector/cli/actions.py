"""``actions list|describe``, ``run`` and ``data-sources list|run``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from connector.cli._common import (
    CONNECTION_ENV,
    cli_caller,
    complete_keys,
    connection_for_run,
    fail,
    fewer_gc_passes,
    known_key,
    load_manifest,
    main,
    print_json,
    print_table,
    read_json_option,
    user_error,
)
from connector.errors import ConnectorError

F = TypeVar("F", bound=Callable[..., Any])


@main.group()
def actions() -> None:
    """List and describe actions."""


@actions.command("list")
@click.option("--group", "-g", "groups", multiple=True, help="Only actions of this group (repeatable).")
@click.option(
    "--category", "categories", multiple=True, help="Only actions of this permission category (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def actions_list(groups: tuple[str, ...], categories: tuple[str, ...], as_json: bool) -> None:
    """Every action (or those of --group / --category): key, group, category and label."""
    entries = list(load_manifest().actions.values())
    for option, chosen, field in (("--group", groups, "group"), ("--category", categories, "category")):
        known = sorted({e[field] for e in entries})
        unknown = [value for value in chosen if value not in known]
        if unknown:
            raise click.BadParameter(
                f"unknown {field} {unknown[0]!r} (one of: {', '.join(known)})", param_hint=option
            )
        if chosen:
            entries = [e for e in entries if e[field] in chosen]
    if as_json:
        print_json([{k: e[k] for k in ("key", "label", "group", "category")} for e in entries])
        return
    rows = [
        [e.key, e["group"], e["category"], e["label"]]
        for e in sorted(entries, key=lambda e: (e["group"], e.key))
    ]
    print_table(["KEY", "GROUP", "CATEGORY", "LABEL"], rows)
    click.echo(f"{len(entries)} actions; `outlook-connector actions describe KEY` shows one", err=True)


@actions.command("describe")
@click.argument("key", shell_complete=complete_keys("actions"))
@click.option("--json", "as_json", is_flag=True, help="The manifest entry with its schemas, as JSON.")
def actions_describe(key: str, as_json: bool) -> None:
    """Action KEY: its inputs (name, type, required, default, description) and an example input."""
    from connector.cli._describe import describe

    manifest = load_manifest()
    try:
        describe(manifest.action(known_key("action", key, manifest.actions, "actions list")), as_json)
    except ConnectorError as exc:
        fail(exc)


def run_options(section: str) -> Callable[[F], F]:
    """The options of ``run`` and ``data-sources run``: input, connection, mailbox, sandbox."""

    def decorate(command: F) -> F:
        return cast(F, _with_run_options(command, section))

    return decorate


def _with_run_options(command: Any, section: str) -> Any:
    options = [
        click.argument("key", shell_complete=complete_keys(section)),
        click.option("--input", "-i", "input_json", help="Input JSON, or @file.json (@- for stdin)."),
        click.option(
            "--connection",
            "-c",
            "connection_name",
            help=f"Connection name (default: ${CONNECTION_ENV}, the only one, or a sandbox).",
        ),
        click.option("--user-id", help="Act on this mailbox (UPN or id): a shared mailbox or another user."),
        click.option(
            "--sandbox", "use_sandbox", is_flag=True, help="Run against a sandbox started on the spot."
        ),
        click.option(
            "--dry-run", is_flag=True, help="Show the (first) Graph request it would send, and send nothing."
        ),
        click.option(
            "--verbose", "-v", is_flag=True, help="Trace each HTTP request and answer on stderr (no secrets)."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command()
@run_options("actions")
@click.option(
    "--example",
    is_flag=True,
    help="Run the action's example input (from the manifest) on a sandbox started on the spot.",
)
@click.option(
    "--attach",
    "attach_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Add this file to the input's attachments (repeatable).",
)
@click.option(
    "--save",
    "save_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write attachment and MIME content of the output into this directory (the output names the files).",
)
@click.option("--approval", help="The id of an approval a person granted for this exact call.")
def run(
    key: str,
    input_json: str | None,
    connection_name: str | None,
    user_id: str | None,
    use_sandbox: bool,
    dry_run: bool,
    verbose: bool,
    example: bool,
    attach_paths: tuple[Path, ...],
    save_dir: Path | None,
    approval: str | None,
) -> None:
    """Run action KEY and print its output as JSON (under the connection's policy)."""
    if example and (input_json is not None or connection_name is not None):
        user_error("--example runs on a sandbox started on the spot; drop --input and --connection")
    options = RunOptions(use_sandbox or example, dry_run, verbose, example, attach_paths, save_dir, approval)
    run_entry("actions", key, input_json, connection_name, user_id, options)


@dataclass(frozen=True)
class RunOptions:
    use_sandbox: bool = False
    dry_run: bool = False
    verbose: bool = False
    example: bool = False
    attach: tuple[Path, ...] = ()
    save: Path | None = None
    approval: str | None = None


@fewer_gc_passes()
def run_entry(
    section: str,
    key: str,
    input_json: str | None,
    connection_name: str | None,
    user_id: str | None,
    options: RunOptions,
) -> None:
    """Run an action or a data source on the chosen connection (or a sandbox) and print its output.

    ``options.example``: the input is the action's manifest example, whose placeholders
    (``{first_message_id}``) name objects of the freshly seeded sandbox; the input is printed first.
    """
    from connector.runtime import Runtime

    stop: type[Exception] | tuple[()] = ()  # what a dry run raises instead of sending (else nothing)
    if options.dry_run:
        from connector.cli._http_trace import DryRunStop

        stop = DryRunStop

    manifest = load_manifest()
    if section == "actions":  # an unknown key fails before any set-up
        known_key("action", key, manifest.actions, "actions list")
    else:
        known_key("data source", key, manifest.data_sources, "data-sources list")
    raw_input = read_json_option(input_json, "--input")
    try:
        entry = manifest.action(key) if section == "actions" else manifest.data_sources[key]
        if options.attach:
            from connector.cli._files import attach

            raw_input = attach(entry.schema("input_schema"), raw_input, options.attach)
        with connection_for_run(connection_name, options.use_sandbox) as (connection, store):
            runtime = Runtime(
                manifest, store=store, transport=_transport(connection, options), caller=cli_caller()
            )
            if options.example:
                from connector.examples import fill, placeholders

                with Runtime(manifest, store=store) as lookup:  # not traced, never a dry run
                    raw_input = fill(entry["example_input"], placeholders(lookup, connection))
                click.echo("input: " + json.dumps(raw_input, ensure_ascii=False), err=True)
            try:
                if section == "actions":
                    result = runtime.run_action(
                        key, raw_input, connection, user_id=user_id, approval=options.approval
                    )
                else:
                    result = runtime.run_data_source(key, raw_input, connection, user_id=user_id)
            finally:
                runtime.close()
    except stop as stopped:
        print_json({"dry_run": True, "request": getattr(stopped, "request", None)})
        click.echo(
            "dry run: nothing was sent; this is the first Graph request, later ones depend on its answer",
            err=True,
        )
        return
    except ConnectorError as exc:
        fail(exc)
    if options.save is not None:
        from connector.cli._files import save

        result, written = save(result, options.save)
        for path in written:
            click.echo(f"saved {path}", err=True)
    print_json(result)


def _transport(connection: Any, options: RunOptions) -> Any:
    """The HTTP transport of the run: none of its own, a dry run's, or a tracing one."""
    if options.dry_run:
        from connector.cli._http_trace import DryRunTransport

        return DryRunTransport(connection.graph_base_url)
    if options.verbose:
        from connector.cli._http_trace import TracingTransport

        return TracingTransport(connection.graph_base_url)
    return None


@main.group("data-sources")
def data_sources() -> None:
    """List and run data sources (the options of a builder's dropdowns)."""


@data_sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_sources_list(as_json: bool) -> None:
    """Every data source: key, label and the inputs it fills."""
    manifest = load_manifest()
    entries = list(manifest.data_sources.values())
    if as_json:
        print_json([{k: e[k] for k in ("key", "label", "description")} for e in entries])
        return
    fills: dict[str, set[str]] = {}
    for section in ("actions", "triggers"):
        for entry in manifest.sections[section].values():
            for name, source in (entry.get("data_sources") or {}).items():
                fills.setdefault(source, set()).add(name)
    rows = [
        [e.key, e["label"], ", ".join(sorted(fills.get(e.key, ())))]
        for e in sorted(entries, key=lambda e: e.key)
    ]
    print_table(["KEY", "LABEL", "FILLS"], rows)
    click.echo(
        f"{len(entries)} data sources; `outlook-connector data-sources describe KEY` shows one", err=True
    )


@data_sources.command("describe")
@click.argument("key", shell_complete=complete_keys("data_sources"))
@click.option("--json", "as_json", is_flag=True, help="The manifest entry with its schemas, as JSON.")
def data_sources_describe(key: str, as_json: bool) -> None:
    """Data source KEY: its inputs and an example input."""
    from connector.cli._describe import describe

    manifest = load_manifest()
    try:
        describe(
            manifest.data_sources[known_key("data source", key, manifest.data_sources, "data-sources list")],
            as_json,
        )
    except ConnectorError as exc:
        fail(exc)


@data_sources.command("run")
@run_options("data_sources")
def data_sources_run(
    key: str,
    input_json: str | None,
    connection_name: str | None,
    user_id: str | None,
    use_sandbox: bool,
    dry_run: bool,
    verbose: bool,
) -> None:
    """One page of data source KEY's options, as JSON; pass its next_cursor back as "cursor" in --input."""
    options = RunOptions(use_sandbox=use_sandbox, dry_run=dry_run, verbose=verbose)
    run_entry("data_sources", key, input_json, connection_name, user_id, options)
