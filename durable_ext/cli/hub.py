"""Opening the app's task hub for a CLI verb, and turning failures into one line.

A verb gets a :class:`~durable_ext.client.DurableClient` over the provider the host itself would
build (``providers.factory.create_provider`` from the same ``HostConfig``), so every write a verb
makes goes through storage exactly as the host's client API writes it and a running host picks it
up on its next poll. ``--task-hub-name`` and ``--connection-string-setting`` override host.json the
way ``func durable`` lets them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import click

from durable_ext.client import ClientError, DurableClient, GoneError, NotFoundError
from durable_ext.config import HostConfig, StorageKind, load_config, validate_hub_name
from durable_ext.core.clock import SystemClock
from durable_ext.errors import ConfigError, DurableExtError
from durable_ext.providers.factory import create_provider

T = TypeVar("T")

#: Exit status when the hub refused the request (unknown instance, wrong state, storage error).
EXIT_REFUSED = 1
#: Exit status for bad configuration or arguments (click's usage errors use it too).
EXIT_CONFIG = 2
DEBUG_ENV = "DURABLE_EXT_DEBUG"


class CliError(click.ClickException):
    """One line on stderr, ``error: …``, and exit status 1: the hub refused the request."""

    exit_code = EXIT_REFUSED

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class CliUsageError(CliError):
    """Bad configuration or arguments: exit status 2."""

    exit_code = EXIT_CONFIG


@dataclass(frozen=True, slots=True)
class HubTarget:
    """Which hub a verb works on: ``--app-dir`` plus the ``func durable`` overrides."""

    app_dir: Path
    task_hub_name: str | None = None
    connection_setting: str | None = None

    def config(self) -> HostConfig:
        """The app's HostConfig with the overrides applied; raises ConfigError naming the flag."""
        config = load_config(self.app_dir)
        if self.task_hub_name:
            config = replace(config, hub_name=validate_hub_name(self.task_hub_name, "given with --task-hub-name"))
        if self.connection_setting:
            config = _with_connection(config, self.connection_setting)
        return config


def _with_connection(config: HostConfig, setting: str) -> HostConfig:
    """``func durable`` always talks to Azure Storage: naming a connection setting selects it."""
    value = os.environ.get(setting, config.values.get(setting))
    if value is None:
        raise ConfigError(
            f"--connection-string-setting names app setting '{setting}', which is set neither in the "
            "environment nor in local.settings.json Values."
        )
    storage = replace(config.storage, kind=StorageKind.AZURE_STORAGE, connection_name=setting, connection_string=value)
    return replace(config, storage=storage)


def app_dir_option(help: str = "Directory with function_app.py, host.json and local.settings.json.") -> Any:
    """``--app-dir`` (default: the current directory), passed as ``app_dir: Path``; every verb's."""
    return click.option(
        "--app-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=".",
        show_default=True,
        help=help,
    )


def hub_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--app-dir``, ``--task-hub-name``, ``--connection-string-setting``; passes ``target: HubTarget``."""

    @app_dir_option(help="Function app directory (its host.json and local.settings.json name the hub).")
    @click.option("--task-hub-name", default=None, help="Task hub to use instead of host.json's hubName.")
    @click.option(
        "--connection-string-setting",
        default=None,
        help="App setting holding an Azure Storage connection string (selects Azure Storage).",
    )
    @functools.wraps(fn)
    def wrapper(*args: Any, app_dir: Path, task_hub_name: str | None, connection_string_setting: str | None, **kw):
        target = HubTarget(app_dir, task_hub_name, connection_string_setting)
        return fn(*args, target=target, **kw)

    return wrapper


def run_on_hub(
    target: HubTarget,
    work: Callable[[DurableClient], Awaitable[T]],
    *,
    create: bool = False,
) -> T:
    """Open the hub, run ``work(client)`` on a fresh event loop, close the hub; map errors to CliError.

    ``create``: create the hub's storage first (``start-new`` queues work for a host not started yet);
    otherwise a SQLite hub file that does not exist is an error instead of a new empty file.
    """
    _quiet_runtime_log()
    try:
        config = target.config()
    except ConfigError as exc:
        raise CliUsageError(str(exc)) from None
    path = config.storage.sqlite_path if config.storage.kind is StorageKind.SQLITE else None
    if not create and path is not None and not path.exists():
        raise CliUsageError(f"No task hub file at {path} (start the app once, or check --app-dir).")

    async def run() -> T:
        provider = create_provider(config)
        try:
            if create:
                await provider.create_hub()
            return await work(DurableClient(provider, SystemClock(), default_version=config.default_version))
        finally:
            await provider.close()

    try:
        return asyncio.run(run())
    except (CliError, click.ClickException):
        raise
    except (NotFoundError, GoneError) as exc:
        raise CliError(str(exc)) from None
    except ClientError as exc:
        raise CliError(str(exc)) from None
    except ConfigError as exc:
        raise CliUsageError(str(exc)) from None
    except DurableExtError as exc:
        raise CliError(str(exc)) from None
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        raise CliError(_describe(exc, config)) from None


def open_config(target: HubTarget) -> HostConfig:
    try:
        return target.config()
    except ConfigError as exc:
        raise CliUsageError(str(exc)) from None


def _describe(exc: Exception, config: HostConfig) -> str:
    """A storage SDK's exception as one line (set DURABLE_EXT_DEBUG=1 for the traceback)."""
    name = type(exc).__name__
    first = (str(exc).strip().splitlines() or [""])[0]
    if name == "ResourceNotFoundError":
        return f"Task hub '{config.hub_name}' was not found in Azure Storage ({first})."
    if name in ("ServiceRequestError", "ClientConnectorError"):
        return f"Cannot reach Azure Storage for task hub '{config.hub_name}': {first}"
    return f"{name}: {first}"


def _quiet_runtime_log() -> None:
    """Runtime warnings (storage retries) go to stderr, so ``--json`` output on stdout stays clean."""
    from durable_ext.log import logger

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    logging.getLogger("azure").setLevel(logging.ERROR)
