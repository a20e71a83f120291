"""The ``durable-ext`` command (also ``python -m durable_ext``).

``start`` serves an app directory the way ``func start`` does; the other verbs are those of
``func durable`` (same names and flags where they exist) and work on a task hub directly, with or
without a host running on it. Every verb is a click command in one of the modules named in
``COMMAND_MODULES``; each module has ``register(group)``, so adding a verb is one function in one
module (plus its name here for a new module).

Errors print one line ``error: …`` on stderr and exit non-zero: 2 for configuration and usage
errors, 1 when the hub refused the request (unknown instance, wrong state, storage failure).
"""

from __future__ import annotations

import importlib
import sys

import click

from durable_ext import __version__

#: Modules whose ``register(group)`` adds their commands to the root group, in help order.
COMMAND_MODULES = (
    "durable_ext.cli.serve",
    "durable_ext.cli.instances",
    "durable_ext.cli.entities",
)


@click.group(
    name="durable-ext",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@click.version_option(__version__, prog_name="durable_ext")
def cli() -> None:
    """Run and operate Azure Durable Functions Python apps without the .NET host.

    `start` serves an app; the other commands are `func durable`'s, working on the app's task hub
    (read from --app-dir's host.json and local.settings.json) directly.
    """


def _register_all(group: click.Group) -> click.Group:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(group)
    return group


_register_all(cli)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script and of ``python -m durable_ext``; returns the exit status."""
    try:
        result = cli.main(args=argv, prog_name="durable-ext", standalone_mode=False)
    except click.exceptions.Abort:
        print("Aborted.", file=sys.stderr)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0
