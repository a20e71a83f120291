"""Entity routes of the built-in HTTP API (EXT ``HttpApiHandler``).

* ``POST entities/{name}/{key}?op=X`` (body: JSON, or text when not JSON) and
  ``DELETE entities/{name}/{key}`` (operation ``delete``) → 202;
* ``GET entities/{name}/{key}`` → 200 with the entity's state as JSON, 404 if it does not exist;
* ``GET entities/{name}`` / ``GET entities`` → list with ``top``, the continuation header,
  ``fetchState`` and ``lastOperationTimeFrom``/``To``.

The key ``$`` stands for the empty key, as in the extension.
"""

from __future__ import annotations

import json

from aiohttp import web

from durable_ext.client import BadRequestError
from durable_ext.core.entities import parse_entity_id
from durable_ext.core.messages import InstanceQuery
from durable_ext.core.wire import format_datetime
from durable_ext.web.params import ensure_unicode, get_bool, get_date, get_page_size, query_of, read_body
from durable_ext.web.responses import argument_error, empty_response, json_response
from durable_ext.web.state import WebState
from durable_ext.web.status_payload import parse_token


def _key(raw: str) -> str:
    return "" if raw == "$" else raw


async def operation(request: web.Request, state: WebState, name: str, key: str) -> web.Response:
    query = query_of(request)
    op = "delete" if request.method == "DELETE" else query.get("op")
    if not op:
        return argument_error("The 'op' query parameter is required to signal an entity.")
    body = await read_body(request)
    input_text = None
    if body.strip():
        text = body.decode("utf-8-sig", errors="replace")
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            input_text = text
        else:
            ensure_unicode(value)
            # The request's input is the caller's JSON text: a JSON string body (what the SDK
            # client sends, df_dumps text encoded once more) is that text; other JSON as written.
            input_text = value if isinstance(value, str) else json.dumps(value)
    try:
        await state.client.signal_entity(name, _key(key), op, input_text, trace_carrier=request.headers)
    except BadRequestError as exc:
        return argument_error(str(exc))
    return empty_response(202)


async def read_entity(request: web.Request, state: WebState, name: str, key: str) -> web.Response:
    entity = await state.client.read_entity(name, _key(key))
    if entity is None:
        return empty_response(404)
    return json_response(parse_token(entity.input))


async def list_entities(
    request: web.Request,
    state: WebState,
    name: str | None,
    page_token: str | None,
    decode_token,
    encode_token,
    header: str,
) -> web.Response:
    query = query_of(request)
    fetch_state = get_bool(query, "fetchState", False)
    since, until = get_date(query, "lastOperationTimeFrom"), get_date(query, "lastOperationTimeTo")
    top = get_page_size(query, "top", 100)
    page = await state.client.query_entities(
        name, InstanceQuery(page_size=top, continuation_token=decode_token(page_token))
    )
    body = []
    for entity in page.instances:
        if since is not None and entity.last_updated_time < since:
            continue
        if until is not None and entity.last_updated_time > until:
            continue
        parsed = parse_entity_id(entity.instance_id)
        if parsed is None:
            continue
        item = {
            "entityId": {"name": parsed[0], "key": parsed[1]},
            "lastOperationTime": format_datetime(entity.last_updated_time),
        }
        if fetch_state:
            item["state"] = parse_token(entity.input)
        body.append(item)
    headers = {header: encode_token(page.continuation_token)} if page.continuation_token else None
    return json_response(body, 200, headers)
