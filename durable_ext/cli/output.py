"""What verbs print: rich tables on a terminal, JSON with ``--json``, progress on stderr.

Results go to stdout (a table, a line, or JSON); progress and notes go to stderr, so
``durable-ext get-instances --json | jq`` sees only JSON. JSON shapes are the HTTP API's (the
status payload and ``historyEvents`` of ``web.status_payload``), so scripts can switch between
the two without translating.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from durable_ext.core.messages import InstanceState
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire import format_datetime_seconds
from durable_ext.web.status_payload import json_safe

_STATUS_STYLE = {
    RuntimeStatus.Running: "cyan",
    RuntimeStatus.Pending: "blue",
    RuntimeStatus.Completed: "green",
    RuntimeStatus.Failed: "red",
    RuntimeStatus.Terminated: "magenta",
    RuntimeStatus.Suspended: "yellow",
}
_CELL_LIMIT = 60


def json_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of a table.")(fn)


#: Width of tables written to a pipe or file: wide enough that ids and dates are never cut.
PIPE_WIDTH = 250


def stdout() -> Console:
    """Tables fit a terminal; written to a pipe they get their natural width (rich would use 80)."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=PIPE_WIDTH)
    return console


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    # As the HTTP API answers: NaN/Infinity as strings, never as bare (non-JSON) tokens.
    click.echo(json.dumps(json_safe(value), indent=2, ensure_ascii=False))


def status_text(status: RuntimeStatus) -> str:
    style = _STATUS_STYLE.get(status)
    return f"[{style}]{status.value}[/]" if style else status.value


def short(value: Any, limit: int = _CELL_LIMIT) -> str:
    """A payload for a table cell: JSON text, cut with an ellipsis."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def instances_table(states: Sequence[InstanceState], *, title: str | None = None) -> Table:
    table = Table(title=title, header_style="bold", expand=False)
    table.add_column("Instance ID", overflow="fold", min_width=12)
    table.add_column("Name", overflow="fold", min_width=8)
    table.add_column("Status", no_wrap=True)
    table.add_column("Created (UTC)", no_wrap=True)
    table.add_column("Last updated (UTC)", no_wrap=True)
    for state in states:
        table.add_row(
            _escape(state.instance_id),
            _escape(state.name),
            status_text(state.runtime_status),
            format_datetime_seconds(state.created_time),
            format_datetime_seconds(state.last_updated_time),
        )
    return table


def fields_table(rows: Iterable[tuple[str, Any]]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value if isinstance(value, str) else _escape(short(value, 400)))
    return table


def history_table(rows: Sequence[dict[str, Any]]) -> Table:
    table = Table(header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("Event")
    table.add_column("Name")
    table.add_column("Timestamp (UTC)", no_wrap=True)
    table.add_column("Details", overflow="fold")
    for index, row in enumerate(rows):
        name = row.get("FunctionName") or row.get("Name") or ""
        details = {k: v for k, v in row.items() if k not in ("EventType", "Timestamp", "FunctionName", "Name")}
        table.add_row(
            str(index), row.get("EventType", ""), _escape(str(name)), str(row.get("Timestamp", "")), _escape(short(details, 90))
        )
    return table


@contextmanager
def progress(description: str, total: int | None, *, transient: bool = False):
    """A progress bar on stderr (a spinner when ``total`` is None); yields ``advance(n=1)``.
    ``transient``: erase it when done (for a step that leads into another bar)."""
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns.append(TextColumn("{task.completed:.0f}"))
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=stderr(), transient=transient) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# The HTTP API's JSON shapes. Imported when used: ``durable_ext.web`` pulls in aiohttp, which
# would add most of a second to every command's start-up.


def status_payload(state: InstanceState, *, show_input: bool = True) -> dict[str, Any]:
    from durable_ext.web.status_payload import status_payload as payload

    return payload(state, show_input=show_input)


def history_events(events: Sequence[Any]) -> list[dict[str, Any]]:
    from durable_ext.web.status_payload import history_events as rows

    return rows(events, show_input=True, show_output=True)


def parse_token(text: str | None) -> Any:
    from durable_ext.web.status_payload import parse_token as parse

    return parse(text)
