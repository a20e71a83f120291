"""Entity verbs: ``list-entities``, ``get-entity``, ``signal-entity``.

An entity is addressed by ``--entity-name`` and ``--entity-key`` (or ``--id @name@key``). Signals
are written to the hub as the client API writes them, so a host running on the hub processes them.
"""

from __future__ import annotations

import click

from durable_ext.cli.hub import CliError, CliUsageError, HubTarget, hub_options, run_on_hub
from durable_ext.cli.instances import decode_token, encode_token, json_text
from durable_ext.cli.output import json_option, parse_token, print_json, short, stdout
from durable_ext.client import DurableClient
from durable_ext.core.entities import parse_entity_id
from durable_ext.core.messages import InstanceQuery, InstanceState
from durable_ext.core.wire import format_datetime_seconds


def entity_options(fn):
    fn = click.option("--id", "entity_id", default=None, help="Entity instance ID, @name@key.")(fn)
    fn = click.option("--entity-key", default=None, help="Entity key.")(fn)
    fn = click.option("--entity-name", default=None, help="Entity name.")(fn)
    return fn


def _address(entity_name: str | None, entity_key: str | None, entity_id: str | None) -> tuple[str, str]:
    if entity_id:
        parsed = parse_entity_id(entity_id)
        if parsed is None:
            raise CliUsageError(f"--id '{entity_id}' is not an entity ID (@name@key).")
        return parsed
    if not entity_name or entity_key is None:
        raise CliUsageError("Name the entity with --entity-name and --entity-key (or --id @name@key).")
    return entity_name, entity_key


def _item(state: InstanceState, with_state: bool) -> dict:
    name, key = parse_entity_id(state.instance_id) or (state.instance_id, "")
    item = {"entityId": {"name": name, "key": key}, "lastOperationTime": format_datetime_seconds(state.last_updated_time)}
    if with_state:
        item["state"] = parse_token(state.input)
    return item


@hub_options
@click.option("--entity-name", default=None, help="Only entities of this name.")
@click.option("--top", type=click.IntRange(1, 10_000), default=100, show_default=True, help="Entities per page.")
@click.option("--continuation-token", default=None, help="Page to show (printed under the previous page).")
@click.option("--show-state", type=click.BOOL, default=True, show_default=True, help="Include each entity's state.")
@json_option
def list_entities(
    target: HubTarget, entity_name: str | None, top: int, continuation_token: str | None, show_state: bool, as_json: bool
) -> None:
    """List the hub's entities, one page (--top) at a time."""
    query = InstanceQuery(page_size=top, continuation_token=decode_token(continuation_token))
    page = run_on_hub(target, lambda client: client.query_entities(entity_name, query))
    items = [_item(s, show_state) for s in page.instances]
    token = encode_token(page.continuation_token)
    if as_json:
        print_json({"entities": items, "continuationToken": token})
        return
    from rich.table import Table

    console = stdout()
    if not items:
        console.print("No entities found.")
    else:
        table = Table(header_style="bold")
        for column in ("Name", "Key", "Last operation (UTC)") + (("State",) if show_state else ()):
            table.add_column(column, overflow="fold")
        for item in items:
            row = [item["entityId"]["name"], item["entityId"]["key"], item["lastOperationTime"]]
            if show_state:
                row.append(short(item["state"]))
            table.add_row(*row)
        console.print(table)
    if token:
        console.print(f"More entities: --continuation-token {token}", soft_wrap=True)


@hub_options
@entity_options
@json_option
def get_entity(
    target: HubTarget, entity_name: str | None, entity_key: str | None, entity_id: str | None, as_json: bool
) -> None:
    """Show an entity's state."""
    name, key = _address(entity_name, entity_key, entity_id)
    state = run_on_hub(target, lambda client: client.read_entity(name, key))
    if state is None:
        raise CliError(f"No entity @{name.lower()}@{key} was found.")
    value = parse_token(state.input)
    if as_json:
        print_json(_item(state, True))
    else:
        stdout().print_json(data=value) if value is not None else click.echo("null")


@hub_options
@entity_options
@click.option("--operation", required=True, help="Operation name.")
@click.option("--input", "input_value", default=None, help="Operation input: JSON inline, or @path/to/file.json.")
@json_option
def signal_entity(
    target: HubTarget,
    entity_name: str | None,
    entity_key: str | None,
    entity_id: str | None,
    operation: str,
    input_value: str | None,
    as_json: bool,
) -> None:
    """Send a one-way operation to an entity (created on first use)."""
    name, key = _address(entity_name, entity_key, entity_id)
    text = json_text(input_value, "--input")

    async def signal(client: DurableClient) -> None:
        await client.signal_entity(name, key, operation, text)

    run_on_hub(target, signal, create=True)
    if as_json:
        print_json({"entityId": {"name": name, "key": key}, "operation": operation, "accepted": True})
    else:
        click.echo(f"Signalled '{operation}' to entity @{name.lower()}@{key}.")


def register(group: click.Group) -> None:
    group.add_command(click.command("list-entities")(list_entities))
    group.add_command(click.command("get-entity")(get_entity))
    group.add_command(click.command("signal-entity")(signal_entity))
