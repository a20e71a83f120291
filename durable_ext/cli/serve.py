"""``start`` (serve an app directory like ``func start``) and ``delete-task-hub`` / ``delete-hub``.

Configuration and app-loading errors print one clear line and exit with status 2.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import click

from durable_ext.cli.hub import CliUsageError, HubTarget, app_dir_option, hub_options, open_config, run_on_hub
from durable_ext.cli.output import progress
from durable_ext.client import DurableClient
from durable_ext.errors import DurableExtError


@click.command()
@app_dir_option()
@click.option("--port", type=int, default=None, help="HTTP port (default: Host.LocalHttpPort or 7071).")
@click.option("--host", default=None, help="Bind address (default: 127.0.0.1).")
@click.option(
    "--auth",
    type=click.Choice(["auto", "on", "off"]),
    default=None,
    help="Require function keys: auto (default) = only when bound beyond loopback; also DURABLE_EXT_AUTH.",
)
@click.option("--verbose", is_flag=True, help="Debug logging.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Console log lines: text (func start style, default) or json (one object per line with "
    "instance_id, function_name, invocation_id); also DURABLE_EXT_LOG_FORMAT.",
)
def start(
    app_dir: Path, port: int | None, host: str | None, auth: str | None, verbose: bool, log_format: str | None
) -> int:
    """Serve a function app directory (like `func start`)."""
    from durable_ext.config import load_config
    from durable_ext.host import Host
    from durable_ext.log import FORMAT_SETTING, configure_console, parse_format

    level = logging.DEBUG if verbose else logging.INFO
    try:
        chosen = log_format or parse_format(os.environ.get(FORMAT_SETTING))
    except ValueError as exc:
        raise CliUsageError(str(exc)) from None
    configure_console(level, log_format=chosen)
    try:
        config = load_config(app_dir.resolve(), port=port, host=host)
        if log_format is None and FORMAT_SETTING not in os.environ and FORMAT_SETTING in config.values:
            # Set in local.settings.json Values: known only now.
            try:
                chosen = parse_format(config.values[FORMAT_SETTING], f"local.settings.json Values.{FORMAT_SETTING}")
            except ValueError as exc:
                raise CliUsageError(str(exc)) from None
            configure_console(level, log_format=chosen)
        from durable_ext.auth import AuthMode

        asyncio.run(Host(config, auth_mode=AuthMode(auth) if auth else None).run())
    except DurableExtError as exc:
        raise CliUsageError(str(exc)) from None
    return 0


@hub_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def delete_task_hub(target: HubTarget, yes: bool) -> int:
    """Delete the task hub and everything in it (instances, history, queues)."""
    config = open_config(target)
    if not yes and not click.confirm(f"Delete task hub '{config.hub_name}' and all its instances?", err=True):
        click.echo("Nothing deleted.", err=True)
        return 1

    async def delete(client: DurableClient) -> None:
        with progress(f"Deleting task hub '{config.hub_name}'", None):
            await client.provider.delete_hub()

    run_on_hub(target, delete)
    click.echo(f"Task hub '{config.hub_name}' deleted.")
    return 0


def register(group: click.Group) -> None:
    group.add_command(start)
    command = click.command("delete-task-hub")(delete_task_hub)
    group.add_command(command)
    # The name this command had before it took func durable's.
    group.add_command(
        click.Command("delete-hub", params=command.params, callback=command.callback, help=command.help, hidden=True)
    )
