"""``actions list|describe``, ``run`` and ``data-sources list|run``."""

from __future__ import annotations

from typing import Any

import click

from connector.cli._common import (
    CONNECTION_ENV,
    cli_caller,
    connection_for_run,
    fail,
    known_key,
    load_manifest,
    main,
    print_json,
    read_json_option,
    user_error,
)
from connector.errors import ConnectorError


@main.group()
def actions() -> None:
    """List and describe actions."""


@actions.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def actions_list(as_json: bool) -> None:
    """Every action: key, group, category and label."""
    entries = list(load_manifest().actions.values())
    if as_json:
        print_json([{k: e[k] for k in ("key", "label", "group", "category")} for e in entries])
        return
    width = max(len(e.key) for e in entries)
    for entry in sorted(entries, key=lambda e: (e["group"], e.key)):
        click.echo(f"{entry.key:<{width}}  {entry['group']:<14} {entry['category']:<10} {entry['label']}")
    click.echo(f"{len(entries)} actions", err=True)


@actions.command("describe")
@click.argument("key")
def actions_describe(key: str) -> None:
    """An action's manifest entry with its input and output schemas."""
    from connector.export import export_entry

    manifest = load_manifest()
    try:
        print_json(export_entry(manifest.action(known_key("action", key, manifest.actions, "actions list"))))
    except ConnectorError as exc:
        fail(exc)


def run_options(command: Any) -> Any:
    """The options of ``run`` and ``data-sources run``: input, connection, mailbox, sandbox."""
    options = [
        click.argument("key"),
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
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.command()
@run_options
@click.option(
    "--example",
    is_flag=True,
    help="Run the action's example input (from the manifest) on a sandbox started on the spot.",
)
@click.option("--approval", help="The id of an approval a person granted for this exact call.")
def run(
    key: str,
    input_json: str | None,
    connection_name: str | None,
    user_id: str | None,
    use_sandbox: bool,
    example: bool,
    approval: str | None,
) -> None:
    """Run action KEY and print its output as JSON (under the connection's policy)."""
    if example and (input_json is not None or connection_name is not None):
        user_error("--example runs on a sandbox started on the spot; drop --input and --connection")
    run_entry("actions", key, input_json, connection_name, user_id, use_sandbox or example, example, approval)


def run_entry(
    section: str,
    key: str,
    input_json: str | None,
    connection_name: str | None,
    user_id: str | None,
    use_sandbox: bool,
    example: bool = False,
    approval: str | None = None,
) -> None:
    """Run an action or a data source on the chosen connection (or a sandbox) and print its output.

    ``example``: the input is the action's manifest example, whose placeholders (``{first_message_id}``)
    name objects of the freshly seeded sandbox.
    """
    from connector.runtime import Runtime

    manifest = load_manifest()
    if section == "actions":  # an unknown key fails before any set-up
        known_key("action", key, manifest.actions, "actions list")
    else:
        known_key("data source", key, manifest.data_sources, "data-sources list")
    raw_input = read_json_option(input_json, "--input")
    try:
        runtime = Runtime(manifest, caller=cli_caller())
        with connection_for_run(connection_name, use_sandbox) as (connection, store):
            runtime.store = store
            if example:
                from connector.examples import fill, placeholders

                raw_input = fill(
                    runtime.manifest.action(key)["example_input"], placeholders(runtime, connection)
                )
            try:
                if section == "actions":
                    result = runtime.run_action(
                        key, raw_input, connection, user_id=user_id, approval=approval
                    )
                else:
                    result = runtime.run_data_source(key, raw_input, connection, user_id=user_id)
            finally:
                runtime.close()
    except ConnectorError as exc:
        fail(exc)
    print_json(result)


@main.group("data-sources")
def data_sources() -> None:
    """List and run data sources (the options of a builder's dropdowns)."""


@data_sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def data_sources_list(as_json: bool) -> None:
    """Every data source: key and label."""
    entries = list(load_manifest().data_sources.values())
    if as_json:
        print_json([{k: e[k] for k in ("key", "label", "description")} for e in entries])
        return
    width = max((len(e.key) for e in entries), default=0)
    for entry in sorted(entries, key=lambda e: e.key):
        click.echo(f"{entry.key:<{width}}  {entry['label']}")
    click.echo(f"{len(entries)} data sources", err=True)


@data_sources.command("run")
@run_options
def data_sources_run(
    key: str, input_json: str | None, connection_name: str | None, user_id: str | None, use_sandbox: bool
) -> None:
    """One page of data source KEY's options, as JSON; pass its next_cursor back as "cursor" in --input."""
    run_entry("data_sources", key, input_json, connection_name, user_id, use_sandbox)
