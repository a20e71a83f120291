"""``init-worker``: prepare an app to run inside the Azure Functions Python worker (see durable_ext.worker)."""

from __future__ import annotations

from pathlib import Path

import click

from durable_ext.cli.hub import CliUsageError, app_dir_option
from durable_ext.errors import DurableExtError


@click.command("init-worker")
@app_dir_option()
@click.option("--requirement", default="durable_ext", show_default=True, help="The line added to requirements.txt.")
def init_worker(app_dir: Path, requirement: str) -> int:
    """Prepare an app for deployment as a function app (function_app.py is not touched)."""
    from durable_ext.worker.init import format_report
    from durable_ext.worker.init import init_worker as prepare

    try:
        result = prepare(app_dir, requirement)
    except DurableExtError as exc:
        raise CliUsageError(str(exc)) from None
    click.echo(format_report(result, app_dir.resolve()))
    return 0


def register(group: click.Group) -> None:
    group.add_command(init_worker)
