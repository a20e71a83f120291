"""``start`` (serve an app directory like ``func start``) and ``delete-task-hub`` / ``delete-hub``.

Configuration and app-loading errors print one clear line and exit with status 2.

``start`` runs a small supervisor that owns the listening socket and runs the host in a child
process, which it replaces when a function timeout recycles it (``durable_ext.supervisor``);
``--no-supervisor`` runs the host in this process instead (a recycle then just ends it with status 3).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from functools import partial
from pathlib import Path
from typing import NoReturn

import click

from durable_ext.cli.hub import CliUsageError, HubTarget, app_dir_option, hub_options, open_config, run_on_hub
from durable_ext.cli.output import progress
from durable_ext.client import DurableClient
from durable_ext.config import HostConfig
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
@click.option(
    "--no-supervisor", is_flag=True, help="Run the host in this process (no recycling after a function timeout)."
)
# The supervisor hands its listening socket to the host process it starts.
@click.option("--listen-fd", type=int, default=None, hidden=True)
def start(
    app_dir: Path,
    port: int | None,
    host: str | None,
    auth: str | None,
    verbose: bool,
    log_format: str | None,
    no_supervisor: bool,
    listen_fd: int | None,
) -> int:
    """Serve a function app directory (like `func start`)."""
    from durable_ext.config import HOST_JSON, load_config
    from durable_ext.log import FORMAT_SETTING, configure_console, parse_format

    level = logging.DEBUG if verbose else logging.INFO
    try:
        chosen = log_format or parse_format(os.environ.get(FORMAT_SETTING))
    except ValueError as exc:
        raise CliUsageError(str(exc)) from None
    configure_console(level, log_format=chosen)
    app_dir = app_dir.resolve()
    try:
        if not (app_dir / HOST_JSON).is_file():
            # As `func start`: a directory without host.json is not a function app's root.
            raise CliUsageError(f"Unable to find project root. Expecting to find {HOST_JSON} in {app_dir}.")
        config = load_config(app_dir, port=port, host=host)
        if log_format is None and FORMAT_SETTING not in os.environ and FORMAT_SETTING in config.values:
            # Set in local.settings.json Values: known only now.
            try:
                chosen = parse_format(config.values[FORMAT_SETTING], f"local.settings.json Values.{FORMAT_SETTING}")
            except ValueError as exc:
                raise CliUsageError(str(exc)) from None
            configure_console(level, log_format=chosen)
        from durable_ext.supervisor import Supervisor, cpu_plan, listen

        if listen_fd is not None or no_supervisor:
            # Bound here, as the supervisor binds: a port in use or an address this machine does
            # not have is then one clear line (status 2), not a traceback from the running host.
            own = listen(config.host, config.port) if listen_fd is None else None
            _run_host(config, auth, listen_fd, own)

        sock = listen(config.host, config.port)
    except DurableExtError as exc:
        raise CliUsageError(str(exc)) from None
    host_args = ["--app-dir", str(app_dir), "--port", str(config.port), "--host", config.host, "--log-format", chosen]
    if auth:
        host_args += ["--auth", auth]
    if verbose:
        host_args.append("--verbose")
    processes = config.worker_processes
    return Supervisor(host_args, sock, processes=processes, cpus=cpu_plan(processes, config.pin_processes)).run()


def _run_host(config: HostConfig, auth: str | None, listen_fd: int | None, sock: socket.socket | None) -> NoReturn:
    """Serve in this process (on ``sock``, or on the supervisor's ``listen_fd``) and end it with
    ``os._exit``: threads stuck in user code must not hold up the exit (a normal exit joins the
    thread pool)."""
    from durable_ext.auth import AuthMode
    from durable_ext.eventloop import new_event_loop
    from durable_ext.host import Host
    from durable_ext.log import flush_console
    from durable_ext.supervisor import die_with_supervisor, pin_to_host_cpu

    if sock is not None:
        sock.set_inheritable(False)
    if listen_fd is not None:
        die_with_supervisor()
        pin_to_host_cpu()
        sock = socket.socket(fileno=listen_fd)
    try:
        with asyncio.Runner(loop_factory=partial(new_event_loop, config.idle_spin)) as runner:
            code = runner.run(Host(config, auth_mode=AuthMode(auth) if auth else None, listen_socket=sock).run())
    except DurableExtError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        code = 2
    except KeyboardInterrupt:
        code = 130
    flush_console()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


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
