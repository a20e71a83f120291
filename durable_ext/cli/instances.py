"""``func durable``'s orchestration verbs, working on the task hub directly.

Names and flags follow Azure Functions Core Tools (``start-new --function-name --input --id``,
``get-instances --created-after --created-before --runtime-status --top --continuation-token``,
``purge-history``, ``raise-event --event-name --event-data``, ``terminate/rewind --reason`` …);
``suspend``, ``resume`` and ``restart`` are ours, with the same flag style. Inputs given as
``@path`` are read from that JSON file, as with ``func durable``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from durable_ext.cli.hub import CliError, CliUsageError, HubTarget, hub_options, run_on_hub
from durable_ext.cli.output import (
    fields_table,
    history_events,
    history_table,
    instances_table,
    json_option,
    print_json,
    progress,
    status_payload,
    status_text,
    stdout,
)
from durable_ext.client import DurableClient, NotFoundError
from durable_ext.core.messages import InstanceQuery, InstanceState
from durable_ext.core.status import RuntimeStatus
from durable_ext.core.wire import format_datetime_seconds

#: Instances purged at once on Azure Storage (each is several table/blob calls); SQLite serialises anyway.
PURGE_CONCURRENCY = 16
_ID_PAGE = 1000
#: func durable's documented "mm/dd/yyyy HH:mm" (and a date alone); ISO 8601 is tried first.
_FUNC_DATE_LAYOUTS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y")


# -- argument types ----------------------------------------------------------------------------


class UtcDateTime(click.ParamType):
    """ISO 8601 or ``mm/dd/yyyy HH:mm`` (func durable's format); UTC unless an offset is given."""

    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        parsed = None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            for layout in _FUNC_DATE_LAYOUTS:
                try:
                    parsed = datetime.strptime(text, layout)
                    break
                except ValueError:
                    continue
        if parsed is None:
            self.fail(f"'{value}' is not a date and time (use ISO 8601, e.g. 2026-11-30T14:00:00Z).", param, ctx)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_statuses(values: tuple[str, ...]) -> frozenset[RuntimeStatus] | None:
    """``--runtime-status running completed`` or repeated/comma-separated; None when not given."""
    names = [part for value in values for part in value.replace(",", " ").split() if part]
    if not names:
        return None
    try:
        return frozenset(RuntimeStatus.parse(name) for name in names)
    except ValueError as exc:
        raise CliUsageError(f"--runtime-status: {exc}") from None


def json_text(value: str | None, flag: str) -> str | None:
    """A JSON payload flag: ``@file.json`` is read; text that is not JSON is taken as a JSON string."""
    if value is None:
        return None
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise CliUsageError(f"{flag}: cannot read {path}: {exc.strerror}") from None
        try:
            return json.dumps(json.loads(text))
        except ValueError as exc:
            raise CliUsageError(f"{flag}: {path} is not valid JSON: {exc}") from None
    try:
        return json.dumps(json.loads(value))
    except ValueError:
        return json.dumps(value)


def encode_token(token: str | None) -> str | None:
    """Provider tokens are opaque; base64url keeps them shell-safe."""
    return base64.urlsafe_b64encode(token.encode("utf-8")).decode("ascii") if token else None


def decode_token(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return base64.urlsafe_b64decode(text.encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise CliUsageError("--continuation-token is not a token this command printed.") from None


def id_option(fn):
    return click.option("--id", "instance_id", required=True, help="Orchestration instance ID.")(fn)


def reason_option(default: str | None):
    return click.option("--reason", default=default, show_default=default is not None, help="Reason recorded.")


def query_options(fn):
    fn = click.option(
        "--runtime-status",
        multiple=True,
        help="Only these statuses (space- or comma-separated, or repeat the flag): running, completed, …",
    )(fn)
    fn = click.option("--created-before", type=UtcDateTime(), default=None, help="Created before (UTC).")(fn)
    fn = click.option("--created-after", type=UtcDateTime(), default=None, help="Created after (UTC).")(fn)
    return fn


# -- verbs -------------------------------------------------------------------------------------


@hub_options
@click.option("--function-name", required=True, help="Orchestrator function to start.")
@click.option("--input", "input_value", default=None, help="Input: JSON inline, or @path/to/file.json.")
@click.option("--id", "--instance", "instance_id", default=None, help="Instance ID (default: a new GUID).")
@click.option("--version", default=None, help="Orchestration version (default: host.json defaultVersion).")
@json_option
def start_new(
    target: HubTarget,
    function_name: str,
    input_value: str | None,
    instance_id: str | None,
    version: str | None,
    as_json: bool,
) -> None:
    """Start a new instance of an orchestrator function."""
    input_text = json_text(input_value, "--input")
    new_id = run_on_hub(
        target, lambda client: client.start_new(function_name, instance_id, input_text, version=version), create=True
    )
    if as_json:
        print_json({"id": new_id, "name": function_name})
    else:
        click.echo(f"Started '{function_name}' (instance ID = {new_id}).")


@hub_options
@id_option
@click.option("--show-input", type=click.BOOL, default=True, show_default=True, help="Include the input.")
@click.option("--show-output", type=click.BOOL, default=True, show_default=True, help="Include the output.")
@json_option
def get_runtime_status(target: HubTarget, instance_id: str, show_input: bool, show_output: bool, as_json: bool) -> None:
    """Show the status of an orchestration instance."""
    state = run_on_hub(target, lambda client: _existing(client, instance_id))
    body = status_payload(state, show_input=show_input)
    if not show_output:
        body.pop("output", None)
    if as_json:
        print_json(body)
        return
    rows: list[tuple[str, Any]] = [
        ("Instance ID", state.instance_id),
        ("Name", state.name),
        ("Status", status_text(state.runtime_status)),
        ("Created", format_datetime_seconds(state.created_time)),
        ("Last updated", format_datetime_seconds(state.last_updated_time)),
    ]
    if show_input:
        rows.append(("Input", body["input"]))
    if show_output:
        rows.append(("Output", body["output"]))
    rows.append(("Custom status", body["customStatus"]))
    stdout().print(fields_table(rows))


@hub_options
@id_option
@json_option
def get_history(target: HubTarget, instance_id: str, as_json: bool) -> None:
    """Show the history of an orchestration instance (its current execution)."""

    async def read(client: DurableClient) -> list[dict[str, Any]]:
        await _existing(client, instance_id)
        return history_events(await client.get_history(instance_id))

    rows = run_on_hub(target, read)
    if as_json:
        print_json(rows)
    elif not rows:
        click.echo(f"No history yet: instance {instance_id} has not started running.")
    else:
        stdout().print(history_table(rows))


@hub_options
@query_options
@click.option("--instance-id-prefix", default=None, help="Only IDs starting with this text.")
@click.option("--top", type=click.IntRange(1, 10_000), default=10, show_default=True, help="Instances per page.")
@click.option("--continuation-token", default=None, help="Page to show (printed under the previous page).")
@click.option("--all", "all_pages", is_flag=True, help="Every page, not just one.")
@json_option
def get_instances(
    target: HubTarget,
    created_after: datetime | None,
    created_before: datetime | None,
    runtime_status: tuple[str, ...],
    instance_id_prefix: str | None,
    top: int,
    continuation_token: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """List orchestration instances, one page (--top) at a time."""
    query = InstanceQuery(
        created_from=created_after,
        created_to=created_before,
        statuses=parse_statuses(runtime_status),
        instance_id_prefix=instance_id_prefix or None,
        page_size=top,
        continuation_token=decode_token(continuation_token),
        include_input=as_json,
    )

    async def read(client: DurableClient) -> tuple[list[InstanceState], str | None]:
        found: list[InstanceState] = []
        page_query = query
        while True:
            page = await client.query(page_query)
            found.extend(page.instances)
            if not all_pages or not page.continuation_token:
                return found, page.continuation_token
            page_query = replace(page_query, continuation_token=page.continuation_token)

    states, token = run_on_hub(target, read)
    next_token = encode_token(token)
    if as_json:
        print_json({"instances": [status_payload(s) for s in states], "continuationToken": next_token})
        return
    console = stdout()
    if not states:
        console.print("No instances found.")
    else:
        console.print(instances_table(states))
    if next_token:
        console.print(f"More instances: --continuation-token {next_token}", soft_wrap=True)


@hub_options
@id_option
@click.option("--event-name", required=True, help="Name of the event to raise.")
@click.option("--event-data", default=None, help="Event data: JSON inline, or @path/to/file.json.")
@json_option
def raise_event(target: HubTarget, instance_id: str, event_name: str, event_data: str | None, as_json: bool) -> None:
    """Raise an event to an orchestration instance."""
    data = json_text(event_data, "--event-data")
    run_on_hub(target, lambda client: client.raise_event(instance_id, event_name, data))
    _accepted(as_json, instance_id, "raise-event", f"Raised event '{event_name}' to instance {instance_id}.")


def _lifecycle(action: str, verb: str, default_reason: str | None, summary: str):
    @hub_options
    @id_option
    @reason_option(default_reason)
    @json_option
    def command(target: HubTarget, instance_id: str, reason: str | None, as_json: bool) -> None:
        run_on_hub(target, lambda client: getattr(client, action)(instance_id, reason))
        _accepted(as_json, instance_id, verb, f"{summary} request sent to instance {instance_id}.")

    return click.command(verb, help=f"{summary} an orchestration instance.")(command)


@hub_options
@id_option
@click.option("--new-instance-id/--same-instance-id", default=True, help="Restart under a new ID (default) or the same.")
@json_option
def restart(target: HubTarget, instance_id: str, new_instance_id: bool, as_json: bool) -> None:
    """Start an instance's orchestrator again with its original input."""
    new_id = run_on_hub(target, lambda client: client.restart(instance_id, new_instance_id=new_instance_id))
    if as_json:
        print_json({"id": new_id, "restartedFrom": instance_id})
    else:
        click.echo(f"Restarted {instance_id} as instance {new_id}.")


@hub_options
@query_options
@click.option("--id", "instance_id", default=None, help="Purge just this instance.")
@json_option
def purge_history(
    target: HubTarget,
    created_after: datetime | None,
    created_before: datetime | None,
    runtime_status: tuple[str, ...],
    instance_id: str | None,
    as_json: bool,
) -> None:
    """Delete the state and history of instances (all matching ones, whatever their status, by default)."""
    statuses = parse_statuses(runtime_status)
    query = InstanceQuery(
        created_from=created_after, created_to=created_before, statuses=statuses, page_size=_ID_PAGE, include_input=False
    )

    async def purge(client: DurableClient) -> int:
        if instance_id is not None:
            return await client.purge(instance_id)
        ids = await _matching_ids(client, query)
        if not ids:
            return 0
        limit = asyncio.Semaphore(PURGE_CONCURRENCY)
        with progress("Purging instances", len(ids)) as advance:

            async def one(target_id: str) -> int:
                async with limit:
                    deleted = await client.purge(target_id)
                advance()
                return deleted

            return sum(await asyncio.gather(*(one(i) for i in ids)))

    deleted = run_on_hub(target, purge)
    if as_json:
        print_json({"instancesDeleted": deleted})
    else:
        click.echo(f"Purged {deleted} instance{'s' if deleted != 1 else ''}.")
    if instance_id is not None and not deleted:
        raise CliError(f"No instance with ID '{instance_id}' was found.")


# -- helpers -----------------------------------------------------------------------------------


async def _existing(client: DurableClient, instance_id: str) -> InstanceState:
    state = await client.get_status(instance_id)
    if state is None:
        raise NotFoundError(f"No instance with ID '{instance_id}' was found.")
    return state


async def _matching_ids(client: DurableClient, query: InstanceQuery) -> list[str]:
    """Every matching id, read before any is deleted so paging never skips one."""
    ids: list[str] = []
    with progress("Finding instances", None, transient=True) as advance:
        while True:
            page = await client.query(query)
            ids.extend(s.instance_id for s in page.instances)
            advance(len(page.instances))
            if not page.continuation_token:
                return ids
            query = replace(query, continuation_token=page.continuation_token)


def _accepted(as_json: bool, instance_id: str, action: str, message: str) -> None:
    if as_json:
        print_json({"instanceId": instance_id, "action": action, "accepted": True})
    else:
        click.echo(message)


def register(group: click.Group) -> None:
    group.add_command(click.command("start-new")(start_new))
    group.add_command(click.command("get-runtime-status")(get_runtime_status))
    group.add_command(click.command("get-history")(get_history))
    group.add_command(click.command("get-instances")(get_instances))
    group.add_command(click.command("raise-event")(raise_event))
    group.add_command(_lifecycle("terminate", "terminate", "Instance termination.", "Terminate"))
    group.add_command(_lifecycle("suspend", "suspend", None, "Suspend"))
    group.add_command(_lifecycle("resume", "resume", None, "Resume"))
    group.add_command(_lifecycle("rewind", "rewind", None, "Rewind"))
    group.add_command(click.command("restart")(restart))
    group.add_command(click.command("purge-history")(purge_history))
